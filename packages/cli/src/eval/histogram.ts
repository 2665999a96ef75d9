/**
 * Score histograms as standalone SVG (as the other eval pictures): one or more series of scores over shared bins,
 * drawn as outlined bars, with vertical marker lines (a threshold). Scores spanning orders of magnitude (the
 * Mahalanobis score: tens in distribution, thousands outside) are binned on log10 when `log` is set.
 */
import { esc, svg } from './svg.ts';

export interface Series {
  name: string;
  values: readonly number[];
  colour: string;
}

export interface Marker {
  name: string;
  value: number;
  colour: string;
}

const f1 = (x: number): string => x.toFixed(1);

export function histogramSvg(series: readonly Series[], markers: readonly Marker[], title: string, xLabel: string, log = false): string {
  const bins = 40;
  const left = 50;
  const top = 40;
  const width = 480;
  const height = 220;
  const t = (v: number): number => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const all = [...series.flatMap((s) => s.values), ...markers.map((m) => m.value)].map(t).filter(Number.isFinite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const bin = (v: number): number => Math.min(bins - 1, Math.max(0, Math.floor(((t(v) - lo) / (hi - lo)) * bins)));
  const shares = series.map((s) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of s.values) counts[bin(v)]!++;
    return counts.map((c) => (s.values.length === 0 ? 0 : c / s.values.length));
  });
  const peak = Math.max(1e-9, ...shares.flat());
  const x = (u: number): number => left + ((u - lo) / (hi - lo)) * width;
  const body: string[] = [`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`];
  shares.forEach((counts, k) => {
    counts.forEach((share, b) => {
      if (share === 0) return;
      const h = (share / peak) * height;
      const x0 = x(lo + ((hi - lo) * b) / bins);
      body.push(
        `<rect x="${f1(x0)}" y="${f1(top + height - h)}" width="${f1(width / bins)}" height="${f1(h)}" fill="${series[k]!.colour}" fill-opacity="0.45" stroke="${series[k]!.colour}"/>`,
      );
    });
  });
  for (const m of markers) {
    const mx = x(t(m.value));
    body.push(
      `<line x1="${f1(mx)}" y1="${top}" x2="${f1(mx)}" y2="${top + height}" stroke="${m.colour}" stroke-width="2" stroke-dasharray="5 3"/>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const u = lo + ((hi - lo) * i) / 4;
    const label = log ? (10 ** u).toPrecision(3) : u.toPrecision(3);
    body.push(`<text x="${f1(x(u))}" y="${top + height + 16}" text-anchor="middle" fill="#555">${esc(String(Number(label)))}</text>`);
  }
  body.push(
    `<text x="${left + width / 2}" y="${top + height + 36}" text-anchor="middle" fill="#555">${esc(xLabel)}${log ? ' (log scale)' : ''}</text>`,
  );
  body.push(`<text transform="translate(14 ${top + height / 2}) rotate(-90)" text-anchor="middle" fill="#555">share of images</text>`);
  const legend = [
    ...series.map((s) => ({ colour: s.colour, text: `${s.name} (${s.values.length})`, line: false })),
    ...markers.map((m) => ({ colour: m.colour, text: `${m.name} ${m.value.toPrecision(4)}`, line: true })),
  ];
  legend.forEach((l, i) => {
    const y = top + 4 + i * 20;
    body.push(
      l.line
        ? `<line x1="${left + width + 16}" y1="${y + 6}" x2="${left + width + 28}" y2="${y + 6}" stroke="${l.colour}" stroke-width="2" stroke-dasharray="5 3"/>`
        : `<rect x="${left + width + 16}" y="${y}" width="12" height="12" fill="${l.colour}" fill-opacity="0.45" stroke="${l.colour}"/>`,
    );
    body.push(`<text x="${left + width + 34}" y="${y + 10}">${esc(l.text)}</text>`);
  });
  return svg(left + width + 230, top + height + 50, body, title);
}
