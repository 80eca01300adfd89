// The Studio: the workspace folder's rules, commands, workflows and knowledge notes as text.
// The server checks each text with the validator every other edge uses (as you type, after a
// short pause, and on Validate); every problem is shown at its line: the gutter marks the
// line, and the list under the editor moves the caret there. Saving and deleting are for
// admins (the API refuses others the same); a save with problems writes nothing.

import { get, post, put, del, enc, can, me, ApiError } from './api.js';
import { h, show, title, badge, when, showError, onLeave } from './dom.js';
import { confirmButton } from './admin.js';

const KINDS = {
  rules: {
    label: 'Rules', ext: 'yaml', doc: 'docs/studio.md',
    about: 'standing guidance that suppresses, re-prioritises or annotates findings',
    template: '# A rule: every field under match must hold (docs/studio.md).\nmatch:\n  resource: my-service-*\neffect:\n  context: what responders should know\n',
  },
  commands: {
    label: 'Commands', ext: 'yaml', doc: 'docs/studio.md',
    about: 'named, parameterised investigation procedures',
    template: '# A command: steps to run, then a question (docs/studio.md).\ndescription: what it looks at\nquestion: is anything wrong?\n',
  },
  workflows: {
    label: 'Workflows', ext: 'yaml', doc: 'docs/workflows.md',
    about: 'what starts an investigation and where its findings go',
    template: '# A workflow: when it runs and where it delivers (docs/workflows.md).\n',
  },
  knowledge: {
    label: 'Knowledge', ext: 'md', doc: 'docs/studio.md',
    about: 'notes investigations retrieve, test and cite',
    template: '---\ntype: runbook\nservices: [my-service]\n---\n# What to do when my-service fails\n\n',
  },
};

/// How long typing must pause before the text is checked.
const CHECK_DELAY_MS = 600;

const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.\\-]*';

export async function studio(kind, name) {
  if (!KINDS[kind]) {
    location.replace('#/studio/rules');
    return;
  }
  const list = await get(`/studio/${kind}`);
  const exists = !!name && list.files.some((f) => f.name === name);
  const file = exists ? await get(`/studio/${kind}/${enc(name)}`) : null;
  show(
    title('Studio'),
    h('p', { class: 'muted' }, `The files of workspace ${list.workspace}'s folder, checked as you write them by the same validator sitrep reads them with. A file with a problem is skipped everywhere else.`),
    tabs(kind),
    h('div', { class: 'studio' },
      h('section', { class: 'files', 'aria-labelledby': 'studio-files' },
        h('h2', { id: 'studio-files' }, `${KINDS[kind].label}`),
        h('p', { class: 'muted small' }, `${KINDS[kind].about}: ${kind}/*.${KINDS[kind].ext} (`, h('code', {}, KINDS[kind].doc), ').'),
        fileList(kind, list.files, name),
        newFile(kind)),
      h('section', { class: 'pane', 'aria-label': 'Editor' },
        name ? editor(kind, name, file) : h('p', { class: 'muted empty' }, 'Choose a file to read or edit it', can('admin') ? ', or start a new one.' : '.'))),
  );
}

function tabs(kind) {
  return h('nav', { class: 'tabs', 'aria-label': 'Kinds of file' },
    Object.entries(KINDS).map(([k, v]) => h('a', { href: `#/studio/${k}`, 'aria-current': k === kind ? 'page' : null }, v.label)));
}

function fileList(kind, files, current) {
  if (!files.length) return h('p', { class: 'muted empty' }, `No ${kind} file in this workspace yet.`);
  return h('ul', { class: 'plain files', id: 'studio-list' }, files.map((f) => h('li', {},
    h('a', { href: `#/studio/${kind}/${enc(f.name)}`, 'aria-current': f.name === current ? 'page' : null, 'data-name': f.name },
      h('span', { class: 'fname' }, f.name),
      f.problems ? badge(`${f.problems} problem${f.problems === 1 ? '' : 's'}`, 'failed') : badge('valid', 'succeeded')),
    h('span', { class: 'muted small' }, `${f.size} bytes`, f.modified ? [' · ', when(f.modified)] : null))));
}

function newFile(kind) {
  if (!can('admin')) return null;
  const ext = KINDS[kind].ext;
  const input = h('input', { id: 'studio-new', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false',
    pattern: NAME_PATTERN, maxlength: 128, placeholder: `my-file.${ext}`, 'aria-describedby': 'studio-new-help' });
  return h('form', { class: 'stack', onsubmit: (ev) => {
    ev.preventDefault();
    let n = input.value.trim();
    if (!n.includes('.')) n = `${n}.${ext}`;
    location.hash = `#/studio/${kind}/${enc(n)}`;
  } },
  h('label', { for: 'studio-new' }, 'New file'), input,
  h('p', { id: 'studio-new-help', class: 'muted small' }, `Letters, digits, '-', '_' and '.'; .${ext} is added when you give no extension. It is written when you save it.`),
  h('button', { type: 'submit' }, 'New file'));
}

