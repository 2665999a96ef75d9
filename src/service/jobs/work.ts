/**
 * What a job does: classify each series of a study (or the one series it names) as /classify/series does and,
 * with a destination, store each series' DICOM SR there (STOW-RS). The SR's UIDs are derived from the evaluation,
 * so a job run again after a crash stores the same instances, which the destination already holds: success.
 */
import type { SourceAccess } from '../../dicomweb/access.ts';
import { checkClassSource, resolveClasses, type ClassifyFields } from '../classes.ts';
import { classifySeries, type SeriesClassification } from '../classify.ts';
import { workContext } from '../context.ts';
import { reportToStore } from '../report.ts';
import type { ModelChooser, UseCaseServices } from '../use-case.ts';
import type { JobRow } from './store.ts';

/** The body of POST /jobs as kept in the job's row. */
export interface JobRequest extends ClassifyFields {
  source: string;
  study: string;
  series?: string;
  /** A DICOMweb source to store each series' SR in (STOW-RS). */
  destination?: string;
}

/** What became of one series: its classification and, with a destination, the SR stored for it. */
export interface SeriesOutcome {
  series: string;
  classification: unknown;
  report?: { series: string; instance: string; outcome: 'stored' | 'already_stored' };
}

export interface StudyWork {
  services: UseCaseServices;
  chooseModel: ModelChooser;
  maxStudySeries: number;
  /** The classification of one series as /classify/series answers it. */
  render: (classification: SeriesClassification, fields: ClassifyFields) => unknown;
  /** Where each request made to a source for the job is recorded (the audit log). */
  record: (job: JobRow, access: SourceAccess) => void;
}

/**
 * Refuses at submission what the job could never do once run: an unknown model or prompt set, labels and
 * templates the limits refuse. Checked against the loaded models; before they are loaded, the run checks.
 */
export function checkJobRequest(request: JobRequest, chooseModel: ModelChooser | undefined, services: UseCaseServices): void {
  checkClassSource(request);
  if (chooseModel !== undefined) resolveClasses(chooseModel(request.model), request, services.limits);
}

/** Runs the job with the grant its creating key had: the sources its row holds. */
export async function classifyStudy(job: JobRow, signal: AbortSignal, work: StudyWork): Promise<unknown> {
  const { source, study, series, destination, ...fields } = job.request as JobRequest;
  const sourceGrant = {
    allowed: job.sources.includes('*') ? ('all' as const) : new Set(job.sources),
    record: (access: SourceAccess) => work.record(job, access),
  };
  const context = workContext({ owner: `job:${job.id}`, signal, sourceGrant });
  // The destination is checked before any work: a job that could not store its results fails at once.
  if (destination !== undefined) work.services.sources.authorize(destination, context);
  const uids = series === undefined ? await work.services.sources.listStudySeries(source, study, context, work.maxStudySeries) : [series];
  const results: SeriesOutcome[] = [];
  for (const uid of uids) {
    const input = {
      series: { reference: { source, study, series: uid } },
      slices: undefined,
      rendering: {},
      fields,
      report: destination !== undefined,
    };
    const classification = await classifySeries(input, work.chooseModel, work.services, context);
    const outcome: SeriesOutcome = { series: uid, classification: work.render(classification, fields) };
    if (destination !== undefined) {
      const { model, classes, predictions, trust, instances = [] } = classification;
      const policy = work.services.trustPolicy;
      const report = reportToStore({ model, classes, predictions, trust, policy, instances, rendering: {} });
      const { study: srStudy, series: srSeries, instance } = report.uids;
      const stored = await work.services.sources.storeInstance(
        destination,
        { study: srStudy, series: srSeries, instance, bytes: report.bytes },
        context,
      );
      outcome.report = { series: report.uids.series, instance: report.uids.instance, outcome: stored };
    }
    results.push(outcome);
  }
  return { series: results };
}
