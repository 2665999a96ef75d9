// sharp reads a private copy of the caller's bytes, freed as soon as its call is over (src/inputs/sharp-input.ts).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { onPrivateCopy, PRIVATE_COPY_MAX_BYTES, privateCopyBytes } from '../../src/inputs/sharp-input.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function png(side: number): Promise<Buffer> {
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

t.test('sharp gets a copy; the copy is emptied once the call has settled, the caller keeps its bytes', async (t) => {
  const bytes = await png(64);
  const before = Buffer.from(bytes);
  let given: Buffer | undefined;
  const meta = await onPrivateCopy(bytes, (copy) => {
    given = copy;
    t.not(copy.buffer, bytes.buffer, 'not the caller memory');
    t.equal(copy.byteOffset, 0, 'a buffer of its own, not a slice of the shared pool');
    t.same(copy, bytes, 'the same bytes');
    return sharp(copy).metadata();
  });
  t.equal(meta.width, 64, 'sharp read it');
  t.equal(given?.buffer.byteLength, 0, 'the copy is detached: its memory is freed');
  t.same(bytes, before, 'the caller bytes are untouched and still readable');
});

t.test('a failed call frees the copy too, and its error comes through', async (t) => {
  const garbage = Buffer.from('not an image at all, but long enough to be read'.repeat(100));
  let given: Buffer | undefined;
  await t.rejects(
    onPrivateCopy(garbage, (copy) => {
      given = copy;
      return sharp(copy).metadata();
    }),
    /unsupported image format/,
  );
  t.equal(given?.buffer.byteLength, 0);
});

t.test('a file over PRIVATE_COPY_MAX_BYTES goes to sharp as it is: copying it would cost more than it saves', async (t) => {
  t.equal(privateCopyBytes(PRIVATE_COPY_MAX_BYTES), PRIVATE_COPY_MAX_BYTES, 'up to the limit the copy counts');
  t.equal(privateCopyBytes(PRIVATE_COPY_MAX_BYTES + 1), 0, 'past it, nothing is copied');
  const large = Buffer.alloc(PRIVATE_COPY_MAX_BYTES + 1, 1);
  let given: Buffer | undefined;
  t.equal(
    await onPrivateCopy(large, (input) => {
      given = input;
      return Promise.resolve(input.length);
    }),
    large.length,
  );
  t.equal(given, large, 'the same buffer');
  t.equal(large.buffer.byteLength >= large.length, true, 'and it is left as it was, not detached');
});

// What the helper is for: with sharp given the caller's bytes, each image's bytes stayed allocated after the
// decode until a full mark-compact; through the helper a young-generation collection is all it takes. Run in a
// child with V8's gc() exposed, so that only scavenges (type 'minor') are asked for.
t.test('decoded images leave nothing that only a full collection would free', (t) => {
  const script = `
    const sharp = (await import('sharp')).default;
    const { onPrivateCopy } = await import(${JSON.stringify(`${ROOT}src/inputs/sharp-input.ts`)});
    const pixels = Buffer.alloc(256 * 256 * 3, 7);
    const image = await sharp(pixels, { raw: { width: 256, height: 256, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    const baseline = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 40; i++) {
      const body = Buffer.from(image); // a request body of its own, as the HTTP reader hands over
      await onPrivateCopy(body, (copy) => sharp(copy).resize(32, 32).raw().toBuffer());
    }
    globalThis.gc({ type: 'minor', execution: 'sync' });
    globalThis.gc({ type: 'minor', execution: 'sync' });
    console.log(JSON.stringify({ image: image.length, left: process.memoryUsage().arrayBuffers - baseline }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  const { image, left } = JSON.parse(out.trim().split('\n').at(-1)!) as { image: number; left: number };
  t.ok(image > 150_000, `each body is ${image} bytes`);
  // 40 bodies and 40 copies went through; without the helper about 40 bodies' worth stays (measured: 7.9 MB).
  t.ok(left < 4 * image, `${left} bytes of buffers left after two scavenges (under 4 bodies' worth)`);
  t.end();
});
