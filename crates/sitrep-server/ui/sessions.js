// Sessions (investigations): the list, one session's hypothesis tree, evidence, conclusion and
// remediation approvals, and Chat, which starts one and shows its progress from the event stream.

import { get, post, qs, enc, can, follow } from './api.js';
import { h, show, title, link, badge, when, ago, short, table, facts, showError, onLeave } from './dom.js';
import { triggerText } from './pages.js';

const STATUSES = ['running', 'concluded', 'inconclusive', 'failed', 'interrupted'];

export async function list(q) {
  const status = q.get('status') || '';
  const page = await get(`/sessions${qs({ status, limit: 100 })}`);
  const sel = h('select', { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  show(
    title('Sessions'),
    h('form', { class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = `#/sessions${qs({ status: sel.value })}`;
    } }, h('label', { for: 'f-status' }, 'Status'), sel, h('button', { type: 'submit' }, 'Filter'),
    can('operator') ? link('#/chat', 'Start an investigation') : null),
    table([
      ['Status', (s) => badge(s.status)],
      ['Asked', (s) => link(`#/sessions/${s.id}`, triggerText(s.trigger))],
      ['Conclusion', (s) => (s.conclusion ? `${s.conclusion.summary}` : '')],
      ['Started', (s) => h('span', { title: new Date(s.started_at).toISOString() }, ago(s.started_at))],
    ], page.items, 'No investigations yet. Start one from Chat, or with sitrep investigate on the server.'),
  );
}

/// One session; while it runs, it is drawn again as its steps arrive on the event stream.
export async function detail(id) {
  let s = await get(`/sessions/${enc(id)}`);
  let approvals = await get(`/approvals${qs({ session: s.id, limit: 100 })}`);
  let audit = await outcomes(s.id, approvals.items);
  const live = h('p', { class: 'live muted', 'aria-live': 'polite' });
  const draw = () => show(
    h('p', { class: 'crumbs' }, link('#/sessions', '← Sessions')),
    title(triggerText(s.trigger)),
    h('p', {}, badge(s.status), ' ', h('span', { class: 'muted' }, `${s.trigger.type} · assistant ${s.assistant} · started `), when(s.started_at),
      s.finished_at ? [h('span', { class: 'muted' }, ' · finished '), when(s.finished_at)] : null),
    s.status === 'running' ? live : null,
    conclusion(s.conclusion),
    remediation(approvals.items, audit, reload),
    h('h2', {}, 'Hypotheses and evidence'),
    tree(s),
    h('h2', {}, 'Budget'),
    facts([['Task runs', `${s.budget.task_runs} of ${s.budget.task_runs_max}`],
      ['Time', `${(s.budget.elapsed_ms / 1000).toFixed(1)} s of ${s.budget.time_budget_ms / 1000} s`], ['Ran out', s.budget.exhausted]]),
    h('h2', {}, 'Audit trail'),
    h('p', {}, h('button', { type: 'button', onclick: () => exportAudit(s.id).catch(showError) }, 'Export the audit trail (JSON lines)'),
      ' ', h('span', { class: 'muted' }, 'every step, in order, as sitrep recorded it')),
  );
  async function reload() {
    s = await get(`/sessions/${enc(s.id)}`);
    approvals = await get(`/approvals${qs({ session: s.id, limit: 100 })}`);
    audit = await outcomes(s.id, approvals.items);
    draw();
  }
  draw();
  if (s.status === 'running') {
    let timer = null;
    const stop = follow((ev) => {
      if (ev.type !== 'session' || ev.session_id !== s.id) return;
      live.textContent = ev.summary;
      clearTimeout(timer);
      timer = setTimeout(() => reload().catch(showError), ev.kind === 'session-finished' ? 0 : 400);
      if (ev.kind === 'session-finished') stop();
    }, showError);
    onLeave(() => {
      clearTimeout(timer);
      stop();
    });
  }
}

function conclusion(c) {
  if (!c) return null;
  const pct = (x) => `${Math.round(x * 100)}%`;
  return h('section', { class: `card conclusion ${c.verdict}`, 'aria-labelledby': 'concl' },
    h('h2', { id: 'concl' }, 'Conclusion ', badge(c.verdict)),
    h('p', { class: 'lead' }, c.summary),
    h('p', {}, `Confidence ${pct(c.confidence)} (the threshold for a root cause is ${pct(c.threshold)}) `,
      h('meter', { min: 0, max: 1, value: c.confidence, low: c.threshold, optimum: 1, 'aria-label': 'confidence' })),
    c.reasons.length ? [h('h3', {}, 'Why this confidence'), h('ul', {}, c.reasons.map((r) =>
      h('li', {}, h('code', {}, `${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(2)}`), ' ', r.why)))] : null,
    c.next_checks.length ? [h('h3', {}, 'Next checks'), h('ul', {}, c.next_checks.map((x) => h('li', {}, x)))] : null,
    c.alternatives.length ? [h('h3', {}, 'Alternatives'), h('ul', {}, c.alternatives.map((x) => h('li', {}, x)))] : null,
    c.unknowns.length ? [h('h3', {}, 'Unknowns'), h('ul', {}, c.unknowns.map((x) => h('li', {}, x)))] : null,
  );
}

/// The hypotheses as a tree (children under their parent), each with its evidence.
function tree(s) {
  if (!s.hypotheses.length) return h('p', { class: 'muted' }, 'No hypothesis yet.');
  const kids = (parent) => s.hypotheses.filter((x) => (x.parent || null) === parent);
  const node = (x) => h('li', { class: `hyp ${x.status}` },
    h('div', {}, badge(x.status), ' ', h('strong', {}, x.statement), ' ', h('span', { class: 'muted' }, `on ${x.resource} (${x.id})`)),
    h('div', { class: 'muted small' }, `confirmed if ${x.confirm_if}; refuted if ${x.refute_if}`),
    evidence(s.evidence.filter((e) => e.hypothesis === x.id)),
    kids(x.id).length ? h('ul', { class: 'tree' }, kids(x.id).map(node)) : null);
  return h('ul', { class: 'tree' }, kids(null).map(node));
}

function evidence(list) {
  if (!list.length) return null;
  return h('ul', { class: 'evidence' }, list.map((e) => h('li', {},
    badge(e.strength, `strength-${e.strength}`), ' ', e.summary, ' ',
    h('span', { class: 'muted' }, `${e.task} on ${e.resource}`),
    e.issue_id ? [' ', link(`#/issues/${e.issue_id}`, 'issue')] : null)));
}

/// The audit entries that tell what an approved remediation did: its run and the verification
/// that followed (read only once something was approved).
async function outcomes(id, items) {
  if (!items.some((a) => a.status === 'granted' || a.status === 'executed')) return [];
  const entries = await get(`/sessions/${enc(id)}/audit`);
  return entries.filter((e) => e.kind === 'remediation-executed' || e.kind === 'verification');
}

function outcome(a, audit) {
  const ran = audit.find((e) => e.kind === 'remediation-executed' && e.data && e.data.approval === a.id);
  if (!ran) return null;
  const v = audit.find((e) => e.kind === 'verification' && e.seq > ran.seq);
  const checks = v && v.data && Array.isArray(v.data.checks) ? v.data.checks : [];
  return h('div', { class: 'outcome' },
    h('p', {}, h('strong', {}, 'Ran: '), badge(ran.data.status), ' ', `${ran.data.task} (run `, h('code', {}, short(ran.data.run_id)), ')'),
    v ? h('p', {}, h('strong', {}, 'Verification: '),
      v.data.resolved ? badge('verified', 'verified') : badge('not verified', 'unverified'), ' ',
      v.data.resolved ? "the cause's checks ran again and are clean" : "the cause's checks ran again and still fail") : null,
    checks.length ? h('ul', { class: 'small' }, checks.map((c) => h('li', {}, badge(c.strength, `strength-${c.strength}`), ' ', c.task, ': ', c.summary))) : null);
}

/// Proposed remediations; approve/deny only for approvers, and only while pending.
function remediation(items, audit, reload) {
  if (!items.length) return null;
  return h('section', { 'aria-labelledby': 'remed' },
    h('h2', { id: 'remed' }, 'Proposed remediation'),
    items.map((a) => h('div', { class: 'card approval' },
      h('p', {}, badge(a.status), ' ', badge(`${a.risk} risk`, `risk-${a.risk}`), ' ', h('strong', {}, a.task), ' on ', h('code', {}, a.resource)),
      facts([['Why', a.reason], ['Parameters', Object.entries(a.params || {}).map(([k, v]) => `${k}=${v}`).join(' ')],
        ['Rollback', a.rollback], ['Requested', when(a.requested_at)], ['Expires', when(a.expires_at)],
        ['Decided by', a.decided_by], ['Note', a.note], ['Run', a.run_id ? h('code', {}, short(a.run_id)) : null]]),
      outcome(a, audit),
      a.status === 'pending' && can('approver') ? decide(a, reload) : null,
      a.status === 'pending' && !can('approver') ? h('p', { class: 'muted' }, 'An approver decides this (your role cannot).') : null)));
}

function decide(a, reload) {
  const confirm = a.risk === 'high' || a.risk === 'critical';
  const cid = `confirm-${a.id}`;
  const input = confirm ? h('input', { id: cid, autocomplete: 'off', spellcheck: 'false' }) : null;
  const reason = h('input', { id: `reason-${a.id}`, placeholder: 'why (optional)' });
  const out = h('div', { 'aria-live': 'polite' });
  const act = (verb, body) => async (ev) => {
    ev.target.disabled = true;
    out.replaceChildren(h('p', { class: 'muted' }, verb === 'approve'
      ? 'Approved: running the remediation, then its cause\'s checks again…' : 'Denying…'));
    try {
      await post(`/approvals/${enc(a.id)}/${verb}`, body());
      await reload();
    } catch (e) {
      showError(e);
      out.replaceChildren();
      ev.target.disabled = false;
    }
  };
  return h('div', { class: 'decide' },
    confirm ? [h('label', { for: cid }, `${a.risk} risk: type the resource's name `, h('code', {}, a.resource), ' to approve'), input] : null,
    h('button', { type: 'button', class: 'primary approve', onclick: act('approve', () => (confirm ? { confirmation: input.value } : {})) }, 'Approve and run'),
    h('label', { for: `reason-${a.id}` }, 'Reason'), reason,
    h('button', { type: 'button', class: 'danger deny', onclick: act('deny', () => (reason.value ? { reason: reason.value } : {})) }, 'Deny'),
    out);
}

async function exportAudit(id) {
  const entries = await get(`/sessions/${enc(id)}/audit`);
  const blob = new Blob(entries.map((e) => `${JSON.stringify(e)}\n`), { type: 'application/x-ndjson' });
  const a = h('a', { href: URL.createObjectURL(blob), download: `session-${short(id)}-audit.jsonl` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/// Chat: a question starts an investigation; its steps appear as they happen, then its conclusion.
export function chat() {
  if (!can('operator')) {
    show(title('Chat'), h('p', {}, 'Starting an investigation takes the operator role or above; this token is a viewer. ',
      link('#/sessions', 'Browse past investigations'), '.'));
    return;
  }
  const box = h('textarea', { id: 'question', name: 'question', rows: 3, required: true,
    placeholder: 'e.g. why is the checkout API slow? is the database healthy?' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Investigate');
  const log = h('ol', { class: 'chat', 'aria-live': 'polite' });
  // After a conclusion, the next question may continue that session (a follow-up).
  const followBox = h('input', { type: 'checkbox', id: 'follow-up', checked: true });
  const followName = h('span', {});
  const followRow = h('p', { class: 'small', hidden: true },
    followBox, ' ', h('label', { for: 'follow-up' }, 'Ask as a follow-up of session ', followName));
  let last = null;
  let stop = null;
  onLeave(() => stop && stop());
  const form = h('form', { class: 'ask', onsubmit: async (ev) => {
    ev.preventDefault();
    const question = box.value.trim();
    if (!question) return;
    send.disabled = true;
    const steps = h('ul', { class: 'steps' });
    const turn = h('li', { class: 'turn' }, h('p', { class: 'q' }, question), steps);
    log.prepend(turn);
    // Follow the stream before starting, so no step is missed; keep those of other sessions out.
    const seen = [];
    let id = null;
    const finish = async () => {
      if (stop) stop();
      stop = null;
      const s = await get(`/sessions/${enc(id)}`);
      turn.append(h('div', { class: 'answer' }, badge(s.status), ' ',
        s.conclusion ? s.conclusion.summary : 'No conclusion.', ' ', link(`#/sessions/${s.id}`, 'Open the whole session')));
      last = s.id;
      followName.textContent = short(s.id);
      followRow.hidden = false;
      send.disabled = false;
    };
    const step = (ev) => {
      steps.append(h('li', { class: `step k-${ev.kind}` }, ev.summary));
      if (ev.kind === 'session-finished') finish().catch(showError);
    };
    stop = follow((ev) => {
      if (ev.type !== 'session') return;
      if (id === null) seen.push(ev);
      else if (ev.session_id === id) step(ev);
    }, showError);
    try {
      const started = last && followBox.checked
        ? await post(`/sessions/${enc(last)}/follow-ups`, { question })
        : await post('/sessions', { question });
      id = started.id;
      turn.dataset.session = id;
      steps.before(h('p', { class: 'muted small' }, 'Session ', link(`#/sessions/${id}`, short(id)), ' — steps as they happen:'));
      if (started.status !== 'running') {
        seen.filter((e) => e.session_id === id).forEach((e) => steps.append(h('li', { class: `step k-${e.kind}` }, e.summary)));
        await finish();
      } else seen.filter((e) => e.session_id === id).forEach(step);
    } catch (e) {
      if (stop) stop();
      stop = null;
      showError(e);
      turn.append(h('p', { class: 'answer failed' }, `Not started: ${e.message}`));
      send.disabled = false;
    }
  } },
  h('label', { for: 'question' }, 'Ask sitrep to investigate'), box,
  h('p', { class: 'muted small' }, 'sitrep forms hypotheses, runs diagnostic checks to test them, and concludes with a confidence. It never runs a fix without an approver.'),
  followRow, send);
  show(title('Chat'), form, log);
  box.focus();
}
