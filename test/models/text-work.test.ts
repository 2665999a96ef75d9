// Text work on the HTTP thread is sliced: cleaning and tokenizing a large request yields to the event loop
// (other requests are answered meanwhile), and the token budget stops the work as soon as it is passed.
import t from 'tap';
import { counter } from '../helpers/engine-fixtures.ts';
import { loadRegistry } from '../helpers/common.ts';

const { registry, metrics } = await loadRegistry({
  TEXT_CACHE_BYTES: '0',
  MAX_TOKENS_PER_REQUEST: '200000',
  TEXT_MAX_QUEUE_TOKENS: '200000',
});
t.teardown(() => registry.close());
const model = registry.get();
const misses = (): Promise<number> => counter(metrics, 'unimed_text_cache_misses_total', { model: model.id });
/** 400 distinct texts of 300 words: each is cut to about 256 words and tokenized (about 100,000 tokens in all). */
const long = Array.from(
  { length: 400 },
  (_, i) => `case ${i} ` + Array.from({ length: 300 }, (_, w) => `finding${(w * 7 + i) % 97}`).join(' '),
);

t.test('tokenizing a large request yields to the event loop before it is done', async (t) => {
  const before = await misses();
  let tokenizingWhenTheLoopTurned: boolean | undefined;
  const work = model.embedTexts(long);
  // The texts reach the cache lookup (which counts them as misses) only once every one is tokenized.
  setImmediate(() => void misses().then((n) => (tokenizingWhenTheLoopTurned = n === before)));
  const rows = await work;
  t.equal(rows.length, long.length);
  t.equal(tokenizingWhenTheLoopTurned, true, 'another callback ran while the texts were still being tokenized');
  t.equal(await misses(), before + long.length);
});

t.test('the token budget stops the work once passed: too_many_tokens, nothing embedded', async (t) => {
  const small = await loadRegistry({ TEXT_CACHE_BYTES: '0', MAX_TOKENS_PER_REQUEST: '1000' });
  t.teardown(() => small.registry.close());
  const before = await counter(small.metrics, 'unimed_text_cache_misses_total', {});
  const err = await small.registry
    .get()
    .embedTexts(long)
    .catch((e: unknown) => e);
  t.match(err, { code: 'too_many_tokens' });
  t.equal(await counter(small.metrics, 'unimed_text_cache_misses_total', {}), before, 'no text reached the cache or the encoder');
});
