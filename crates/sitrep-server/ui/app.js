// The web UI's shell: login with a token, the navigation, and hash routing to the pages.
// Every page renders what /api/v1 answers for the logged-in token; the role the API reports
// decides which buttons are offered (the API refuses the rest anyway).

import { get, token, me, can, ApiError } from './api.js';
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
    if (!(await restore())) return login();
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

/// Checks the stored token with the API; false (logged out) when there is none or it is refused.
async function restore() {
  if (!token.get()) return false;
  try {
    me.principal = await get('/workspace');
  } catch (e) {
    token.clear();
    me.principal = null;
    showError(e);
    return false;
  }
  document.getElementById('who-text').textContent =
    `${me.principal.workspace} · ${me.principal.name} (${me.principal.role})`;
  for (const a of document.querySelectorAll('#nav a[data-role]')) a.hidden = !can(a.dataset.role);
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  return true;
}

function login() {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', placeholder: 'sitrep_…', 'aria-describedby': 'token-help',
  });
  const form = h('form', { class: 'login card', onsubmit: async (ev) => {
    ev.preventDefault();
    token.set(input.value.trim());
    if (await restore()) {
      showError(null);
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      else route();
    } else input.focus();
  } },
  h('label', { for: 'token' }, 'API token'),
  input,
  h('p', { id: 'token-help', class: 'muted' },
    'Create one on the server with ', h('code', {}, 'sitrep token create NAME --role viewer'),
    ' (or operator, approver, admin). It is kept in this browser tab only, until you log out or close it.'),
  h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  show(title('Log in to sitrep'), form);
  input.focus();
}

function logout(why) {
  token.clear();
  me.principal = null;
  leave();
  login();
  if (why) showError(why);
}

document.getElementById('logout').addEventListener('click', () => {
  logout(null);
  history.replaceState(null, '', '#/login');
});
window.addEventListener('hashchange', route);
route();
