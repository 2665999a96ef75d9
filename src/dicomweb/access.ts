/**
 * Who may reach which DICOMweb source, and the record of every request made to one: a caller's grant (its API
 * key's `sources=`) travels with its work, is checked for every reference before anything leaves the service, and
 * each request sent to a source is reported once it ends (the audit trail keeps a keyed hash of its UIDs).
 */
import { ServiceError } from '../errors.ts';

/** One request sent to a source on a caller's behalf. */
export interface SourceAccess {
  source: string;
  /**
   * `retrieve`: one instance (WADO-RS); `list`: a series' instances or a study's series (QIDO-RS); `store`: one
   * instance stored (STOW-RS, with the QIDO-RS queries that check whether the source holds it); `search`: a page
   * of a study search (QIDO-RS, a watch's), which names no study.
   */
  operation: 'retrieve' | 'list' | 'store' | 'search';
  /** Absent for a study search. */
  study?: string;
  /** Absent for a study's series listing. */
  series?: string;
  instance?: string;
  /** `ok`: answered; `not_found`: the source has no such object; `failed`: unreachable, refused, timed out, malformed. */
  outcome: 'ok' | 'not_found' | 'failed';
}

/** The sources a piece of work may reach, and where its accesses are recorded. */
export interface SourceGrant {
  /** Every configured source, or those named. */
  readonly allowed: 'all' | ReadonlySet<string>;
  record(access: SourceAccess): void;
}

/** Work without a grant (a piece of work nobody authorised for any source) reaches none. */
export const NO_SOURCES: SourceGrant = Object.freeze({ allowed: new Set<string>(), record: () => undefined });

/**
 * 403 unless the grant names the source. Checked before whether the source exists, so a caller learns nothing of
 * the names of sources it may not use.
 */
export function checkGrant(grant: SourceGrant, source: string): void {
  if (grant.allowed === 'all' || grant.allowed.has(source)) return;
  throw new ServiceError('forbidden', `this API key may not reach DICOMweb source "${source}" (its sources= does not name it)`);
}
