/**
 * The two pictures of an eval report, as standalone SVG (no script, no external font or style): the confusion
 * matrix as a heat map (shade = share of the true class's row, number = count) and a reliability diagram
 * (accuracy against mean top-1 probability per bin, the diagonal being perfect calibration, with the share of
 * items per bin below).
 */
import type { ReliabilityBin } from './metrics.ts';

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Wide enough for the title too (bold 14 px: about 8.5 px a character). */
export function svg(minWidth: number, height: number, body: string[], title: string): string {
  const width = Math.max(minWidth, Math.ceil(20 + title.length * 8.5));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

const f1 = (x: number): string => x.toFixed(1);

export function confusionSvg(labels: readonly string[], confusion: readonly (readonly number[])[], title: string): string {
  const cell = 44;
  const longest = Math.max(...labels.map((l) => l.length), 4);
  const margin = Math.min(220, 12 + longest * 7);
  const top = 40 + margin;
  const size = cell * labels.length;
  const body: string[] = [];
  body.push(`<text x="${f1(margin + size / 2)}" y="${f1(top - margin + 8)}" text-anchor="middle" fill="#555">predicted</text>`);
  body.push(`<text transform="translate(14 ${f1(top + size / 2)}) rotate(-90)" text-anchor="middle" fill="#555">true</text>`);
  labels.forEach((label, i) => {
    const y = top + i * cell + cell / 2 + 4;
    body.push(`<text x="${margin - 6}" y="${f1(y)}" text-anchor="end">${esc(label)}</text>`);
    const x = margin + i * cell + cell / 2 + 4;
    body.push(`<text transform="translate(${f1(x)} ${top - 6}) rotate(-60)">${esc(label)}</text>`);
  });
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      const share = total === 0 ? 0 : count / total;
      const light = Math.round(255 - share * 200);
      const fill = `rgb(${light},${Math.round(255 - share * 120)},255)`;
      body.push(
        `<rect x="${margin + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"><title>${esc(`true ${labels[i]}, predicted ${labels[j]}: ${count}`)}</title></rect>`,
      );
      body.push(
        `<text x="${margin + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? '#fff' : '#000'}">${count}</text>`,
      );
    });
  });
  // The column labels lean right, past the last column, by up to cos(60 deg) of their length.
  return svg(margin + size + 20 + Math.ceil(longest * 3.5), top + size + 20, body, title);
}

export function reliabilitySvg(bins: readonly ReliabilityBin[], title: string): string {
  const left = 50;
  const top = 40;
  const plot = 320;
  const histogram = 70;
  const n = bins.reduce((a, b) => a + b.count, 0);
  const x = (v: number): number => left + v * plot;
  const y = (v: number): number => top + plot - v * plot;
  const body: string[] = [];
  body.push(`<rect x="${left}" y="${top}" width="${plot}" height="${plot}" fill="none" stroke="#999"/>`);
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    body.push(`<text x="${left - 6}" y="${f1(y(t) + 4)}" text-anchor="end" fill="#555">${t.toFixed(1)}</text>`);
    body.push(`<text x="${f1(x(t))}" y="${top + plot + 16}" text-anchor="middle" fill="#555">${t.toFixed(1)}</text>`);
  }
  for (const b of bins) {
    if (b.count === 0 || b.accuracy === null || b.confidence === null) continue;
    const w = (b.upper - b.lower) * plot;
    body.push(
      `<rect x="${f1(x(b.lower))}" y="${f1(y(b.accuracy))}" width="${f1(w)}" height="${f1(b.accuracy * plot)}" fill="#4a7fd4" stroke="#fff"><title>${esc(`top-1 probability ${b.lower.toFixed(3)}-${b.upper.toFixed(3)}: ${b.count} items, accuracy ${b.accuracy.toFixed(3)}, mean probability ${b.confidence.toFixed(3)}`)}</title></rect>`,
    );
    const gapTop = Math.max(b.accuracy, b.confidence);
    const gap = Math.abs(b.accuracy - b.confidence);
    if (gap > 0)
      body.push(
        `<rect x="${f1(x(b.lower))}" y="${f1(y(gapTop))}" width="${f1(w)}" height="${f1(gap * plot)}" fill="#e0533d" fill-opacity="0.35"/>`,
      );
    const h = n === 0 ? 0 : (b.count / n) * histogram;
    body.push(
      `<rect x="${f1(x(b.lower))}" y="${f1(top + plot + 30 + histogram - h)}" width="${f1(w)}" height="${f1(h)}" fill="#888" stroke="#fff"/>`,
    );
  }
  body.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#333" stroke-dasharray="4 3"/>`);
  body.push(
    `<text x="${left + plot / 2}" y="${top + plot + 30 + histogram + 18}" text-anchor="middle" fill="#555">top-1 probability (15 bins)</text>`,
  );
  body.push(`<text transform="translate(14 ${top + plot / 2}) rotate(-90)" text-anchor="middle" fill="#555">accuracy</text>`);
  const legend: [string, string][] = [
    ['#4a7fd4', 'accuracy of the bin'],
    ['#e0533d', 'gap to mean probability'],
    ['#888', 'share of items (below)'],
  ];
  legend.forEach(([colour, text], i) => {
    body.push(
      `<rect x="${left + plot + 16}" y="${top + 4 + i * 20}" width="12" height="12" fill="${colour}"${colour === '#e0533d' ? ' fill-opacity="0.35"' : ''}/>`,
    );
    body.push(`<text x="${left + plot + 34}" y="${top + 14 + i * 20}">${text}</text>`);
  });
  body.push(
    `<line x1="${left + plot + 16}" y1="${top + 70}" x2="${left + plot + 28}" y2="${top + 70}" stroke="#333" stroke-dasharray="4 3"/>`,
  );
  body.push(`<text x="${left + plot + 34}" y="${top + 74}">perfect calibration</text>`);
  return svg(left + plot + 200, top + plot + 30 + histogram + 30, body, title);
}