/// The offset in `text` where line `n` (1-based) starts, and where it ends.
function lineSpan(text, n) {
  const lines = text.split('\n');
  const i = Math.min(Math.max(n, 1), lines.length) - 1;
  let start = 0;
  for (let k = 0; k < i; k++) start += lines[k].length + 1;
  return [start, start + lines[i].length];
}

function editor(kind, name, file) {
  const admin = can('admin');
  const path = `${kind}/${name}`;
  let problems = file ? file.problems : [];
  const ta = h('textarea', {
    id: 'studio-text', class: 'code', wrap: 'off', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
    'aria-label': `The text of ${path}`, 'aria-describedby': 'studio-status', readonly: !admin,
  });
  ta.value = file ? file.text : KINDS[kind].template;
  const gutter = h('div', { class: 'gutter', id: 'studio-gutter', 'aria-hidden': 'true' });
  const status = h('p', { id: 'studio-status', class: 'muted', role: 'status' });
  const list = h('ol', { class: 'problems', id: 'studio-problems', 'aria-label': 'Problems' });

  const goTo = (line) => {
    const [start, end] = lineSpan(ta.value, line);
    ta.focus();
    ta.setSelectionRange(start, end);
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
    ta.scrollTop = Math.max(0, (line - 1) * lh - ta.clientHeight / 3);
    gutter.scrollTop = ta.scrollTop;
  };

  const render = () => {
    const bad = new Map();
    for (const p of problems) if (p.line) bad.set(p.line, [...(bad.get(p.line) || []), `${p.field ? `${p.field}: ` : ''}${p.message}`]);
    const count = ta.value.split('\n').length;
    const nums = [];
    for (let n = 1; n <= count; n++) {
      const msgs = bad.get(n);
      nums.push(h('div', { class: msgs ? 'bad' : null, title: msgs ? msgs.join('\n') : null, 'data-line': n }, String(n)));
    }
    gutter.replaceChildren(...nums);
    gutter.scrollTop = ta.scrollTop;
    list.replaceChildren(...problems.map((p) => h('li', { 'data-line': p.line || '' },
      p.line ? h('button', { type: 'button', class: 'link', onclick: () => goTo(p.line) }, `Line ${p.line}`) : h('span', {}, 'The file'),
      p.field ? [' · ', h('code', {}, p.field)] : null, ': ', p.message)));
    status.textContent = problems.length
      ? `${problems.length} problem${problems.length === 1 ? '' : 's'}: sitrep skips this file until ${problems.length === 1 ? 'it is' : 'they are'} fixed.`
      : 'No problems: sitrep reads this file as written.';
    status.className = problems.length ? 'bad-status' : 'muted';
  };

  let seq = 0;
  const check = async () => {
    const mine = ++seq;
    status.textContent = 'Checking…';
    try {
      const r = await post(`/studio/${kind}/${enc(name)}/validate`, { text: ta.value });
      if (mine !== seq) return;
      problems = r.problems;
      render();
    } catch (e) {
      if (mine === seq) showError(e);
    }
  };
  let timer = null;
  ta.addEventListener('input', () => {
    render();
    clearTimeout(timer);
    timer = setTimeout(check, CHECK_DELAY_MS);
  });
  ta.addEventListener('scroll', () => { gutter.scrollTop = ta.scrollTop; });
  onLeave(() => clearTimeout(timer));

  const save = async () => {
    clearTimeout(timer);
    seq++;
    try {
      const r = await put(`/studio/${kind}/${enc(name)}`, { text: ta.value });
      await studio(kind, name);
      document.getElementById('studio-status').textContent = `${r.created ? 'Created' : 'Saved'} ${r.file}. No problems.`;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'problems') {
        problems = e.problems;
        render();
        status.textContent = `Not saved: ${status.textContent}`;
      } else {
        showError(e);
      }
    }
  };

  const tools = h('div', { class: 'toolbar' },
    h('button', { type: 'button', id: 'studio-validate', onclick: () => { clearTimeout(timer); check(); } }, 'Validate'),
    admin ? h('button', { type: 'button', id: 'studio-save', class: 'primary', onclick: save }, 'Save') : null,
    admin && file ? confirmButton('Delete', `Delete ${name}? Press again`, async () => {
      await del(`/studio/${kind}/${enc(name)}`);
      location.hash = `#/studio/${kind}`;
    }) : null);
  render();
  if (!file) status.textContent = `A new file: ${admin ? 'it is written when you save it' : 'only an admin can save it'}.`;
  return [
    h('h2', {}, h('code', {}, path), file ? null : [' ', badge('new', 'pending')]),
    admin ? null : h('p', { class: 'note' }, `Read-only: saving takes an admin token, and this token's role is ${me.principal.role}. Validate still checks the text.`),
    tools,
    h('div', { class: 'editor' }, gutter, ta),
    status,
    list,
  ];
}
