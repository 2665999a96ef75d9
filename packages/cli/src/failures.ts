/**
 * What happens when an item fails: a failure of that item alone is recorded (path, status, code, message) and
 * the run goes on; a failure that would fail every item the same way ends the run at once.
 */
import { CommandError } from './args.ts';
import { ApiError } from './client.ts';

export interface Failure {
  path: string;
  /** HTTP status, or "" when the file could not be read */
  status: number | '';
  code: string;
  message: string;
}

/** 503s that an image can cause (its batch killed or failed the worker): that image's failure, not the service's. */
const ITEM_503 = new Set(['worker_failed', 'inference_failed']);

/**
 * Ends the run: no answer at all after the retries (service unreachable), refused credentials (401/403), an
 * unknown model or prompt set (404), still overloaded after the retries (429, 503 other than a failed worker),
 * or a CommandError (the model changed mid-run). Marking every remaining image failed would say nothing about
 * the images; a rerun resumes instead.
 */
export function isFatal(error: unknown): boolean {
  if (error instanceof CommandError) return true;
  if (!(error instanceof ApiError)) return false;
  if (error.status === 503) return !ITEM_503.has(error.code);
  return [0, 401, 403, 404, 429].includes(error.status);
}

export function failureOf(path: string, error: unknown): Failure {
  if (error instanceof ApiError) return { path, status: error.status, code: error.code, message: error.detail };
  const code = (error as { code?: unknown }).code;
  return {
    path,
    status: '',
    code: typeof code === 'string' ? code.toLowerCase() : 'unreadable',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Every answer of a run must come from one model (behind a load balancer, replicas may differ in a rollout). */
export class ModelGuard {
  model: string | undefined;
  sha256: string | undefined;

  constructor(expected?: { model: string; sha256: string }) {
    this.model = expected?.model;
    this.sha256 = expected?.sha256;
  }

  check(model: string, sha256: string | undefined): void {
    if (sha256 === undefined) throw new CommandError('the service did not say which model answered (no X-Model-Sha256 header)');
    if (this.sha256 !== undefined && this.sha256 !== sha256) {
      throw new CommandError(
        `model ${model} sha256 ${sha256} answered, but this run uses ${this.model} sha256 ${this.sha256} (mixed model versions behind the load balancer?); stopping`,
      );
    }
    this.model = model;
    this.sha256 = sha256;
  }
}
