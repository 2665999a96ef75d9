/** The eval report as plain-text tables for the terminal. */
import type { Metrics } from './metrics.ts';

/** The report.json record: the metrics (less the reliability bins, which only the SVG draws) and their context. */
export type ReportView = Omit<Metrics, 'reliability'> & {
  labels: string[];
  failed: number;
  model: string | null;
  model_sha256: string | null;
  prompt_set: { name: string; version: string } | null;
};

function table(header: string[], rows: string[][], rightAligned: (col: number) => boolean): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (rightAligned(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

const fixed = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(4));

export function reportTables(r: ReportView): string {
  const parts: string[] = [];
  const set = r.prompt_set === null ? '' : `, prompt set ${r.prompt_set.name} (${r.prompt_set.version})`;
  parts.push(`model ${r.model ?? '?'} (sha256 ${r.model_sha256?.slice(0, 12) ?? '?'}...)${set}: ${r.n} images, ${r.failed} failed\n`);
  parts.push(
    table(
      ['metric', 'value'],
      [
        ['accuracy', fixed(r.accuracy)],
        ['balanced accuracy', fixed(r.balanced_accuracy)],
        ['macro AUROC (one-vs-rest)', fixed(r.macro_auroc)],
        ['ECE (15 bins)', fixed(r.ece)],
      ],
      (c) => c === 1,
    ),
  );
  parts.push(
    table(
      ['class', 'precision', 'recall', 'F1', 'AUROC', 'support'],
      r.labels.map((label) => {
        const m = r.per_class[label]!;
        return [label, fixed(m.precision), fixed(m.recall), fixed(m.f1), fixed(m.auroc), String(m.support)];
      }),
      (c) => c > 0,
    ),
  );
  parts.push('confusion matrix (rows: true class, columns: predicted)\n');
  parts.push(
    table(
      ['true \\ predicted', ...r.labels],
      r.labels.map((label, i) => [label, ...r.confusion[i]!.map(String)]),
      (c) => c > 0,
    ),
  );
  return parts.join('\n');
}
