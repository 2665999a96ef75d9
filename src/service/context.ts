import type { SourceGrant } from '../dicomweb/access.ts';
import type { TextWork } from '../models/types.ts';

/** Where a use case records the steps of its work (decode, queue wait, inference) in the caller's trace. */
export interface WorkTrace {
  /** `traceparent` (and `tracestate`), sent on outgoing requests made for this work. */
  readonly headers: Readonly<Record<string, string>>;
  step(name: string, fromMs: number, toMs: number): void;
}

/**
 * Everything a use case knows of who asked and for how long: built once per request (or per background job)
 * and never changed. The engine, the decoders and the DICOMweb client each read the part they need.
 */
export interface WorkContext extends TextWork {
  /** Whose work this is: the batcher's fair shares are per owner (an API key, or the request itself). */
  readonly owner: string;
  readonly traceHeaders?: Readonly<Record<string, string>>;
  readonly trace?: WorkTrace;
  /** The DICOMweb sources the work may reach and where its accesses are recorded; without one it reaches none. */
  readonly sourceGrant?: SourceGrant;
}

/** The context of one piece of work; with no HTTP request behind it, `owner` names the job. */
export function workContext(parts: {
  owner: string;
  cachePartition?: string;
  signal?: AbortSignal;
  deadline?: number;
  trace?: WorkTrace;
  sourceGrant?: SourceGrant;
}): WorkContext {
  const { owner, cachePartition, signal, deadline, trace, sourceGrant } = parts;
  return Object.freeze({
    owner,
    ...(cachePartition === undefined ? {} : { cachePartition }),
    ...(sourceGrant === undefined ? {} : { sourceGrant }),
    ...(signal === undefined ? {} : { signal }),
    ...(deadline === undefined ? {} : { deadline }),
    ...(trace === undefined
      ? {}
      : {
          trace,
          traceHeaders: trace.headers,
          // The batcher's timings become the trace's `queue wait` and `inference` steps.
          onBatch: ({ queuedAt, startedAt, endedAt }: { queuedAt: number; startedAt: number; endedAt: number }) => {
            trace.step('queue wait', queuedAt, startedAt);
            trace.step('inference', startedAt, endedAt);
          },
        }),
  });
}
