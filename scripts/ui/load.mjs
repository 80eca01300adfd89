// The browser half of bench/ui-load (which seeds a home, starts the server and passes UI_BASE
// and UI_TOKEN): the web UI's weight and speed, as a person opening it sees them.
// - weight: every response a fresh tab loads for `/` and the logged-in overview (bytes on the
//   wire and decoded), by kind;
// - speed, UI_RUNS times each in a fresh tab with the token already in the tab's storage:
//   from navigation to the overview drawn with its counts (its data fetched and rendered),
//   to the issues list drawn, and to the Map drawn. Medians and maxima in ms.
import { chromium } from 'playwright-core';

const base = process.env.UI_BASE;
const token = process.env.UI_TOKEN;
const runs = Number(process.env.UI_RUNS || 7);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
const problems = [];

async function tab() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  await context.addInitScript((t) => sessionStorage.setItem('sitrep.token', t), token);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  return { context, page };
}

const kindOf = (url, type) => (url.includes('/api/') ? 'api' : (type || '').split(';')[0].split('/').pop() || 'other');

async function weigh() {
  const { context, page } = await tab();
  const seen = [];
  page.on('requestfinished', async (r) => {
    const resp = await r.response();
    const sizes = await r.sizes().catch(() => null);
    if (!resp || !sizes) return;
    const body = await resp.body().catch(() => Buffer.alloc(0));
    seen.push({ url: r.url(), kind: kindOf(r.url(), resp.headers()['content-type']),
      wire: sizes.responseBodySize + sizes.responseHeadersSize, decoded: body.length,
      encoding: resp.headers()['content-encoding'] || 'identity' });
  });
  await page.goto(`${base}/#/overview`);
  await page.getByRole('heading', { level: 2, name: /Open issues: \d+/ }).waitFor();
  await page.waitForLoadState('networkidle');
  await context.close();
  const by = {};
  for (const s of seen) {
    const k = (by[s.kind] ||= { n: 0, wire: 0, decoded: 0, encodings: new Set() });
    k.n += 1; k.wire += s.wire; k.decoded += s.decoded; k.encodings.add(s.encoding);
  }
  const kib = (b) => (b / 1024).toFixed(1);
  const total = seen.reduce((a, s) => ({ wire: a.wire + s.wire, decoded: a.decoded + s.decoded }), { wire: 0, decoded: 0 });
  console.log(`weight of / and the overview: ${seen.length} responses, ${kib(total.wire)} KiB on the wire, ${kib(total.decoded)} KiB decoded`);
  for (const [k, v] of Object.entries(by).sort()) {
    console.log(`  ${k.padEnd(12)} ${String(v.n).padStart(3)} responses  ${kib(v.wire).padStart(8)} KiB wire  ${kib(v.decoded).padStart(8)} KiB decoded  (${[...v.encodings].join(', ')})`);
  }
}

async function timeTo(label, hash, ready) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const { context, page } = await tab();
    const t0 = Date.now();
    await page.goto(`${base}/${hash}`);
    await ready(page);
    ms.push(Date.now() - t0);
    await context.close();
  }
  ms.sort((a, b) => a - b);
  console.log(`${label.padEnd(34)} median ${String(ms[Math.floor(ms.length / 2)]).padStart(5)} ms  max ${String(ms[ms.length - 1]).padStart(5)} ms  (${runs} fresh tabs)`);
}

try {
  await weigh();
  await timeTo('to the overview drawn', '#/overview',
    (p) => p.getByRole('heading', { level: 2, name: /Open issues: \d+/ }).waitFor());
  await timeTo('to the open issues listed', '#/issues',
    (p) => p.locator('main table tbody tr').first().waitFor());
  await timeTo('to the Map drawn', '#/map',
    (p) => p.locator('main svg').first().waitFor());
} catch (e) {
  problems.push(`step failed: ${e.message.split('\n')[0]}`);
}
await browser.close();
for (const p of problems) console.log(`ui-load: ${p}`);
process.exit(problems.length ? 1 : 0);
