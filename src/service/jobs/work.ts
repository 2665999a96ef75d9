/** What a job does: classify each series of a study (or the one series it names) as /classify/series does. */
import type { SourceAccess } from '../../dicomweb/access.ts';
import { checkClassSource, resolveClasses, type ClassifyFields } from '../classes.ts';
import { classifySeries, type SeriesClassification } from '../classify.ts';
import { workContext } from '../context.ts';
import type { ModelChooser, UseCaseServices } from '../use-case.ts';
import type { JobRow } from './store.ts';

/** The body of POST /jobs as kept in the job's row. */
export interface JobRequest extends ClassifyFields {
  source: string;
  study: string;
  series?: string;
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
  const { source, study, series, ...fields } = job.request as JobRequest;
  const sourceGrant = {
    allowed: job.sources.includes('*') ? ('all' as const) : new Set(job.sources),
    record: (access: SourceAccess) => work.record(job, access),
  };
  const context = workContext({ owner: `job:${job.id}`, signal, sourceGrant });
  const uids = series === undefined ? await work.services.sources.listStudySeries(source, study, context, work.maxStudySeries) : [series];
  const results = [];
  for (const uid of uids) {
    const input = { series: { reference: { source, study, series: uid } }, slices: undefined, rendering: {}, fields };
    const classification = await classifySeries(input, work.chooseModel, work.services, context);
    results.push({ series: uid, classification: work.render(classification, fields) });
  }
  return { series: results };
}
