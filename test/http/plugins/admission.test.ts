// The work context built at admission (src/http/plugins/admission.ts) carries the text-embedding cache partition:
// with API keys, each key has its own (docs/security.md "Text-embedding cache"), so that one key's texts and labels
// are a miss for another, as /metrics shows it; TEXT_CACHE_SHARED=true gives one cache for all keys. Real HTTP
// against the demo model; no timing is asserted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { DEMO, loadRegistry, silentLogger, testConfig } from '../../helpers/common.ts';

const { registry, metrics } = await loadRegistry();
const apps: { close(): Promise<unknown> }[] = [];
t.teardown(async () => {
  for (const app of apps) await app.close();
  await registry.close();
});

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';
const KEYS = `alice:${ALICE}, bob:${BOB}`;
const png = readFileSync(join(DEMO, 'golden_resized.png'));

async function serve(env: Record<string, string>): Promise<string> {
  const app = await buildApp({ config: testConfig(env), metrics, registry, logger: silentLogger });
  apps.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function post(url: string, key: string | undefined, path: string, body: unknown): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const res = await fetch(url + path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** The text cache counters as a client with `key` reads them on /metrics. */
async function cacheCounters(url: string, key: string | undefined): Promise<{ hits: number; misses: number }> {
  const res = await fetch(url + '/metrics', key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  const value = (name: string): number => Number(new RegExp(`^${name}\\{model="unimed-demo"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { hits: value('unimed_text_cache_hits_total'), misses: value('unimed_text_cache_misses_total') };
}

/** How the counters moved over `step`. */
async function delta(url: string, key: string | undefined, step: () => Promise<void>): Promise<{ hits: number; misses: number }> {
  const before = await cacheCounters(url, key);
  await step();
  const after = await cacheCounters(url, key);
  return { hits: after.hits - before.hits, misses: after.misses - before.misses };
}

t.test('with API keys, a text one key embedded is a miss for another key and a hit for itself', async (t) => {
  const url = await serve({ API_KEYS: KEYS });
  const text = { texts: ['partitioned cache probe one'] };
  t.same(await delta(url, ALICE, () => post(url, ALICE, '/embed/text', text)), { hits: 0, misses: 1 }, 'alice: first time, a miss');
  t.same(await delta(url, ALICE, () => post(url, BOB, '/embed/text', text)), { hits: 0, misses: 1 }, 'bob: a miss, though alice sent it');
  t.same(await delta(url, ALICE, () => post(url, ALICE, '/embed/text', text)), { hits: 1, misses: 0 }, 'alice again: a hit');
  t.same(await delta(url, ALICE, () => post(url, BOB, '/embed/text', text)), { hits: 1, misses: 0 }, 'bob again: a hit in his own');
});

t.test('with API keys, classification labels are partitioned the same way', async (t) => {
  const url = await serve({ API_KEYS: KEYS });
  const body = { image: png.toString('base64'), labels: ['partition label alpha', 'partition label beta'] };
  t.same(await delta(url, ALICE, () => post(url, ALICE, '/classify', body)), { hits: 0, misses: 2 }, 'alice: two misses');
  t.same(await delta(url, ALICE, () => post(url, BOB, '/classify', body)), { hits: 0, misses: 2 }, 'bob: two misses');
  t.same(await delta(url, ALICE, () => post(url, ALICE, '/classify', body)), { hits: 2, misses: 0 }, 'alice again: two hits');
});

t.test('TEXT_CACHE_SHARED=true: one cache for all keys', async (t) => {
  const url = await serve({ API_KEYS: KEYS, TEXT_CACHE_SHARED: 'true' });
  const text = { texts: ['shared cache probe two'] };
  t.same(await delta(url, ALICE, () => post(url, ALICE, '/embed/text', text)), { hits: 0, misses: 1 }, 'alice: a miss');
  t.same(await delta(url, ALICE, () => post(url, BOB, '/embed/text', text)), { hits: 1, misses: 0 }, 'bob: a hit on what alice sent');
});

t.test('without API keys, every request shares one cache', async (t) => {
  const url = await serve({});
  const text = { texts: ['open service cache probe three'] };
  t.same(await delta(url, undefined, () => post(url, undefined, '/embed/text', text)), { hits: 0, misses: 1 });
  t.same(await delta(url, undefined, () => post(url, undefined, '/embed/text', text)), { hits: 1, misses: 0 });
});
