// The Map: what discovery found, drawn as a graph (dependencies left to right, one column per
// depth, computed here: no library), each resource coloured by its most severe open issue. A
// click (or Enter) on a resource shows its SLXs, issues and connections; the same resources
// follow as a list for keyboard and screen-reader users.

import { get, qs } from './api.js';
import { h, svg, show, title, link, sev, badge, facts, table } from './dom.js';

const W = 190; // a node's width
const H = 44; // and height
const GAP_X = 70;
const GAP_Y = 14;
const PAD = 16;

export async function map(q) {
  const [m, open, slxs] = await Promise.all([get('/map'), get('/issues?limit=1000'), get('/slxs?limit=1000')]);
  const byKey = new Map(m.resources.map((r) => [r.key, r]));
  const nameOf = (k) => (byKey.get(k) ? byKey.get(k).name : k);
  const issuesOf = (r) => {
    const names = new Set([r.key, r.name, ...(r.aliases || [])]);
    return open.items.filter((i) => names.has(i.resource));
  };
  const info = new Map(m.resources.map((r) => {
    const mine = issuesOf(r);
    return [r.key, {
      r,
      issues: mine,
      sev: mine.length ? Math.min(...mine.map((i) => i.severity)) : 0,
      slxs: slxs.items.filter((s) => s.resource === r.name || (r.aliases || []).includes(s.resource)),
      out: m.edges.filter((e) => e.from === r.key),
      in: m.edges.filter((e) => e.to === r.key),
    }];
  }));

  if (!m.resources.length) {
    show(title('Map'), h('p', { class: 'empty' }, 'The Map is empty. Run ', h('code', {}, 'sitrep discover'),
      ' on the server to find what runs there and how it connects.'));
    return;
  }

  const detail = h('section', { id: 'map-detail', class: 'card map-detail', 'aria-live': 'polite', 'aria-label': 'The selected resource' });
  const nodes = new Map();
  const edgeEls = [];
  const select = (key, focus) => {
    const x = info.get(key);
    if (!x) return;
    for (const [k, g] of nodes) g.classList.toggle('sel', k === key);
    for (const [e, el] of edgeEls) el.classList.toggle('hl', e.from === key || e.to === key);
    detail.replaceChildren(...resourceDetail(x, nameOf, (k) => select(k, true)));
    history.replaceState(null, '', `#/map${qs({ r: x.r.name })}`);
    if (focus && nodes.get(key)) nodes.get(key).focus();
  };

  const drawing = graph(m, info, nodes, edgeEls, select);
  const rows = [...info.values()].sort((a, b) => (a.sev || 9) - (b.sev || 9) || a.r.kind.localeCompare(b.r.kind) || a.r.name.localeCompare(b.r.name));
  const withIssues = rows.filter((x) => x.issues.length).length;
  show(
    title('Map'),
    h('p', { class: 'muted' }, `${m.resources.length} resource(s), ${m.edges.length} edge(s); ${withIssues} with open issues. `,
      'Each resource points right to what it depends on, runs on or monitors; a resource with open issues is coloured by the most severe. ',
      'Select one to see its SLXs and issues.'),
    legend(),
    h('div', { class: 'graph-wrap' }, drawing),
    detail,
    h('h2', { id: 'map-list' }, 'Every resource'),
    h('ul', { class: 'map', 'aria-labelledby': 'map-list' }, rows.map(({ r, issues, sev: s, out, in: inc }) =>
      h('li', { class: `res ${issues.length ? `sev${s}` : 'ok'}` },
        h('div', { class: 'res-head' },
          h('strong', {}, r.name), ' ', badge(r.kind, 'kind'), ' ',
          issues.length ? link(`#/issues${qs({ resource: r.name })}`, `${issues.length} open issue(s)`) : h('span', { class: 'muted' }, 'no open issue')),
        out.length ? h('ul', { class: 'edges' }, out.map((e) => h('li', {}, `${e.kind} → ${nameOf(e.to)}`))) : null,
        inc.length ? h('ul', { class: 'edges muted' }, inc.map((e) => h('li', {}, `${nameOf(e.from)} ${e.kind} this`))) : null))),
  );
  const wanted = q && q.get('r');
  const first = rows.find((x) => x.r.name === wanted || x.r.key === wanted) || rows.find((x) => x.issues.length);
  if (first) select(first.r.key, false);
  else detail.replaceChildren(h('p', { class: 'muted' }, 'Select a resource in the drawing to see its SLXs, issues and connections.'));
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend', 'aria-label': 'Legend' },
    item('sev1', 'critical'), item('sev2', 'major'), item('sev3', 'minor'), item('sev4', 'info'), item('ok', 'no open issue'),
    h('li', {}, h('span', { class: 'line k-depends-on', 'aria-hidden': 'true' }), 'depends on'),
    h('li', {}, h('span', { class: 'line k-monitors', 'aria-hidden': 'true' }), 'monitors'),
    h('li', {}, h('span', { class: 'line k-runs-on', 'aria-hidden': 'true' }), 'runs on, part of, other'));
}

