// Overview, Issues, Tasks and the Map: each renders what one or two API calls answer.

import { get, post, qs, enc, can } from './api.js';
import { h, show, title, link, sev, sevName, badge, when, ago, short, table, facts, pre, showError } from './dom.js';

export async function overview() {
  const [issues, recent, running, pending] = await Promise.all([
    get('/issues?limit=5'),
    get('/sessions?limit=5'),
    get('/sessions?status=running&limit=20'),
    get('/approvals?status=pending&limit=20'),
  ]);
  const bySev = [1, 2, 3, 4].map((n) => [n, issues.by_severity[n] || 0]);
  show(
    title('Overview'),
    h('div', { class: 'cards' },
      h('section', { class: 'card', 'aria-labelledby': 'ov-issues' },
        h('h2', { id: 'ov-issues' }, link('#/issues', `Open issues: ${issues.total}`)),
        h('ul', { class: 'counts' }, bySev.map(([n, c]) =>
          h('li', { class: c ? `sev${n}` : 'zero' }, h('span', { class: 'num' }, c), ' ', sevName(n)))),
        issues.items.length ? h('ul', { class: 'plain' }, issues.items.slice(0, 5).map((i) =>
          h('li', {}, sev(i.severity), ' ', link(`#/issues/${i.id}`, i.title)))) : h('p', { class: 'muted' }, 'No open issues.')),
      h('section', { class: 'card', 'aria-labelledby': 'ov-sessions' },
        h('h2', { id: 'ov-sessions' }, link('#/sessions', 'Investigations')),
        h('p', {}, running.total ? `${running.total} running now.` : 'None running now.', ' ',
          can('operator') ? link('#/chat', 'Ask a question') : null),
        recent.items.length ? h('ul', { class: 'plain' }, recent.items.map((s) =>
          h('li', {}, badge(s.status), ' ', link(`#/sessions/${s.id}`, triggerText(s.trigger)), ' ',
            h('span', { class: 'muted' }, ago(s.started_at))))) : h('p', { class: 'muted' }, 'No investigations yet.')),
      h('section', { class: 'card', 'aria-labelledby': 'ov-approvals' },
        h('h2', { id: 'ov-approvals' }, `Approvals waiting: ${pending.total}`),
        pending.items.length ? h('ul', { class: 'plain' }, pending.items.map((a) =>
          h('li', {}, badge(a.risk, `risk-${a.risk}`), ' ', a.session_id
            ? link(`#/sessions/${a.session_id}`, `${a.task} on ${a.resource}`) : `${a.task} on ${a.resource}`)))
          : h('p', { class: 'muted' }, 'No remediation is waiting for a decision.')),
    ),
  );
}

export function triggerText(t) {
  if (!t) return '';
  return t.text || t.title || t.issue || t.summary || t.type;
}

export async function issues(q) {
  const status = q.get('status') || 'open';
  const resource = q.get('resource') || '';
  const page = await get(`/issues${qs({ status, resource, limit: 200 })}`);
  const statusSel = h('select', { id: 'f-status', name: 'status' },
    ['open', 'all'].map((s) => h('option', { value: s, selected: s === status }, s === 'open' ? 'open' : 'all (resolved too)')));
  const resInput = h('input', { id: 'f-resource', name: 'resource', value: resource, placeholder: 'any resource' });
  const filter = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = `#/issues${qs({ status: statusSel.value === 'open' ? '' : statusSel.value, resource: resInput.value.trim() })}`;
  } },
  h('label', { for: 'f-status' }, 'Status'), statusSel,
  h('label', { for: 'f-resource' }, 'Resource'), resInput,
  h('button', { type: 'submit' }, 'Filter'));
  show(
    title('Issues'),
    filter,
    h('p', { class: 'muted' }, `${page.total} issue(s)${page.total > page.items.length ? `, the first ${page.items.length} shown` : ''}.`),
    table([
      ['Severity', (i) => sev(i.severity)],
      ['Issue', (i) => link(`#/issues/${i.id}`, i.title)],
      ['Resource', (i) => i.resource],
      ['Status', (i) => badge(i.status)],
      ['Seen', (i) => `${i.count}×`],
      ['Last seen', (i) => when(i.last_seen)],
    ], page.items, status === 'open' ? 'No open issues: every check sitrep runs is passing.' : 'No issues.'),
  );
}

