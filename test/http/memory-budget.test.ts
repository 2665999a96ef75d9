// The decode memory budget through real HTTP on the demo model (docs/configuration.md "Limits"): an image over MAX_IMAGE_BYTES is
// 413 before decoding; with the budget full, images queue (in arrival order) and the service keeps answering
// /healthz; past MEMORY_WAIT_MS 503 memory_busy with Retry-After; the deadline (504) and a client that leaves drop
// a waiting decode; the reserved bytes always come back to 0. The budget is held full by reserving it directly
// (the same call every decode makes), so each test controls the order of events without timing anything.
import pino from 'pino';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.ts';
import { Metrics } from '../../src/metrics.ts';
import { ct, ctValues } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';
import { loadRegistry, testConfig, until } from '../helpers/common.ts';
import type { EmbedBody, ErrorBody } from '../helpers/http.ts';

const silent = pino({ level: 'silent' });
// sharp's defaults (a 50 MB cache of decoded images) until the app turns the cache off.
sharp.cache(true);
const { registry } = await loadRegistry();
t.teardown(() => registry.close());

const MIB = 1024 * 1024;

/** A blank grey+alpha PNG: a few hundred bytes on the wire for width x height x 2 bytes decoded (the case, smaller). */
function greyAlphaPng(width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.alloc(width * height * 2), { raw: { width, height, channels: 2 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

async function serve(t: Test, env: Record<string, string>) {
  const metrics = new Metrics({ defaultMetrics: false });
  const app = await buildApp({ config: testConfig(env), metrics, registry, logger: silent });
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const embed = (images: Buffer[], signal?: AbortSignal) => {
    const form = new FormData();
    for (const image of images) form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'scan.png');
    return fetch(`${url}/embed/image`, { method: 'POST', body: form, ...(signal === undefined ? {} : { signal }) });
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return { app, url, metrics, embed, metric };
}

const healthy = async (url: string) => (await fetch(`${url}/healthz`)).status === 200;

t.test('sharp keeps no decoded image: its cache is off once the app is built', async (t) => {
  await serve(t, {});
  const cache = sharp.cache();
  t.same([cache.memory.max, cache.files.max, cache.items.max], [0, 0, 0]);
});

t.test(
  'a series upload is held to the same budget: every instance decodes through it (413 over MAX_IMAGE_BYTES, nothing left reserved)',
  async (t) => {
    const { url, metric } = await serve(t, { MAX_IMAGE_BYTES: String(64 * 1024), MEMORY_BUDGET_BYTES: String(64 * MIB) });
    const form = new FormData();
    for (const i of [0, 1, 2])
      form.append('image', new Blob([new Uint8Array(imageDicom(ct([[0x00200013, 'IS', String(i + 1)]], ctValues(i))))]), `${i}.dcm`);
    const res = await fetch(`${url}/embed/series`, { method: 'POST', body: form });
    t.equal(res.status, 413);
    t.match(((await res.json()) as ErrorBody).error, { code: 'image_too_large', message: /MAX_IMAGE_BYTES/ });
    t.ok(await healthy(url), 'the process is alive');
    t.equal(await metric('unimed_memory_reserved_bytes'), 0);
  },
);

t.test(
  'MAX_IMAGE_BYTES: an image whose decode would need more is 413 image_too_large from its header; a small one is served',
  async (t) => {
    const { embed, url, metric } = await serve(t, { MAX_IMAGE_BYTES: String(2 * MIB), MEMORY_BUDGET_BYTES: String(64 * MIB) });
    const large = await greyAlphaPng(1024, 1024);
    t.ok(large.length < 64 * 1024, `${large.length} bytes on the wire`);
    const refused = await embed([large]);
    t.equal(refused.status, 413);
    t.match(((await refused.json()) as ErrorBody).error, {
      code: 'image_too_large',
      message: /1024x1024 image needs up to \d+ bytes, more than the 2097152 MAX_IMAGE_BYTES/,
    });
    const served = await embed([await greyAlphaPng(64, 64)]);
    t.equal(served.status, 200);
    t.ok(await healthy(url), 'the process is alive');
    t.equal(await metric('unimed_memory_reserved_bytes'), 0);
    t.equal(await metric('unimed_memory_budget_bytes'), 64 * MIB);
  },
);

t.test(
  'the issue case, scaled down: many large blank grey+alpha PNGs in one body queue at the budget, /healthz answers meanwhile',
  async (t) => {
    const { app, embed, url, metric } = await serve(t, {
      MEMORY_BUDGET_BYTES: String(40 * MIB),
      MAX_IMAGE_BYTES: String(20 * MIB),
      MEMORY_WAIT_MS: '600000',
    });
    const images = await Promise.all(Array.from({ length: 8 }, () => greyAlphaPng(1200, 1200)));
    const hold = await app.memoryBudget.reserve(40 * MIB);
    const answer = embed(images);
    await until('every image queued at the budget, none decoding', () => app.memoryBudget.waiting === 8);
    t.equal(app.memoryBudget.reservedBytes, 40 * MIB, 'nothing reserved beyond the hold: no image is being decoded');
    t.ok(await healthy(url), '/healthz answers while the request waits');
    t.equal(app.memoryBudget.waiting, 8, '... and the request was still waiting when it answered');
    hold.release();
    const response = await answer;
    t.equal(response.status, 200, 'once memory is free, every image is decoded in turn');
    t.equal(((await response.json()) as EmbedBody).embeddings.length, 8);
    t.equal(app.memoryBudget.reservedBytes, 0);
    t.equal(await metric('unimed_memory_reserved_bytes'), 0, 'the gauge is back to 0');
  },
);

t.test('budget exhausted past MEMORY_WAIT_MS: 503 memory_busy with Retry-After, counted, nothing left reserved', async (t) => {
  const { app, embed, url, metric } = await serve(t, { MEMORY_BUDGET_BYTES: String(16 * MIB), MEMORY_WAIT_MS: '200' });
  const hold = await app.memoryBudget.reserve(16 * MIB);
  const refused = await embed([await greyAlphaPng(256, 256)]);
  t.equal(refused.status, 503);
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(((await refused.json()) as ErrorBody).error, { code: 'memory_busy', message: /MEMORY_WAIT_MS/ });
  t.equal(await metric('unimed_requests_rejected_total{reason="memory_busy"}'), 1);
  t.equal(app.memoryBudget.reservedBytes, 16 * MIB, 'the refused request holds nothing');
  hold.release();
  t.ok(await healthy(url));
  t.equal((await embed([await greyAlphaPng(256, 256)])).status, 200, 'served once memory is free');
  t.equal(await metric('unimed_memory_reserved_bytes'), 0);
});

t.test('a two-image request refused with 503 memory_busy keeps its Retry-After once the image position is added', async (t) => {
  const { app, embed, metric } = await serve(t, { MEMORY_BUDGET_BYTES: String(16 * MIB), MEMORY_WAIT_MS: '200' });
  const hold = await app.memoryBudget.reserve(16 * MIB);
  const image = await greyAlphaPng(256, 256);
  const refused = await embed([image, image]);
  t.equal(refused.status, 503);
  t.equal(refused.headers.get('retry-after'), '1');
  const { error } = (await refused.json()) as ErrorBody;
  t.match(error, { code: 'memory_busy', message: /^image [01]: .*MEMORY_WAIT_MS/ });
  t.notOk('field' in error, 'a refusal at the door is about no input');
  t.equal(await metric('unimed_requests_rejected_total{reason="memory_busy"}'), 1);
  hold.release();
});

t.test('a client that leaves while its images wait for memory is dropped from the line', async (t) => {
  const { app, embed, metric } = await serve(t, { MEMORY_BUDGET_BYTES: String(16 * MIB), MEMORY_WAIT_MS: '600000' });
  const hold = await app.memoryBudget.reserve(16 * MIB);
  const client = new AbortController();
  const leaving = embed([await greyAlphaPng(256, 256)], client.signal).catch((err: unknown) => err);
  await until('the image waits for memory', () => app.memoryBudget.waiting === 1);
  client.abort();
  t.type(await leaving, Error);
  await until('the waiting decode is dropped', () => app.memoryBudget.waiting === 0);
  t.equal(app.memoryBudget.reservedBytes, 16 * MIB, 'it reserved nothing');
  await until('counted as client_gone', async () => (await metric('unimed_requests_rejected_total{reason="client_gone"}')) === 1);
  hold.release();
  t.equal(app.memoryBudget.reservedBytes, 0);
});

t.test('the request deadline ends the wait for memory: 504 on /embed/image and /preview', async (t) => {
  const { app, embed, url } = await serve(t, {
    MEMORY_BUDGET_BYTES: String(16 * MIB),
    MEMORY_WAIT_MS: '600000',
    REQUEST_TIMEOUT_MS: '300',
  });
  const hold = await app.memoryBudget.reserve(16 * MIB);
  const png = await greyAlphaPng(256, 256);
  const late = await embed([png]);
  t.equal(late.status, 504);
  t.equal(((await late.json()) as ErrorBody).error.code, 'deadline_exceeded');
  const preview = await fetch(`${url}/preview`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
  t.equal(preview.status, 504);
  t.equal(((await preview.json()) as ErrorBody).error.code, 'deadline_exceeded');
  // The answer's deadline timer and the budget line's (the request's cancellation) fire at the same instant, in
  // either order: wait for the line to drop its waiter rather than assume it went first.
  await until('the waiting decodes dropped at their deadline', () => app.memoryBudget.waiting === 0);
  hold.release();
  t.equal(app.memoryBudget.reservedBytes, 0);
});
