// A time-series line chart drawn as inline SVG (no library): the points, the SLO threshold as
// a dashed line with the side that raises an issue shaded, and anomalies as ringed dots. Each
// dot has a <title> (hover), and the whole chart an aria-label; the page lists the numbers too.

import { svg } from './dom.js';

const W = 720;
const H = 220;
const PAD = { l: 56, r: 16, t: 14, b: 30 };

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(a < 10 ? 3 : 1));
}
export { fmt as formatValue };

function timeLabel(ms, span) {
  const d = new Date(ms);
  if (span > 36 * 3600e3) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  if (span < 15 * 60e3) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/// points: [{at, value}], slo: {op, threshold} or null, anomalies: [{at, value, text}];
/// `from` and `to` (ms) fix the time axis.
export function lineChart({ points, slo, anomalies, from, to, label }) {
  const values = points.map((p) => p.value).concat(anomalies.map((a) => a.value).filter(Number.isFinite));
  if (slo) values.push(slo.threshold);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const pad = (hi - lo) * 0.08;
  lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
  hi += pad;
  // From the first point (a little before it), not the window's start: a new SLX's few points
  // would otherwise huddle at the right edge.
  const first = Math.min(...points.map((p) => p.at));
  const t1 = Math.max(to, ...points.map((p) => p.at), first + 1000);
  const t0 = Math.max(from, first - (t1 - first) * 0.04);
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  const g = svg('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label,
  });
  // Horizontal grid and value axis.
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    g.append(svg('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
    g.append(svg('text', { class: 'tick', x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  // Time axis: five labels.
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    g.append(svg('text', { class: 'tick', x: x(t), y: H - 8, 'text-anchor': anchor }, timeLabel(t, t1 - t0)));
  }
  if (slo) {
    const ty = y(slo.threshold);
    const above = slo.op.startsWith('>');
    const top = above ? PAD.t : ty;
    const bottom = above ? ty : H - PAD.b;
    g.append(svg('rect', { class: 'breach', x: PAD.l, y: top, width: W - PAD.l - PAD.r, height: Math.max(0, bottom - top) }));
    g.append(svg('line', { class: 'slo', x1: PAD.l, x2: W - PAD.r, y1: ty, y2: ty }));
    g.append(svg('text', { class: 'slo-label', x: W - PAD.r - 4, y: above ? ty - 5 : ty + 14, 'text-anchor': 'end' },
      `issue at ${slo.op} ${fmt(slo.threshold)}`));
  }
  if (points.length > 1) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    g.append(svg('path', { class: 'series', d }));
  }
  const breached = (v) => slo && (slo.op === '>=' ? v >= slo.threshold : slo.op === '>' ? v > slo.threshold
    : slo.op === '<=' ? v <= slo.threshold : v < slo.threshold);
  for (const p of points) {
    g.append(svg('circle', { class: breached(p.value) ? 'dot over' : 'dot', cx: x(p.at), cy: y(p.value), r: points.length > 120 ? 1.6 : 2.8 },
      svg('title', {}, `${fmt(p.value)} at ${new Date(p.at).toLocaleString()}`)));
  }
  for (const a of anomalies) {
    if (!Number.isFinite(a.value)) continue;
    g.append(svg('circle', { class: 'anomaly', cx: x(a.at), cy: y(a.value), r: 7 },
      svg('title', {}, `${a.text} (${new Date(a.at).toLocaleString()})`)));
  }
  return g;
}
