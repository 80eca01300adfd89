// The one way the UI talks to sitrep: /api/v1 with the bearer token of this browser tab.
// Errors come back as ApiError with the API's own {code, message}.

const KEY = 'sitrep.token';
const LOGINS = 'sitrep.logins';

/// The token the pages use now (one of `logins`, or one being tried).
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  /// Logs the current token out: it is forgotten, the tab's other logins stay.
  clear: () => {
    const t = sessionStorage.getItem(KEY);
    if (t) logins.forget(t);
    sessionStorage.removeItem(KEY);
  },
};

/// Every token this tab is logged in with (a token is scoped to one workspace), in the order
/// they were added: [{token, workspace, name, role}]. Kept in sessionStorage like the token.
export const logins = {
  all: () => {
    try {
      const l = JSON.parse(sessionStorage.getItem(LOGINS) || '[]');
      return Array.isArray(l) ? l : [];
    } catch {
      return [];
    }
  },
  remember: (t, p) => {
    const entry = { token: t, workspace: p.workspace, name: p.name, role: p.role };
    const l = logins.all();
    const i = l.findIndex((x) => x.token === t);
    if (i >= 0) l[i] = entry;
    else l.push(entry);
    sessionStorage.setItem(LOGINS, JSON.stringify(l));
  },
  forget: (t) => sessionStorage.setItem(LOGINS, JSON.stringify(logins.all().filter((x) => x.token !== t))),
};

const ROLES = ['viewer', 'operator', 'approver', 'admin'];

/// The logged-in caller: {workspace, token_id, name, role} from GET /api/v1/workspace.
export const me = { principal: null };

/// Whether the caller's role is `role` or above (to offer only the buttons the API allows).
export function can(role) {
  const p = me.principal;
  return !!p && ROLES.indexOf(p.role) >= ROLES.indexOf(role);
}

export class ApiError extends Error {
  constructor(status, code, message, problems) {
    super(message);
    this.status = status;
    this.code = code;
    /// A file refused for its problems (code `problems`): [{file, line, field, message}].
    this.problems = problems || [];
  }
}

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token.get();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function failure(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: the status says it
  }
  const code = (body && body.code) || `http_${res.status}`;
  const message = (body && body.message) || `${res.status} ${res.statusText}`;
  return new ApiError(res.status, code, message, body && body.problems);
}

async function call(method, path, body) {
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `sitrep does not answer (${e.message}): is the server running?`);
  }
  if (!res.ok) throw await failure(res);
  return res.json();
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

/// A query string of the non-empty values of `params`.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;

/// Follows /api/v1/events (Server-Sent Events). EventSource cannot send the Authorization
/// header the API wants, so the stream is read with fetch. Calls onEvent(object) for each
/// event; `lagged` events come as {type: 'lagged', missed}. Returns a function that stops it.
export function follow(onEvent, onError) {
  const ctl = new AbortController();
  (async () => {
    let res;
    try {
      res = await fetch('/api/v1/events', { headers: headers({ Accept: 'text/event-stream' }), signal: ctl.signal });
      if (!res.ok) throw await failure(res);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, cut), onEvent);
          buf = buf.slice(cut + 2);
        }
      }
      if (!ctl.signal.aborted) onError(new ApiError(0, 'stream_ended', 'the event stream ended: is the server still running?'));
    } catch (e) {
      if (ctl.signal.aborted) return;
      onError(e instanceof ApiError ? e : new ApiError(0, 'stream', `the event stream failed: ${e.message}`));
    }
  })();
  return () => ctl.abort();
}

function dispatch(block, onEvent) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (!data.length) return; // a keep-alive comment
  if (name === 'lagged') {
    onEvent({ type: 'lagged', missed: Number(data.join('')) });
    return;
  }
  try {
    onEvent(JSON.parse(data.join('\n')));
  } catch {
    // not JSON: not an event of this API
  }
}
