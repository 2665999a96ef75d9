/**
 * What keeps a request's bytes past V8's scavenges, and what the private copy sharp reads costs
 * (src/inputs/sharp-input.ts; docs/decisions.md, "Buffers that outlived V8's scavenges").
 *
 *   node --expose-gc bench/gc-retention.ts
 *
 * Retention: 40 times, a fresh 200 KB buffer (as a request body) is referenced from a new object of each kind, or
 * read by sharp, and dropped, back to back or one per event-loop turn; then two scavenges (gc({ type: 'minor' })).
 * What is left of the 8 MB counts buffers that only a full collection would free. Copy cost: copying and freeing a file of each size on this thread, the
 * mean of 30 runs. Prints both tables; nothing is written.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import sharp from 'sharp';
import { onPrivateCopy } from '../src/inputs/sharp-input.ts';

const gc = (globalThis as { gc?: (options: { type: 'minor' | 'major'; execution: 'sync' }) => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const pixels = Buffer.alloc(256 * 256 * 3, 7);
const image = await sharp(pixels, { raw: { width: 256, height: 256, channels: 3 } })
  .png({ compressionLevel: 0 })
  .toBuffer();

const holders: Record<string, (body: Buffer) => Promise<unknown>> = {
  'plain object': (body) => Promise.resolve({ body }),
  EventEmitter: (body) => Promise.resolve(Object.assign(new EventEmitter(), { body })),
  Readable: (body) => Promise.resolve(Object.assign(new Readable(), { body })),
  Writable: (body) => Promise.resolve(Object.assign(new Writable(), { body })),
  'sharp, given the body': (body) => sharp(body).resize(32, 32).raw().toBuffer(),
  'sharp, through onPrivateCopy': (body) => onPrivateCopy(body, (input) => sharp(input).resize(32, 32).raw().toBuffer()),
};

const ROUNDS = 40;
/** Bytes of array buffers left after ROUNDS bodies went through `hold` and two scavenges. */
async function left(hold: (body: Buffer) => Promise<unknown>, turnEach: boolean): Promise<number> {
  gc!({ type: 'major', execution: 'sync' });
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < ROUNDS; i++) {
    await hold(Buffer.from(image));
    if (turnEach) await new Promise((resolve) => setImmediate(resolve));
  }
  gc!({ type: 'minor', execution: 'sync' });
  gc!({ type: 'minor', execution: 'sync' });
  return process.memoryUsage().arrayBuffers - before;
}

console.log(
  `| referenced from (${ROUNDS} bodies of ${image.length} B) | left after two scavenges, MB: back to back | one per event-loop turn |`,
);
console.log('| --- | --- | --- |');
for (const [name, hold] of Object.entries(holders)) {
  const [together, turns] = [await left(hold, false), await left(hold, true)];
  console.log(`| ${name} | ${(together / 1e6).toFixed(2)} | ${(turns / 1e6).toFixed(2)} |`);
}

console.log('\n| file size, MiB | copy and free on this thread, mean ms |');
console.log('| --- | --- |');
for (const mib of [0.1, 1, 4, 8, 16, 24, 32]) {
  const file = Buffer.alloc(Math.round(mib * 1024 * 1024), 3);
  let total = 0;
  for (let i = 0; i < 30; i++) {
    const started = performance.now();
    new Uint8Array(file).buffer.transfer(0);
    total += performance.now() - started;
  }
  console.log(`| ${mib} | ${(total / 30).toFixed(3)} |`);
}
