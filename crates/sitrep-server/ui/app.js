// The web UI's shell: login with a token, the navigation, and hash routing to the pages.
// Every page renders what /api/v1 answers for the logged-in token; the role the API reports
// decides which buttons are offered (the API refuses the rest anyway).

import { get, token, logins, me, can, ApiError } from './api.js';
import { h, show, title, showError, leave } from './dom.js';
import * as pages from './pages.js';
import * as sessions from './sessions.js';
import { map } from './map.js';
import * as slx from './slx.js';
import * as admin from './admin.js';
import * as studio from './studio.js';

const ROUTES = [
  [/^overview$/, () => pages.overview()],
  [/^issues$/, (_, q) => pages.issues(q)],
  [/^issues\/(.+)$/, (m) => pages.issue(m[1])],
  [/^sessions$/, (_, q) => sessions.list(q)],
  [/^sessions\/(.+)$/, (m) => sessions.detail(m[1])],
  [/^chat$/, () => sessions.chat()],
  [/^tasks$/, (_, q) => pages.tasks(q)],
  [/^tasks\/(.+)$/, (m) => pages.task(decodeURIComponent(m[1]))],
  [/^map$/, (_, q) => map(q)],
  [/^slxs$/, () => slx.slxs()],
  [/^slxs\/(.+)$/, (m, q) => slx.slx(decodeURIComponent(m[1]), q)],
  [/^runs$/, (_, q) => slx.runs(q)],
  [/^runs\/(.+)$/, (m) => slx.run(decodeURIComponent(m[1]))],
  [/^studio$/, () => studio.studio('rules')],
  [/^studio\/([a-z]+)$/, (m) => studio.studio(m[1])],
  [/^studio\/([a-z]+)\/(.+)$/, (m, q) => studio.studio(m[1], decodeURIComponent(m[2]), q)],
  [/^secrets$/, () => admin.secrets()],
  [/^tokens$/, () => admin.tokens()],
];

async function route() {
  leave();
  showError(null);
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  if (!token.get() || !me.principal) {
    if (!(await restore())) return login(false);
  }
  const q = new URLSearchParams(query || '');
  const found = ROUTES.map(([re, page]) => [path.match(re), page]).find(([m]) => m);
  markNav(path);
  document.getElementById('main').classList.toggle('wide', path === 'map');
  if (!found) {
    location.replace('#/overview');
    return;
  }
  try {
    await found[1](found[0], q);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      logout(e);
      return;
    }
    showError(e);
  }
  const main = document.getElementById('main');
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

function markNav(path) {
  const top = path.split('/')[0];
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${top}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/// Checks the current token with the API; false (logged out) when there is none or it is
/// refused. A token the API takes joins the tab's logins (the header's workspace switch).
async function restore() {
  const t = token.get();
  if (!t) return false;
  try {
    me.principal = await get('/workspace');
  } catch (e) {
    token.clear();
    me.principal = null;
    showError(e);
    return false;
  }
  logins.remember(t, me.principal);
  renderSwitch();
  for (const a of document.querySelectorAll('#nav a[data-role]')) a.hidden = !can(a.dataset.role);
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  return true;
}

/// The header's switch: one option per login of this tab (its workspace, token name and
/// role), the current one selected, then "Add workspace…".
function renderSwitch() {
  const current = token.get();
  document.getElementById('ws-switch').replaceChildren(
    ...logins.all().map((l, i) => h('option', { value: String(i), selected: l.token === current },
      `${l.workspace} · ${l.name} (${l.role})`)),
    h('option', { value: 'add' }, 'Add workspace…'));
}

/// The login form; `adding` keeps the current logins (and offers Cancel).
function login(adding) {
  const previous = adding ? token.get() : null;
  if (!adding) {
    document.getElementById('nav').hidden = true;
    document.getElementById('who').hidden = true;
  }
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', placeholder: 'sitrep_…', 'aria-describedby': 'token-help',
  });
  const form = h('form', { class: 'login card', onsubmit: async (ev) => {
    ev.preventDefault();
    token.set(input.value.trim());
    me.principal = null;
    if (await restore()) {
      showError(null);
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      else route();
      return;
    }
    // Refused: back to the login it was added to, if any (the error stays shown).
    if (previous) {
      token.set(previous);
      await restore();
    }
    input.focus();
  } },
  h('label', { for: 'token' }, 'API token'),
  input,
  h('p', { id: 'token-help', class: 'muted' },
    adding ? 'A token of another workspace (or another token of this one). The workspaces you are logged in to stay: the header switches between them. ' : null,
    'Create one on the server with ',
    h('code', {}, adding ? 'sitrep --workspace WS token create NAME --role viewer' : 'sitrep token create NAME --role viewer'),
    ' (or operator, approver, admin).',
    ' It is kept in this browser tab only, until you log out or close it.'),
  h('div', { class: 'decide' },
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
    adding ? h('button', { type: 'button', onclick: () => route() }, 'Cancel') : null));
  show(title(adding ? 'Add a workspace' : 'Log in to sitrep'), form);
  input.focus();
}

/// Logs the current token out (the tab's other logins stay). True when another login took
/// its place, false when none is left (the login form is shown).
function logout(why) {
  token.clear();
  me.principal = null;
  leave();
  const next = logins.all()[0];
  if (next) {
    token.set(next.token);
    route().then(() => why && showError(why));
    return true;
  }
  login(false);
  if (why) showError(why);
  return false;
}

document.getElementById('logout').addEventListener('click', () => {
  if (!logout(null)) history.replaceState(null, '', '#/login');
});
document.getElementById('ws-switch').addEventListener('change', (ev) => {
  const chosen = ev.target.value;
  renderSwitch();
  if (chosen === 'add') {
    leave();
    showError(null);
    login(true);
    return;
  }
  const l = logins.all()[Number(chosen)];
  if (!l || l.token === token.get()) return;
  token.set(l.token);
  me.principal = null;
  route();
});
window.addEventListener('hashchange', route);
route();
