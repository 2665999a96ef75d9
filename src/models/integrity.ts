import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  // Streamed: real encoders are hundreds of megabytes.
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function unreadable(name: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new Error(`file check failed: ${name} is listed in model.json but cannot be read (${code})`, { cause: err });
}

/**
 * A listed file's bytes, read once, for a consumer that checks their sha256 itself on that same buffer (the
 * inference workers: src/engine/inference-session.ts) so that the file cannot change between check and use.
 */
export async function readListedFile(dir: string, name: string): Promise<Buffer> {
  try {
    await using file = await open(join(dir, name));
    // Its own ArrayBuffer (never the pool's), so that it can be transferred to a worker; read in as few calls
    // as the kernel allows rather than readFile's 512 KiB steps, which take seconds for a 400 MB encoder.
    const bytes = Buffer.allocUnsafeSlow((await file.stat()).size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await file.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) throw Object.assign(new Error('the file shrank while it was read'), { code: 'ETRUNCATED' });
      filled += bytesRead;
    }
    return bytes;
  } catch (err) {
    throw unreadable(name, err);
  }
}

/** Recomputes every listed file's sha256; rejects naming the first missing or mismatching file. */
export async function verifyFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, expected] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let actual: string;
    try {
      actual = await sha256File(join(dir, name));
    } catch (err) {
      throw unreadable(name, err);
    }
    if (actual !== expected) {
      throw new Error(`file check failed: ${name} has sha256 ${actual}, model.json says ${expected}`);
    }
  }
}

/** The model sha256 (models/README.md): sha256 of the `sha256sum` listing of `files`, sorted by name. */
export function modelSha256(files: Record<string, string>): string {
  const names = Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(names.map((name) => `${files[name]}  ${name}\n`).join('')).digest('hex');
}
