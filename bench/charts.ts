/** Two small dependency-free SVG charts for the benchmark summary. */

const W = 640;
const H = 360;
const M = { left: 64, right: 170, top: 36, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(title: string, xLabel: string, yLabel: string, yMax: number, body: string, xTicks: string): string {
  const ph = H - M.top - M.bottom;
  const pw = W - M.left - M.right;
  let yTicks = '';
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const y = M.top + ph - (ph * i) / 5;
    yTicks += `<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2 - M.right / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>
${yTicks}${xTicks}
<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>
<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>
<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>
<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
${body}
</svg>
`;
}

export interface Series {
  label: string;
  points: { x: number; y: number }[];
}

/** Throughput against concurrency (log2 x axis), plus horizontal reference lines (the plain-loop limit). */
export function throughputChart(title: string, series: Series[], refs: { label: string; y: number }[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMin = Math.log2(Math.max(1, Math.min(...xs)));
  const xMax = Math.log2(Math.max(2, ...xs));
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p.y)), ...refs.map((r) => r.y)) * 1.1);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number): number => M.left + (pw * (Math.log2(x) - xMin)) / Math.max(1e-9, xMax - xMin);
  const py = (y: number): number => M.top + ph - (ph * y) / yMax;
  let xTicks = '';
  for (const x of [...new Set(xs)].sort((a, b) => a - b))
    xTicks += `<text x="${px(x)}" y="${M.top + ph + 16}" text-anchor="middle">${x}</text>`;
  let body = '';
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    body += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`;
    for (const p of s.points)
      body += `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${c}"><title>${p.y.toFixed(2)}/s</title></circle>`;
    body += `<rect x="${W - M.right + 12}" y="${M.top + 18 * i}" width="12" height="3" fill="${c}"/><text x="${W - M.right + 28}" y="${M.top + 18 * i + 5}">${esc(s.label)}</text>`;
  });
  refs.forEach((r, j) => {
    const i = series.length + j;
    body += `<line x1="${M.left}" x2="${M.left + pw}" y1="${py(r.y)}" y2="${py(r.y)}" stroke="#555" stroke-dasharray="6 4"/>`;
    body += `<line x1="${W - M.right + 12}" x2="${W - M.right + 24}" y1="${M.top + 18 * i + 1}" y2="${M.top + 18 * i + 1}" stroke="#555" stroke-dasharray="3 2"/><text x="${W - M.right + 28}" y="${M.top + 18 * i + 5}">${esc(r.label)}</text>`;
  });
  return frame(title, 'concurrency (clients)', 'requests / s', yMax, body, xTicks);
}

/** Latency percentiles (p50, p90, p99) per scenario as grouped bars. */
export function latencyChart(title: string, rows: { label: string; p50: number; p90: number; p99: number }[]): string {
  const yMax = niceMax(Math.max(1, ...rows.map((r) => r.p99)) * 1.05);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const group = pw / Math.max(1, rows.length);
  const bar = Math.min(24, (group - 10) / 3);
  let body = '';
  let xTicks = '';
  rows.forEach((r, i) => {
    const x0 = M.left + group * i + (group - 3 * bar) / 2;
    (['p50', 'p90', 'p99'] as const).forEach((k, j) => {
      const h = (ph * r[k]) / yMax;
      body += `<rect x="${(x0 + j * bar).toFixed(1)}" y="${(M.top + ph - h).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[j]!}"><title>${esc(r.label)} ${k} ${r[k].toFixed(1)} ms</title></rect>`;
    });
    xTicks += `<text x="${(M.left + group * i + group / 2).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${esc(r.label)}</text>`;
  });
  ['p50', 'p90', 'p99'].forEach((k, j) => {
    body += `<rect x="${W - M.right + 12}" y="${M.top + 18 * j - 4}" width="12" height="10" fill="${COLORS[j]!}"/><text x="${W - M.right + 28}" y="${M.top + 18 * j + 5}">${k}</text>`;
  });
  return frame(title, 'scenario', 'latency (ms)', yMax, body, xTicks);
}
