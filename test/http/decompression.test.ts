// The decompression-bomb rule through real HTTP on the demo model (docs/configuration.md "Limits"): an image that decodes to
// more than DECOMPRESSION_EXEMPT_BYTES may decode to at most MAX_DECOMPRESSION_RATIO times the bytes it came in;
// past that, 413 image_too_large from its header, before a pixel is decoded or a byte of memory reserved. A blank
// PNG, a blank lossless WebP and a deflated DICOM data set of zeros are the bombs; each limit is moved to show
// the same image served. JPEG is exempt (its ratio cannot tell a bomb from a flat scan): a blank one is served,
// as a file and as a DICOM frame.
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { encapsulated, encode, imageElements, part10 } from '../fixtures/dicom/writer.ts';
import { loadRegistry, testConfig } from '../helpers/common.ts';
import { json, listen, type EmbedBody } from '../helpers/http.ts';

const { registry } = await loadRegistry();
t.teardown(() => registry.close());

const MIB = 1024 * 1024;
// 4200 x 4200: over the default 32 MiB exemption decoded, under 128 MiB.
const SIDE = 4200;
const blank = (channels: 2 | 3) => sharp(Buffer.alloc(SIDE * SIDE * channels), { raw: { width: SIDE, height: SIDE, channels } });
const png = await blank(2).png({ compressionLevel: 9 }).toBuffer();
const webp = await blank(3).webp({ lossless: true, effort: 0 }).toBuffer();
const DEFLATED = '1.2.840.10008.1.2.1.99';
const dicom = part10([], {
  transferSyntax: DEFLATED,
  pixelData: deflateRawSync(
    encode(imageElements({ rows: SIDE, columns: SIDE, bitsAllocated: 16, pixels: new Uint8Array(SIDE * SIDE * 2) })),
  ),
});

const jpeg = await blank(3).jpeg({ quality: 50 }).toBuffer();
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const greyJpeg = await sharp(Buffer.alloc(SIDE * SIDE), { raw: { width: SIDE, height: SIDE, channels: 1 } })
  .toColourspace('b-w')
  .jpeg({ quality: 50 })
  .toBuffer();
const dicomJpeg = part10(imageElements({ rows: SIDE, columns: SIDE, bitsAllocated: 8, pixels: new Uint8Array(0) }, false), {
  transferSyntax: JPEG_BASELINE,
  pixelData: encapsulated([greyJpeg]),
});

async function serve(t: Test, env: Record<string, string> = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const { app, url } = await listen(testConfig(env), registry, metrics);
  t.teardown(() => app.close());
  const embed = (bytes: Buffer, type: string) =>
    fetch(`${url}/embed/image`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(bytes) });
  return { app, embed };
}

const BOMBS: [string, Buffer, string][] = [
  ['PNG', png, 'image/png'],
  ['WebP', webp, 'image/webp'],
  ['DICOM', dicom, 'application/dicom'],
];

t.test('a blank PNG, lossless WebP and deflated DICOM over 32 MiB decoded: 413 image_too_large from the header', async (t) => {
  const { app, embed } = await serve(t, { MEMORY_WAIT_MS: '600000' });
  // The budget held full: an image that reached it would wait (ten minutes), so an answer means it never did.
  const hold = await app.memoryBudget.reserve(app.memoryBudget.limitBytes);
  t.teardown(() => hold.release());
  for (const [name, bytes, type] of BOMBS) {
    const res = await embed(bytes, type);
    const body = await json(res);
    t.equal(res.status, 413, `${name} (${bytes.length} bytes): ${body.error.message}`);
    t.equal(body.error.code, 'image_too_large');
    t.match(body.error.message, /MAX_DECOMPRESSION_RATIO \(256\)/);
    t.match(body.error.message, new RegExp(`^this 4200x4200 \\w+ (image|frame) decodes to \\d+ bytes from ${bytes.length} \\(\\d+:1\\)`));
  }
  t.equal(app.memoryBudget.waiting, 0, 'none of them waited for memory: refused before decoding');
});

t.test(
  'the same images are served with a higher ratio or exemption; blank JPEGs and a small blank image are served by default',
  async (t) => {
    const ratio = await serve(t, { MAX_DECOMPRESSION_RATIO: '1000000000' });
    const exempt = await serve(t, { DECOMPRESSION_EXEMPT_BYTES: String(128 * MIB) });
    for (const [name, bytes, type] of BOMBS) {
      for (const [how, server] of [
        ['MAX_DECOMPRESSION_RATIO=1e9', ratio],
        ['DECOMPRESSION_EXEMPT_BYTES=128 MiB', exempt],
      ] as const) {
        const res = await server.embed(bytes, type);
        t.equal(res.status, 200, `${name} with ${how}`);
        t.equal((await json<EmbedBody>(res)).embeddings.length, 1);
      }
    }
    const { embed } = await serve(t);
    t.equal(
      (await embed(jpeg, 'image/jpeg')).status,
      200,
      `a blank 4200 x 4200 colour JPEG, ${Math.round((SIDE * SIDE * 3) / jpeg.length)}:1: JPEG is exempt`,
    );
    const strict = await serve(t, { MAX_DECOMPRESSION_RATIO: '10', DECOMPRESSION_EXEMPT_BYTES: '0' });
    for (const [name, bytes, type] of [
      ['JPEG', jpeg, 'image/jpeg'],
      ['DICOM JPEG Baseline', dicomJpeg, 'application/dicom'],
    ] as const) {
      t.equal(
        (await strict.embed(bytes, type)).status,
        200,
        `a blank ${name} (${bytes.length} bytes) with MAX_DECOMPRESSION_RATIO=10 and no exemption`,
      );
    }
    t.equal((await strict.embed(png, 'image/png')).status, 413, '... which refuses the PNG');
    const small = await sharp(Buffer.alloc(1000 * 1000 * 3), { raw: { width: 1000, height: 1000, channels: 3 } })
      .png()
      .toBuffer();
    t.ok(small.length * 256 < 3_000_000, `a 1000 x 1000 blank PNG is ${Math.round(3_000_000 / small.length)}:1`);
    t.equal((await embed(small, 'image/png')).status, 200, 'decoding to under 32 MiB, it is exempt');
  },
);