/// The SVG: columns by depth, rows ordered to keep edges short.
function graph(m, info, nodes, edgeEls, select) {
  // Monitoring is drawn but does not place: a monitor would otherwise stand left of everything.
  const placing = m.edges.filter((e) => info.has(e.from) && info.has(e.to) && e.from !== e.to && e.kind !== 'monitors');
  const { col, order } = layout(m.resources.map((r) => r.key), placing);
  const tallest = Math.max(...order.map((c) => c.length));
  const pos = new Map();
  order.forEach((keys, c) => {
    const top = PAD + ((tallest - keys.length) * (H + GAP_Y)) / 2;
    keys.forEach((k, i) => pos.set(k, { x: PAD + c * (W + GAP_X), y: top + i * (H + GAP_Y) }));
  });
  const width = PAD * 2 + order.length * W + (order.length - 1) * GAP_X;
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y;
  const root = svg('svg', {
    class: 'graph', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group',
    'aria-label': `The Map as a graph: ${m.resources.length} resources in ${order.length} columns`,
  });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));
  const edges = svg('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const e of m.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b || e.from === e.to) continue;
    let d;
    const back = col.get(e.to) <= col.get(e.from);
    if (!back) {
      const x1 = a.x + W; const y1 = a.y + H / 2; const x2 = b.x; const y2 = b.y + H / 2; const dx = (x2 - x1) / 2;
      d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
    } else {
      // Same column or backwards (a cycle): a loop on the right.
      const x1 = a.x + W; const y1 = a.y + H / 2; const x2 = b.x + W; const y2 = b.y + H / 2;
      const out = Math.max(x1, x2) + GAP_X * 0.6;
      d = `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2},${y2}`;
    }
    const kind = ['depends-on', 'monitors'].includes(e.kind) ? e.kind : 'runs-on';
    const p = svg('path', { d, class: `edge k-${kind}${back ? ' back' : ''}`, 'marker-end': 'url(#arrow)' }, svg('title', {}, `${info.get(e.from).r.name} ${e.kind} ${info.get(e.to).r.name}`));
    edgeEls.push([e, p]);
    edges.append(p);
  }
  root.append(edges);
  for (const [key, x] of info) {
    const p = pos.get(key);
    const label = `${x.r.name}, ${x.r.kind}, ${x.issues.length ? `${x.issues.length} open issue(s)` : 'no open issue'}`;
    const g = svg('g', {
      class: `node ${x.issues.length ? `sev${x.sev}` : 'ok'}`, transform: `translate(${p.x},${p.y})`,
      tabindex: 0, role: 'button', 'aria-label': label, 'data-resource': x.r.name,
    },
    svg('title', {}, label),
    svg('rect', { width: W, height: H, rx: 7 }),
    svg('text', { x: 10, y: 18, class: 'n-name' }, clip(x.r.name, 22)),
    svg('text', { x: 10, y: 35, class: 'n-kind' }, clip(`${x.r.kind}${x.issues.length ? ` · ${x.issues.length} issue(s)` : ''}`, 30)));
    g.addEventListener('click', () => select(key, false));
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        select(key, false);
      }
    });
    nodes.set(key, g);
    root.append(g);
  }
  return root;
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/// A deterministic layered layout: edges that close a cycle are set aside (depth-first, in key
/// order); each resource's column is its longest path from a resource nothing points at, and a
/// resource nothing points at moves right, next to the nearest thing it points at; within a
/// column, resources are ordered by the mean row of their neighbours (a few sweeps each way).
export function layout(keys, edges) {
  const sorted = [...keys].sort();
  const succ = new Map(sorted.map((k) => [k, []]));
  for (const e of edges) succ.get(e.from).push(e.to);
  for (const l of succ.values()) l.sort();
  // Drop the edges back to a resource still being visited.
  const state = new Map();
  const dag = new Map(sorted.map((k) => [k, []]));
  const post = [];
  const visit = (k) => {
    state.set(k, 1);
    for (const t of succ.get(k)) {
      if (state.get(t) === 1) continue;
      if (!dag.get(k).includes(t)) dag.get(k).push(t);
      if (!state.get(t)) visit(t);
    }
    state.set(k, 2);
    post.push(k);
  };
  for (const k of sorted) if (!state.get(k)) visit(k);
  const topo = post.reverse();
  const pred = new Map(sorted.map((k) => [k, []]));
  for (const [k, ts] of dag) for (const t of ts) pred.get(t).push(k);
  const col = new Map(sorted.map((k) => [k, 0]));
  for (const k of topo) for (const t of dag.get(k)) col.set(t, Math.max(col.get(t), col.get(k) + 1));
  for (const k of topo) {
    if (!pred.get(k).length && dag.get(k).length) col.set(k, Math.min(...dag.get(k).map((t) => col.get(t))) - 1);
  }
  const min = Math.min(...col.values());
  for (const k of sorted) col.set(k, col.get(k) - min);
  const columns = Math.max(...col.values()) + 1;
  const order = Array.from({ length: columns }, () => []);
  for (const k of sorted) order[col.get(k)].push(k);
  const row = new Map();
  const index = () => order.forEach((ks) => ks.forEach((k, i) => row.set(k, (i + 0.5) / ks.length)));
  index();
  const sweep = (cols, nbrs) => {
    for (const c of cols) {
      const bary = new Map(order[c].map((k) => {
        const ns = nbrs.get(k).filter((n) => col.get(n) !== c);
        return [k, ns.length ? ns.reduce((s, n) => s + row.get(n), 0) / ns.length : row.get(k)];
      }));
      order[c].sort((a, b) => bary.get(a) - bary.get(b) || row.get(a) - row.get(b));
      order[c].forEach((k, i) => row.set(k, (i + 0.5) / order[c].length));
    }
  };
  const all = [...Array(columns).keys()];
  for (let i = 0; i < 4; i++) {
    sweep(all.slice(1), pred);
    sweep(all.slice(0, -1).reverse(), dag);
  }
  return { col, order };
}

