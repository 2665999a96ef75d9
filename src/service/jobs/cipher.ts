import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * What a job row holds that may identify a patient (its request's UIDs, its result), sealed with AES-256-GCM under
 * the key of JOBS_KEY_FILE: the database file at rest holds neither in clear. Each value has its own random IV
 * and is bound to its job (the id is the additional authenticated data), so a value copied into another row, or a
 * changed byte, fails to open.
 */
export class JobCipher {
  readonly #key: Buffer;

  /** `secret`: the file's text; its SHA-256 is the AES-256 key (any secret of 32+ characters will do). */
  constructor(secret: string) {
    this.#key = createHash('sha256').update(secret, 'utf8').digest();
  }

  /** A keyed hash of a request body, for idempotency: equal bodies match, and the file does not reveal what they held. */
  fingerprint(text: string): string {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest('hex');
  }

  seal(jobId: string, value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(jobId, 'utf8'));
    const sealed = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `v1:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${sealed.toString('base64')}`;
  }

  open(jobId: string, text: string): unknown {
    const [version, iv, tag, sealed] = text.split(':');
    if (version !== 'v1' || iv === undefined || tag === undefined || sealed === undefined)
      throw new Error('a sealed job value is not in the v1 form');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(jobId, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    // A wrong key (JOBS_KEY_FILE changed) or a changed value throws here: the job cannot be read, never misread.
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as unknown;
  }
}
