/** The report of `unimed calibrate`: report.json, report.md and its SVG pictures, written beside calibration.json. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { histogramSvg } from '../eval/histogram.ts';
import { reliabilitySvg } from '../eval/svg.ts';
import type { Fitted } from './fit.ts';

export interface ReportContext {
  id: string;
  model: string;
  modelSha256: string;
  n: number;
  failed: number;
  foldA: number;
  foldB: number;
  coverage: number;
  abstention: number;
}

const f = (x: number, d = 4): string => x.toFixed(d);

/** Writes the pictures and report.json / report.md; returns the report's Markdown (also printed). */
export function writeReport(dir: string, fitted: Fitted, c: ReportContext): string {
  const { ood, sets } = fitted;
  const files = ['ood-scores.svg'];
  writeFileSync(
    join(dir, 'ood-scores.svg'),
    histogramSvg(
      [
        { name: 'fold A (fitted the means)', values: ood.scores_a, colour: '#4a7fd4' },
        { name: 'fold B (set the threshold)', values: ood.scores_b, colour: '#2a9d5c' },
      ],
      [{ name: 'threshold', value: ood.threshold, colour: '#e0533d' }],
      `Out-of-distribution score (${c.model}), abstain above ${f(ood.threshold, 2)}`,
      'Mahalanobis score',
      true,
    ),
  );
  for (const [name, s] of Object.entries(sets)) {
    const title = (when: string, ece: number): string => `Reliability, prompt set ${name}, ${when} (fold B, ECE ${f(ece)})`;
    writeFileSync(join(dir, `reliability-${name}-before.svg`), reliabilitySvg(s.reliability_before, title('T = 1', s.ece_before)));
    writeFileSync(
      join(dir, `reliability-${name}-after.svg`),
      reliabilitySvg(s.reliability_after, title(`T = ${f(s.temperature, 3)}`, s.ece_after)),
    );
    writeFileSync(
      join(dir, `conformal-${name}.svg`),
      histogramSvg(
        [{ name: 'fold B: 1 - p(true label)', values: s.scores, colour: '#4a7fd4' }],
        [{ name: `quantile at ${c.coverage}`, value: s.quantile, colour: '#e0533d' }],
        `Conformal scores, prompt set ${name}`,
        '1 - p(true label), temperature-scaled',
      ),
    );
    files.push(`reliability-${name}-before.svg`, `reliability-${name}-after.svg`, `conformal-${name}.svg`);
  }
  const json = {
    calibration_id: c.id,
    model: c.model,
    model_sha256: c.modelSha256,
    n: c.n,
    failed: c.failed,
    fold_a: c.foldA,
    fold_b: c.foldB,
    ood: { threshold: ood.threshold, in_distribution_abstention: c.abstention, fold_b_abstained: ood.abstained_b },
    prompt_sets: Object.fromEntries(
      Object.entries(sets).map(([name, s]) => [
        name,
        {
          temperature: s.temperature,
          accuracy: s.accuracy,
          ece_before: s.ece_before,
          ece_after: s.ece_after,
          coverage_target: c.coverage,
          coverage: s.coverage,
          mean_set_size: s.mean_set_size,
          empty_sets: s.empty_sets,
          conformal_quantile: s.quantile,
        },
      ]),
    ),
    files,
  };
  writeFileSync(join(dir, 'report.json'), JSON.stringify(json, null, 2) + '\n');
  const md = [
    `# Calibration ${c.id.slice(0, 12)}... of model ${c.model} (sha256 ${c.modelSha256.slice(0, 12)}...)`,
    '',
    `${c.n} images (${c.failed} failed, not used): fold A ${c.foldA} (class means, covariance, temperatures), fold B ${c.foldB} (threshold, conformal scores).`,
    '',
    '## Out-of-distribution detector (Mahalanobis)',
    '',
    `Threshold ${f(ood.threshold, 3)}: ${f(100 * ood.abstained_b, 1)}% of fold B above it (design ${f(100 * c.abstention, 1)}%). Histogram: ood-scores.svg.`,
    '',
    `## Prompt sets (ECE: 15 bins, fold B; coverage at ${c.coverage}: fold A, with fold B's conformal quantile)`,
    '',
    '| prompt set | accuracy | temperature | ECE before | ECE after | coverage | mean set size | empty sets |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(sets).map(
      ([name, s]) =>
        `| ${name} | ${f(s.accuracy)} | ${f(s.temperature)} | ${f(s.ece_before)} | ${f(s.ece_after)} | ${f(s.coverage)} | ${f(s.mean_set_size, 3)} | ${f(s.empty_sets, 3)} |`,
    ),
    '',
    `Pictures: ${files.join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'report.md'), md);
  return md;
}
