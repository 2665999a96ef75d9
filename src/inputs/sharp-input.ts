/**
 * The bytes every sharp call reads, freed as soon as the call is over.
 *
 * A sharp instance is a Node stream (a Duplex), and on Node 24 what a Writable references survives V8's scavenges:
 * it is promoted and waits for a full mark-compact. The instance keeps its input reachable, so every image's file
 * waited for one too: under the hostile bench array buffers piled up at about 15 MB/s and a full collection came
 * every 4 s, each holding the HTTP thread 8-21 ms (docs/decisions.md, "Buffers that outlived V8's scavenges"). Given
 * a private copy that is detached once sharp is done with it, the memory is freed at once, whatever keeps the
 * instance alive.
 */

/**
 * Files up to this size are copied; larger ones go to sharp as they are. Copying costs the HTTP thread about
 * 0.1 ms per MiB while glibc reuses memory (2.2 ms for 16 MiB), but 25 ms for 32 MiB, which glibc maps afresh
 * every time (docs/performance.md): more than waiting for a full collection costs.
 */
export const PRIVATE_COPY_MAX_BYTES = 16 * 1024 * 1024;

/** The bytes `onPrivateCopy` adds while sharp reads a file of `fileBytes` (for the memory budget). */
export function privateCopyBytes(fileBytes: number): number {
  return fileBytes <= PRIVATE_COPY_MAX_BYTES ? fileBytes : 0;
}

/**
 * Runs `use` on a private copy of `bytes` (up to PRIVATE_COPY_MAX_BYTES) and frees the copy when the promise `use`
 * returned has settled. `use` must not settle before every sharp call it made on the copy has (libvips reads the
 * memory through a raw pointer until then): await each call, never race one against a timer.
 */
export async function onPrivateCopy<T>(bytes: Buffer, use: (input: Buffer) => Promise<T>): Promise<T> {
  if (privateCopyBytes(bytes.byteLength) === 0) return use(bytes);
  // Its own ArrayBuffer, never a slice of Node's shared pool, so detaching it touches nothing else.
  const copy = new Uint8Array(bytes);
  try {
    return await use(Buffer.from(copy.buffer, 0, copy.byteLength));
  } finally {
    // Detaching frees the memory now; the sharp instance is left holding an empty buffer.
    copy.buffer.transfer(0);
  }
}
