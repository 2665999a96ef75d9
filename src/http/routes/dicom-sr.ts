/**
 * Classification answers as a DICOM SR (docs/pacs.md "DICOM SR answers"), for clients that send
 * `Accept: application/dicom`: the Part 10 bytes of the SR service/report.ts makes of the same classification.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import type { ImageOptions } from '../../inputs/decode.ts';
import type { SeriesClassification } from '../../service/classify.ts';
import { reportOf } from '../../service/report.ts';
import type { TrustPolicy } from '../../zeroshot/trusted-answer.ts';
import { FHIR_MEDIA_TYPE } from './fhir.ts';

/** Qualities of the media ranges in Accept: DICOM, FHIR, and plain JSON (for which wildcards count). */
function qualities(accept: string): { dicom: number; fhir: number; json: number } {
  const q = { dicom: 0, fhir: 0, json: 0 };
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const given = params.find((p) => p.startsWith('q='));
    const quality = given === undefined ? 1 : Number(given.slice(2));
    if (!Number.isFinite(quality)) continue;
    if (type === DICOM_MEDIA_TYPE) q.dicom = Math.max(q.dicom, quality);
    else if (type === FHIR_MEDIA_TYPE) q.fhir = Math.max(q.fhir, quality);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*') q.json = Math.max(q.json, quality);
  }
  return q;
}

/**
 * Whether the client asks for a DICOM SR: `application/dicom` in Accept with a quality above 0 and at least that
 * of plain JSON (wildcards count for it) and of FHIR.
 */
export function wantsDicomSr(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (typeof accept !== 'string' || accept.length > 4096) return false;
  const q = qualities(accept);
  return q.dicom > 0 && q.dicom >= q.json && q.dicom >= q.fhir;
}

/** Sends the SR of a classification (service/report.ts) as application/dicom. */
export function sendDicomSr(
  reply: FastifyReply,
  result: Pick<SeriesClassification, 'model' | 'classes' | 'predictions' | 'trust' | 'instances'>,
  rendering: ImageOptions,
  policy: TrustPolicy,
): FastifyReply {
  const { model, classes, predictions, trust, instances = [] } = result;
  return reply.type(DICOM_MEDIA_TYPE).send(reportOf({ model, classes, predictions, trust, policy, instances, rendering }));
}
