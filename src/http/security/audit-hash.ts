import { createHmac, type KeyObject } from 'node:crypto';

/**
 * The keyed hash (HMAC-SHA256, AUDIT_HASH_SECRET_FILE) that logs carry in place of a value that may identify a
 * patient or that a client chose: a caller's X-Request-Id, the UIDs of a study, series and instance reached on a
 * DICOMweb source. Whoever holds the secret and knows the value finds its lines (`unimed audit-lookup`, or
 * `openssl dgst -sha256 -hmac`); the log alone reveals neither.
 */
export function auditHash(key: KeyObject, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/**
 * Which secret made a line's hashes (16 hex digits, itself a keyed hash, so it says nothing of the secret): after a
 * rotation, old and new lines are told apart, and a look-up knows which secret to try.
 */
export function auditHashKeyId(key: KeyObject): string {
  return auditHash(key, 'unimed-serve audit hash key id').slice(0, 16);
}
