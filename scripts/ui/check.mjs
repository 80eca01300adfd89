// The browser half of scripts/ui-check (which starts the server and passes UI_BASE and the
// tokens): drives Debian's Chromium through every page of the web UI. Fails on any console
// error, page error, or failed request the step did not expect.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

const base = process.env.UI_BASE;
const admin = process.env.UI_ADMIN_TOKEN;
const viewer = process.env.UI_VIEWER_TOKEN;
const shots = process.env.UI_SHOTS;
const problems = [];
/// Failures a step expects (a wrong token's 401): [status, path].
let expected = [];
const isExpected = (status, url) => expected.some(([s, p]) => s === status && new URL(url).pathname === p);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 }, colorScheme: 'light', acceptDownloads: true });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const url = m.location().url;
  if (url && /status of (\d+)/.test(m.text()) && isExpected(Number(m.text().match(/status of (\d+)/)[1]), url)) return;
  problems.push(`console error: ${m.text()} (${url})`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('requestfailed', (r) => {
  // Leaving a page stops its event stream on purpose.
  if (new URL(r.url()).pathname === '/api/v1/events' && /ABORTED/.test(r.failure()?.errorText || '')) return;
  if (r.url().startsWith('blob:')) return;
  problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
});
page.on('response', (r) => {
  if (r.status() >= 400 && !isExpected(r.status(), r.url())) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
});

let n = 0;
async function shot(name) {
  n += 1;
  const file = join(shots, `${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // What a person reads: no JavaScript values leaking into the page.
  const text = await page.locator('body').innerText();
  const leak = text.match(/\[object \w+\]|(?:^|[\s:(])(?:undefined|null|NaN)(?=[\s,.)]|$)/m);
  check(!leak, `${name} shows "${leak && leak[0].trim()}"`);
  console.log(`ui-check: ${file}`);
}
function check(ok, what) {
  if (!ok) problems.push(`check failed: ${what}`);
}
async function heading(text, timeout) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout });
}
async function nav(name, h1) {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true }).click();
  await heading(h1 || name);
}
async function login(token) {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
}

try {
  // Login: a wrong token is refused in the API's own words, then the right one gets in.
  await page.goto(`${base}/`);
  await heading('Log in to sitrep');
  await shot('login');
  expected = [[401, '/api/v1/workspace']];
  await login('sitrep_not_a_token');
  await page.locator('#error').waitFor();
  check((await page.locator('#error').innerText()).includes('unauthenticated'), 'a wrong token shows the API error');
  await shot('login-refused');
  expected = [];
  await login(admin);
  await heading('Overview');
  check((await page.locator('#who-text').innerText()).includes('default'), 'the workspace name is shown');
  check(!(await page.locator('#error').isVisible()), 'no error after logging in');
  await shot('overview');

  await nav('Issues');
  await shot('issues');
  const first = page.locator('main table tbody tr a').first();
  if (await first.count()) {
    await first.click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await shot('issue-detail');
  }

  await nav('Tasks');
  await page.getByLabel('Name contains').fill('disk');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/#\/tasks\?q=disk/);
  await page.locator('main table tbody tr').first().waitFor();
  await shot('tasks');
  await page.locator('main table tbody tr a').first().click();
  await page.getByRole('heading', { name: 'Parameters' }).waitFor();
  await shot('task-detail');

  await nav('Map');
  await shot('map');

  // Chat: a question starts an investigation whose steps arrive on the event stream.
  await nav('Chat');
  await page.getByLabel('Ask sitrep to investigate').fill('Why does the HTTP endpoint on 127.0.0.1 refuse connections?');
  await page.getByRole('button', { name: 'Investigate' }).click();
  await page.locator('.turn .answer').waitFor({ timeout: 90_000 });
  check((await page.locator('.turn .step').count()) > 2, 'the chat showed the steps as they happened');
  await shot('chat');
  await page.getByRole('link', { name: 'Open the whole session' }).click();
  await page.getByRole('heading', { name: 'Hypotheses and evidence' }).waitFor();
  await shot('session-detail');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /Export the audit trail/ }).click();
  check((await download).suggestedFilename().endsWith('-audit.jsonl'), 'the audit export downloads');

  await nav('Sessions');
  check((await page.locator('main table tbody tr').count()) >= 1, 'the session is listed');
  await shot('sessions');

  // Keyboard: the navigation is reachable with Tab and follows with Enter.
  await page.keyboard.press('Home');
  await page.locator('#nav a[href="#/overview"]').focus();
  await page.keyboard.press('Enter');
  await heading('Overview');

  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('overview-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // A viewer: no approve button anywhere, no investigation from Chat, and the API refuses.
  await page.getByRole('button', { name: 'Log out' }).click();
  await heading('Log in to sitrep');
  await login(viewer);
  await heading('Overview');
  check((await page.locator('#who-text').innerText()).includes('viewer'), 'the viewer role is shown');
  await nav('Sessions');
  await page.locator('main table tbody tr a').first().click();
  await page.getByRole('heading', { name: 'Hypotheses and evidence' }).waitFor();
  check((await page.getByRole('button', { name: /Approve|Deny/ }).count()) === 0, 'a viewer sees no approve or deny button');
  await shot('viewer-session');
  await nav('Chat');
  check((await page.getByRole('button', { name: 'Investigate' }).count()) === 0, 'a viewer cannot start an investigation');
  await shot('viewer-chat');
  const forged = await fetch(`${base}/api/v1/approvals/x/approve`, {
    method: 'POST', headers: { Authorization: `Bearer ${viewer}`, 'Content-Type': 'application/json' }, body: '{}',
  });
  check(forged.status === 403, `a viewer's forged approve is 403 (got ${forged.status})`);
} catch (e) {
  problems.push(`step failed: ${e.message.split('\n')[0]}`);
  await shot('failure').catch(() => {});
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(`ui-check: FAILED\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`ui-check: ok (${n} screenshots in ${shots})`);
