/**
 * The trust figures of `unimed eval` (issue 23; docs/cli.md), from the answers' own fields: abstentions by
 * reason, the empirical coverage and size of `prediction_set` (with --coverage), and, given out-of-distribution
 * images (--ood), how well the answers' `out_of_distribution.score` separates them from the labelled images:
 * AUROC with OOD as the positive class, the FPR (share of in-distribution images flagged) at the score that 95%
 * of the OOD images reach (TPR 95%), and both rates at the calibration's own threshold. A service without a
 * calibration answers none of these fields: the figures are then null and `notes` says why.
 */
import { fprAtTpr } from '../calibrate/maths.ts';
import { auroc } from './metrics.ts';

export interface TrustFields {
  abstained?: { reason: string; score: number; threshold: number } | null;
  out_of_distribution?: { score: number; threshold: number } | null;
  calibration?: { id: string; temperature: number } | null;
  prediction_set?: { coverage: number; labels: string[] } | null;
}

export interface TrustReport {
  calibration: { id: string; temperature: number } | null;
  abstained: { n: number; by_reason: Record<string, number>; share: number } | null;
  coverage: { target: number; n: number; empirical: number; mean_set_size: number; empty_sets: number } | null;
  ood: {
    n_in_distribution: number;
    n_ood: number;
    auroc: number | null;
    fpr_at_95_tpr: number;
    threshold_at_95_tpr: number;
    calibration_threshold: number;
    tpr_at_calibration_threshold: number;
    fpr_at_calibration_threshold: number;
    ood_abstained: number;
  } | null;
  notes: string[];
}

/** Trust fields of an answer, read defensively (a service without calibration has none). */
export function trustFields(body: unknown): TrustFields {
  return body as TrustFields;
}

export function trustReport(
  answers: readonly { truth: string; fields: TrustFields }[],
  ood: readonly TrustFields[] | undefined,
  coverage: number | undefined,
): TrustReport {
  const notes: string[] = [];
  const calibration = answers.find((a) => a.fields.calibration != null)?.fields.calibration ?? null;
  if (calibration === null) notes.push('the answers name no calibration (the service has none for this model, or its trust policy is off)');
  const ids = new Set(answers.flatMap((a) => (a.fields.calibration == null ? [] : [a.fields.calibration.id])));
  if (ids.size > 1) notes.push(`the answers name ${ids.size} different calibrations (replicas differ?)`);

  let abstained: TrustReport['abstained'] = null;
  if (answers.some((a) => a.fields.abstained !== undefined)) {
    const byReason: Record<string, number> = {};
    for (const a of answers)
      if (a.fields.abstained != null) byReason[a.fields.abstained.reason] = (byReason[a.fields.abstained.reason] ?? 0) + 1;
    const n = Object.values(byReason).reduce((s, v) => s + v, 0);
    abstained = { n, by_reason: byReason, share: answers.length === 0 ? 0 : n / answers.length };
  } else notes.push('the answers carry no "abstained" field');

  let cov: TrustReport['coverage'] = null;
  if (coverage !== undefined) {
    const sets = answers.flatMap((a) =>
      a.fields.prediction_set == null ? [] : [{ truth: a.truth, labels: a.fields.prediction_set.labels }],
    );
    if (sets.length === 0) notes.push(`no answer has a prediction_set at coverage ${coverage} (not calibrated, or every answer abstained)`);
    else
      cov = {
        target: coverage,
        n: sets.length,
        empirical: sets.filter((s) => s.labels.includes(s.truth)).length / sets.length,
        mean_set_size: sets.reduce((s, x) => s + x.labels.length, 0) / sets.length,
        empty_sets: sets.filter((s) => s.labels.length === 0).length / sets.length,
      };
  }

  let oodReport: TrustReport['ood'] = null;
  if (ood !== undefined) {
    const inScores = answers.flatMap((a) => (a.fields.out_of_distribution == null ? [] : [a.fields.out_of_distribution]));
    const outScores = ood.flatMap((f) => (f.out_of_distribution == null ? [] : [f.out_of_distribution]));
    if (inScores.length === 0 || outScores.length === 0)
      notes.push('no out_of_distribution scores in the answers (no calibration, or trust policy off): no AUROC');
    else {
      const id = inScores.map((s) => s.score);
      const out = outScores.map((s) => s.score);
      const at95 = fprAtTpr(id, out, 0.95);
      const threshold = inScores[0]!.threshold;
      oodReport = {
        n_in_distribution: id.length,
        n_ood: out.length,
        auroc: auroc([...id, ...out], [...id.map(() => false), ...out.map(() => true)]),
        fpr_at_95_tpr: at95.fpr,
        threshold_at_95_tpr: at95.threshold,
        calibration_threshold: threshold,
        tpr_at_calibration_threshold: out.filter((s) => s > threshold).length / out.length,
        fpr_at_calibration_threshold: id.filter((s) => s > threshold).length / id.length,
        ood_abstained: ood.filter((f) => f.abstained != null).length / ood.length,
      };
    }
  }
  return { calibration, abstained, coverage: cov, ood: oodReport, notes };
}

const f4 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(4));

/** The trust part of the terminal report. */
export function trustText(r: TrustReport): string {
  const lines: string[] = ['', 'trust'];
  lines.push(
    `  calibration: ${r.calibration === null ? 'none' : `${r.calibration.id.slice(0, 12)}... (temperature ${r.calibration.temperature})`}`,
  );
  if (r.abstained !== null)
    lines.push(
      `  abstained: ${r.abstained.n} (${f4(r.abstained.share)})${Object.entries(r.abstained.by_reason)
        .map(([k, v]) => `, ${k} ${v}`)
        .join('')}`,
    );
  if (r.coverage !== null)
    lines.push(
      `  prediction sets at coverage ${r.coverage.target}: empirical coverage ${f4(r.coverage.empirical)}, mean set size ${r.coverage.mean_set_size.toFixed(3)}, empty ${f4(r.coverage.empty_sets)} (${r.coverage.n} answers not abstained)`,
    );
  if (r.ood !== null)
    lines.push(
      `  out of distribution (${r.ood.n_ood} OOD vs ${r.ood.n_in_distribution} labelled images): AUROC ${f4(r.ood.auroc)}, FPR at 95% TPR ${f4(r.ood.fpr_at_95_tpr)}`,
      `    at the calibration's threshold ${r.ood.calibration_threshold}: OOD flagged ${f4(r.ood.tpr_at_calibration_threshold)}, labelled images flagged ${f4(r.ood.fpr_at_calibration_threshold)}; OOD abstained ${f4(r.ood.ood_abstained)}`,
    );
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n') + '\n';
}
