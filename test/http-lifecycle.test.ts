// Readiness, back-pressure, deadlines and worker failure as HTTP clients see them (real registry, real HTTP).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../src/metrics.ts';
import type { EmbedBody } from './helpers/http.ts';
import { DEMO, json, listen, loadRegistry, testConfig, until } from './helpers/http.ts';

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const postImage = (url: string) => fetch(url + '/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });

// One registry with a tiny image queue (1 item per batch, 2 waiting at most) serves every test here.
const config = testConfig({ IMAGE_MAX_BATCH_SIZE: '1', IMAGE_MAX_QUEUE: '2', IMAGE_MAX_DELAY_MS: '0' });
const metrics = new Metrics({ defaultMetrics: false });
const registry = await loadRegistry(config, metrics);
const served = await listen(config, registry, metrics);
const url = served.url;
t.teardown(async () => {
  await served.app.close();
  await registry.close();
});

t.test('before the registry is loaded: /healthz 200, everything else 503 not_ready with Retry-After', async (t) => {
  const starting = await listen(config, undefined, new Metrics({ defaultMetrics: false }));
  t.teardown(() => starting.app.close());
  t.equal((await fetch(starting.url + '/healthz')).status, 200);
  for (const [path, init] of [
    ['/readyz', {}],
    ['/models', {}],
    ['/prompt-sets', {}],
    ['/embed/text', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"texts":["a"]}' }],
  ] as const) {
    const res = await fetch(starting.url + path, init);
    t.equal(res.status, 503, path);
    t.equal(res.headers.get('retry-after'), '5');
    t.equal((await json(res)).error.code, 'not_ready');
  }
  starting.app.unimed.setRegistry(registry);
  t.equal((await fetch(starting.url + '/readyz')).status, 200, 'ready once the registry is set');
  starting.app.unimed.startDraining();
  const draining = await fetch(starting.url + '/readyz');
  t.equal(draining.status, 503);
  t.equal((await json(draining)).error.code, 'shutting_down');
  const refused = await postImage(starting.url);
  t.equal(refused.status, 503);
  t.equal((await json(refused)).error.code, 'shutting_down');
  t.equal((await fetch(starting.url + '/models')).status, 200, 'read-only routes still answer while draining');
  const counted = await (await fetch(starting.url + '/metrics')).text();
  t.match(counted, /unimed_requests_rejected_total\{reason="not_ready"\} 1/);
  t.match(counted, /unimed_requests_rejected_total\{reason="shutting_down"\} 1/);
});

t.test('a deadline shorter than the work answers 504', async (t) => {
  const hurried = testConfig({ REQUEST_TIMEOUT_MS: '1' });
  const app = await listen(hurried, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(() => app.app.close());
  const res = await postImage(app.url);
  t.equal(res.status, 504);
  t.equal((await json(res)).error.code, 'deadline_exceeded');
});

t.test('a full queue answers 503 queue_full with Retry-After; /healthz answers while an encoder is busy', async (t) => {
  const debug = registry.debug();
  debug.stall('image', 1500);
  const requests = Array.from({ length: 6 }, () => postImage(url));
  const busy = await until('an image batch in flight', async () => {
    const text = await (await fetch(url + '/metrics')).text();
    return /unimed_inflight_batches\{[^}]*encoder="image"[^}]*\} 1/.test(text) ? text : undefined;
  });
  t.ok(busy, '/metrics shows the image encoder busy');
  const health = await fetch(url + '/healthz');
  t.equal(health.status, 200, '/healthz answers while the worker is blocked');
  const results = await Promise.all(requests);
  const statuses = results.map((r) => r.status).sort();
  t.ok(statuses.includes(200), `some requests ran (${statuses.join(',')})`);
  const rejected = results.filter((r) => r.status === 503);
  t.ok(rejected.length >= 1, 'some requests were refused');
  for (const r of rejected) {
    t.equal((await json(r)).error.code, 'queue_full');
    t.match(r.headers.get('retry-after'), /^\d+$/);
  }
  await Promise.all(results.filter((r) => r.status !== 503).map((r) => r.arrayBuffer()));
  t.match(await (await fetch(url + '/metrics')).text(), /unimed_requests_rejected_total\{reason="queue_full"\} [1-9]/);
});

t.test('a killed worker: the request it held gets 503, the next one is served by its replacement', async (t) => {
  const debug = registry.debug();
  debug.stall('image', 5000);
  const pending = postImage(url);
  await until('the image batch to reach the worker', () => (debug.inflight('image') >= 1 ? true : undefined));
  const [worker] = debug.workers('image');
  await worker!.terminate();
  const res = await pending;
  t.equal(res.status, 503);
  t.match((await json(res)).error.code, /worker/);
  const next = await until('a replacement worker', async () => {
    const r = await postImage(url);
    if (r.status === 200) return r;
    await r.arrayBuffer();
    return undefined;
  });
  t.equal((await json<EmbedBody>(next)).embeddings.length, 1);
});

t.test('a client that disconnects: its queued work is dropped, the server keeps serving', async (t) => {
  const debug = registry.debug();
  debug.stall('image', 800);
  const blocker = postImage(url);
  await until('the blocking batch to run', () => (debug.inflight('image') >= 1 ? true : undefined));
  const controller = new AbortController();
  const staying = postImage(url);
  const leaving = fetch(url + '/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png), signal: controller.signal }).catch(
    () => 'aborted',
  );
  await until('the request to be queued', () => (debug.queueLength('image') >= 1 ? true : undefined));
  const before = debug.itemsRun('image');
  controller.abort();
  t.equal(await leaving, 'aborted');
  t.equal((await blocker).status, 200);
  t.equal((await staying).status, 200, 'the request queued beside it is answered');
  await until('the queue to empty', () => (debug.queueLength('image') === 0 && debug.inflight('image') === 0 ? true : undefined));
  t.equal(debug.itemsRun('image') - before, 1, 'only the staying request ran; the abandoned one was dropped');
  t.equal((await postImage(url)).status, 200);
});
