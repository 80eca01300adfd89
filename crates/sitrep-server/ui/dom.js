// Small helpers to build the page from API data: elements with text (never HTML strings),
// times, severities, and the error banner.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) if (c) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function link(href, text) {
  return h('a', { href }, text);
}

/// Replaces the page's content.
export function show(...children) {
  const main = document.getElementById('main');
  main.replaceChildren();
  append(main, children);
  return main;
}

export function title(text, ...rest) {
  document.title = `${text} · sitrep`;
  return h('h1', {}, text, ...rest);
}

/// The API's error, in its own words, above the page.
export function showError(e) {
  const box = document.getElementById('error');
  if (!e) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const code = e.code ? h('code', {}, e.code) : null;
  box.replaceChildren(h('strong', {}, 'Error'), ' ', code, ' ', e.message || String(e));
  box.hidden = false;
}

const SEVERITY = { 1: 'critical', 2: 'major', 3: 'minor', 4: 'info' };
export function sevName(n) {
  return SEVERITY[n] || 'info';
}
export function sev(n) {
  return h('span', { class: `sev sev${n}` }, `${n} ${sevName(n)}`);
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || String(text).toLowerCase()}` }, text);
}

/// Milliseconds since the epoch as local date and time.
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

export function ago(ms) {
  if (!ms) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function short(id) {
  return String(id || '').slice(0, 8);
}

/// A table of `rows` with `cols`: [[header, row => cell], ...]; `empty` when there are none.
export function table(cols, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty || 'Nothing here.');
  return h(
    'div', { class: 'scroll' },
    h('table', {},
      h('thead', {}, h('tr', {}, cols.map(([name]) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, cols.map(([, cell]) => h('td', {}, cell(r)))))),
    ),
  );
}

/// A definition list of [term, value] pairs, skipping empty values.
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function pre(text) {
  return text ? h('pre', {}, text) : null;
}

/// What to stop when the page changes (an event stream).
let cleanup = null;
export function onLeave(fn) {
  cleanup = fn;
}
export function leave() {
  if (cleanup) cleanup();
  cleanup = null;
}
