// Secrets and tokens: admin pages. Neither answer carries a secret's value or a token's
// secret, except the answer that creates a token (shown once, as the CLI does).

import { get, post, put, del, enc, can, me } from './api.js';
import { h, show, title, badge, when, table, showError } from './dom.js';

function adminOnly(what) {
  if (can('admin')) return false;
  show(title(what), h('p', { class: 'muted empty' },
    `${what} are for admins; this token's role is ${me.principal.role}. The API refuses it the same.`));
  return true;
}

/// A button that asks once more before it acts (no modal dialog: the second press does it).
export function confirmButton(text, again, act) {
  let armed = false;
  const b = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!armed) {
      armed = true;
      b.textContent = again;
      return;
    }
    b.disabled = true;
    try {
      await act();
    } catch (e) {
      showError(e);
      b.disabled = false;
    }
  }, onblur: () => {
    armed = false;
    b.textContent = text;
  } }, text);
  return b;
}

export async function secrets() {
  if (adminOnly('Secrets')) return;
  const list = await get('/secrets');
  const name = h('input', { id: 's-name', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false',
    pattern: '[A-Za-z0-9_.\\-]+', placeholder: 'e.g. PGPASSWORD_PROD' });
  const value = h('input', { id: 's-value', name: 'value', type: 'password', required: true, minlength: 4,
    autocomplete: 'new-password', 'aria-describedby': 's-help' });
  const done = h('p', { id: 's-done', 'aria-live': 'polite', class: 'muted' });
  const form = h('form', { class: 'card stack', onsubmit: async (ev) => {
    ev.preventDefault();
    const n = name.value.trim();
    try {
      await put(`/secrets/${enc(n)}`, { value: value.value });
      value.value = '';
      await secrets();
      document.getElementById('s-done').textContent = `Stored ${n}. Its value is not shown again.`;
    } catch (e) {
      showError(e);
    }
  } },
  h('h2', {}, 'Set a secret'),
  h('label', { for: 's-name' }, 'Name'), name,
  h('label', { for: 's-value' }, 'Value'), value,
  h('p', { id: 's-help', class: 'muted small' }, 'Stored encrypted and never shown again, here or in the API; setting an existing name replaces its value. An SLX refers to it as ',
    h('code', {}, 'secret:NAME'), '.'),
  h('button', { type: 'submit', class: 'primary' }, 'Store'));
  show(
    title('Secrets'),
    h('p', { class: 'muted' }, `${list.length} secret(s) in this workspace's vault: names and times only, never values.`),
    done,
    table([
      ['Name', (s) => h('code', {}, s.name)],
      ['Created', (s) => when(s.created_at)],
      ['Updated', (s) => when(s.updated_at)],
      ['Action', (s) => confirmButton('Delete', `Delete ${s.name}? Press again`, async () => {
        await del(`/secrets/${enc(s.name)}`);
        await secrets();
        document.getElementById('s-done').textContent = `Deleted ${s.name}.`;
      })],
    ], list, 'No secret stored yet.'),
    form,
  );
}

const ROLES = ['viewer', 'operator', 'approver', 'admin'];
const TTLS = [['', 'never'], [86400, '1 day'], [7 * 86400, '7 days'], [30 * 86400, '30 days'], [365 * 86400, '1 year']];

export async function tokens() {
  if (adminOnly('Tokens')) return;
  const list = await get('/tokens');
  const now = Date.now();
  const state = (t) => (t.revoked_at ? badge('revoked', 'failed') : t.expires_at && t.expires_at <= now ? badge('expired', 'failed')
    : badge('active', 'succeeded'));
  const name = h('input', { id: 't-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off', placeholder: 'who or what it is for: ci, alice' });
  const role = h('select', { id: 't-role', name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, r)));
  const ttl = h('select', { id: 't-ttl', name: 'ttl' }, TTLS.map(([v, text]) => h('option', { value: v }, text)));
  const created = h('div', { id: 't-created', 'aria-live': 'polite' });
  const form = h('form', { class: 'card stack', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { name: name.value.trim(), role: role.value };
      if (ttl.value) body.ttl_s = Number(ttl.value);
      const t = await post('/tokens', body);
      await tokens();
      const secret = h('input', { id: 't-secret', readonly: true, value: t.secret, 'aria-label': 'the new token', class: 'secret' });
      document.getElementById('t-created').replaceChildren(h('div', { class: 'card outcome' },
        h('p', {}, h('strong', {}, `Token ${t.name} (${t.role}) created.`), ' Copy it now: it is shown this once and never again.'),
        secret));
      secret.focus();
      secret.select();
    } catch (e) {
      showError(e);
    }
  } },
  h('h2', {}, 'Create a token'),
  h('label', { for: 't-name' }, 'Name'), name,
  h('label', { for: 't-role' }, 'Role'), role,
  h('label', { for: 't-ttl' }, 'Expires after'), ttl,
  h('button', { type: 'submit', class: 'primary' }, 'Create'));
  show(
    title('Tokens'),
    h('p', { class: 'muted' }, `${list.length} token(s) of this workspace. Their secrets are never shown after they are created.`),
    created,
    table([
      ['Name', (t) => t.name],
      ['Role', (t) => t.role],
      ['State', state],
      ['Created', (t) => when(t.created_at)],
      ['Expires', (t) => (t.expires_at ? when(t.expires_at) : h('span', { class: 'muted' }, 'never'))],
      ['Id', (t) => h('code', { class: 'nowrap' }, t.id)],
      ['Action', (t) => (t.revoked_at ? '' : t.id === me.principal.token_id ? h('span', { class: 'muted small' }, 'this session')
        : confirmButton('Revoke', `Revoke ${t.name}? Press again`, async () => {
          await del(`/tokens/${enc(t.id)}`);
          await tokens();
        }))],
    ], list, 'No token.'),
    form,
  );
}
