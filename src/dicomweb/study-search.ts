/**
 * A QIDO-RS study search (PS3.18 10.6): the query of one page (the configured matching keys, `limit`, `offset`),
 * and the answer read for each study's Study Instance UID.
 */
import type { StudyFilters } from '../config/watches.ts';
import { uidListing } from './qido.ts';

export interface StudyPage {
  /** Studies asked for (`limit`), and how many the search skips (`offset`). */
  limit: number;
  offset: number;
}

/** Largest answer read for one page: generous for the attributes a PACS returns per study whatever it is asked. */
export const studyPageBytes = (limit: number): number => Math.max(1024 * 1024, limit * 16 * 1024);

/** `ModalitiesInStudy=CT&includefield=0020000D&limit=100&offset=0`: the filters as the configuration checked them. */
export function studySearchQuery(filters: StudyFilters, page: StudyPage): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value !== undefined) query.set(key, value);
  query.set('includefield', '0020000D');
  query.set('limit', String(page.limit));
  query.set('offset', String(page.offset));
  return query.toString();
}

/** The Study Instance UIDs of a QIDO-RS study search answer, or undefined when it is not a DICOM JSON list of studies. */
export function studyListing(body: Buffer): string[] | undefined {
  return uidListing(body, '0020000D');
}