export async function issue(id) {
  const { issue: i, events } = await get(`/issues/${enc(id)}`);
  const run = i.last_run_id ? await get(`/runs/${enc(i.last_run_id)}`) : null;
  const investigate = can('operator') && i.status === 'open'
    ? h('button', { type: 'button', class: 'primary', onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const s = await post('/sessions', { issue: i.id });
        location.hash = `#/sessions/${s.id}`;
      } catch (e) {
        showError(e);
        ev.target.disabled = false;
      }
    } }, 'Investigate this issue')
    : null;
  show(
    h('p', { class: 'crumbs' }, link('#/issues', '← Issues')),
    title(i.title),
    h('p', {}, sev(i.severity), ' ', badge(i.status), ' ', investigate),
    facts([
      ['Resource', i.resource], ['Task', link(`#/tasks/${enc(i.task)}`, i.task)], ['Expected', i.expected],
      ['Actual', i.actual], ['Next steps', i.next_steps], ['Reproduce', i.reproduce_hint ? h('code', {}, i.reproduce_hint) : null],
      ['Seen', `${i.count} time(s), first ${new Date(i.first_seen).toLocaleString()}, last ${new Date(i.last_seen).toLocaleString()}`],
      ['Resolved', i.resolved_at ? when(i.resolved_at) : null], ['Id', h('code', {}, i.id)],
    ]),
    i.details ? [h('h2', {}, 'Details'), pre(i.details)] : null,
    run ? [
      h('h2', {}, 'Last run'),
      facts([['Run', h('code', {}, short(run.id))], ['Status', badge(run.status)], ['Started', when(run.started_at)],
        ['Exit code', run.exit_code], ['Error', run.error]]),
      run.report ? [h('h3', {}, 'Report'), pre(run.report)] : null,
      run.stdout ? [h('h3', {}, 'Output'), pre(run.stdout)] : null,
      run.stderr ? [h('h3', {}, 'Errors'), pre(run.stderr)] : null,
    ] : null,
    h('h2', {}, 'History'),
    table([
      ['When', (e) => when(e.at)],
      ['What', (e) => e.kind],
      ['Run', (e) => (e.run_id ? h('code', {}, short(e.run_id)) : '')],
    ], events, 'No history.'),
  );
}

export async function tasks(q) {
  const term = q.get('q') || '';
  const page = await get(`/tasks${qs({ q: term, limit: 1000 })}`);
  const input = h('input', { id: 'f-q', name: 'q', type: 'search', value: term, placeholder: 'e.g. postgres, disk, http' });
  show(
    title('Tasks'),
    h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = `#/tasks${qs({ q: input.value.trim() })}`;
    } }, h('label', { for: 'f-q' }, 'Name contains'), input, h('button', { type: 'submit' }, 'Search')),
    h('p', { class: 'muted' }, `${page.total} task(s). Health tasks run on a schedule; diagnostics on demand; remediations only once approved.`),
    table([
      ['Task', (t) => link(`#/tasks/${enc(t.task)}`, t.task)],
      ['Kind', (t) => badge(t.kind)],
      ['Type', (t) => t.type],
      ['Description', (t) => t.description],
    ], page.items, 'No task matches.'),
  );
}

export async function task(name) {
  const t = await get(`/tasks/${enc(name)}`);
  show(
    h('p', { class: 'crumbs' }, link('#/tasks', '← Tasks')),
    title(t.task),
    h('p', {}, badge(t.kind), ' ', t.risk ? badge(`${t.risk} risk`, `risk-${t.risk}`) : null),
    h('p', { class: 'lead' }, t.description),
    facts([
      ['Type', t.type], ['Runs every', t.interval_s ? `${t.interval_s} s` : null], ['Timeout', t.timeout_s ? `${t.timeout_s} s` : null],
      ['Risk', t.risk], ['Rollback', t.rollback], ['Secrets', (t.secrets || []).join(', ')], ['Tags', (t.tags || []).join(', ')],
    ]),
    h('h2', {}, 'Parameters'),
    table([
      ['Name', (p) => h('code', { class: 'nowrap' }, p.name)],
      ['Required', (p) => (p.required ? 'yes' : 'no')],
      ['Default', (p) => (p.default !== undefined && p.default !== '' ? h('code', {}, p.default) : '')],
      ['Description', (p) => p.description],
    ], t.params || [], 'No parameters.'),
  );
}