function resourceDetail(x, nameOf, pick) {
  const { r } = x;
  const to = (k, text) => h('button', { type: 'button', class: 'link', onclick: () => pick(k) }, text);
  return [
    h('h2', {}, r.name, ' ', badge(r.kind, 'kind')),
    facts([
      ['Key', h('code', {}, r.key)],
      ['Also known as', (r.aliases || []).join(', ')],
      ['Labels', Object.entries(r.labels || {}).map(([k, v]) => `${k}=${v}`).join(' ')],
      ['Found by', (r.sources || []).join(', ')],
    ]),
    h('h3', {}, `Open issues (${x.issues.length})`),
    x.issues.length ? h('ul', { class: 'plain' }, x.issues.map((i) => h('li', {}, sev(i.severity), ' ', link(`#/issues/${i.id}`, i.title))))
      : h('p', { class: 'muted' }, 'No open issue: its checks pass.'),
    h('h3', {}, `SLXs (${x.slxs.length})`),
    table([
      ['SLX', (s) => link(`#/slxs/${encodeURIComponent(s.name)}`, h('code', { class: 'nowrap' }, s.name))],
      ['Bundle', (s) => h('code', { class: 'nowrap' }, s.bundle)],
      ['Checks', (s) => s.description],
    ], x.slxs, 'No SLX watches it.'),
    x.out.length || x.in.length ? h('h3', {}, 'Connections') : null,
    x.out.length ? h('ul', { class: 'edges' }, x.out.map((e) => h('li', {}, `${e.kind} `, to(e.to, nameOf(e.to))))) : null,
    x.in.length ? h('ul', { class: 'edges' }, x.in.map((e) => h('li', {}, to(e.from, nameOf(e.from)), ` ${e.kind} this`))) : null,
  ];
}
