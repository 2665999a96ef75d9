import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { paddedLength, textFeeds } from '../../src/engine/feeds.ts';
import { cleanText, htmlUnescape } from '../../src/models/clean.ts';
import { createTextCache, textCacheKey } from '../../src/models/text-embedder.ts';
import { cutToPieceBudget, TextTokenizer } from '../../src/models/tokenizer.ts';
import { DEMO, loadRegistry, PYTHON, ROOT } from '../helpers/common.ts';
import { counter, histogram } from '../helpers/engine-fixtures.ts';
import { fromJsonBlob, reference } from '../helpers/reference.ts';

const manifest = JSON.parse(readFileSync(join(DEMO, 'model.json'), 'utf8')) as {
  text: { tokenizer: string; context_length: number; pad_id: number; cls_id: number; sep_id: number };
};
const spec = {
  contextLength: manifest.text.context_length,
  padId: manifest.text.pad_id,
  clsId: manifest.text.cls_id,
  sepId: manifest.text.sep_id,
};
const tokenizer = await TextTokenizer.load(DEMO, manifest.text.tokenizer, spec);

// Inputs where a naive port would differ from Python: every cleaning step, entity corner cases of
// html.unescape, Unicode whitespace, control characters, lone surrogates, CJK, accents, truncation.
const TRICKY = [
  'Crohn’s “skip lesions” ‚low‛ „x‟ ʼtwas',
  'ＣＴ　ｓｃａｎ！ ～ｘ～',
  'ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ Ǉ ǈ ǉ Ǌ ǋ ǌ Ǳ ǲ ǳ Ǆ ǅ ǆ',
  'e\u0301 cafe\u0301 A\u030a',
  '&lt;5 mm &amp;amp; &gt; &nbsp; &#x3B1; &#945; &#X3b1',
  '&ampfoo &ampamp; &notit; &notin; &not &copy2024 &AMP &Amp; &lt',
  '&#0; &#13; &#x80; &#x81; &#150; &#1; &#x7f; &#xD800; &#x110000; &#99999999999999999999; &#xFFFE; &#xFDD0;',
  '&CounterClockwiseContourIntegral; &CounterClockwiseContourIntegralX; &abcdefghijklmnopqrstuvwxyzabcdefghij;',
  '& ; &; &# &#x &#xZ; a&b a & b &amp &amp;lt;',
  '\u0000a\u0007b\u000bc\u000cd\u001fe\u007ff\u0085g\u009fh\ud800i\udfffj',
  '  \t\n\r \u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000 x \u200b y \ufeff z  ',
  '\u001c\u001d\u001e\u001f sep',
  '肺炎 中文 テスト 한국어 pneumonia',
  'Naïve Ångström façade résumé ÆØÅ ß İstanbul ΣΑΣ',
  '[MASK] [CLS] [SEP] [PAD] [UNK] [mask]',
  'x'.repeat(150) + ' ' + 'pneumonoultramicroscopicsilicovolcanoconiosis',
  Array.from({ length: 300 }, (_, i) => `word${i % 17}`).join(' '),
  'SUVmax 7.8 +/- 1.2% (n=1024); 12/24 @ 0.5mm — “quoted” – dash … ellipsis',
  'emoji 😊🫁 and 𝔘𝔫𝔦 math',
  '',
  '   ',
  '&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;',
  'ext-b \u{20000}\u{2A6D6} unassigned \u0378 private \ue000 end',
];

/** training/tokenizer.py's cleaning and ids (committed under test/fixtures/reference/, or live with test:reference). */
function python(texts: string[]): { cleaned: string; ids: number[] }[] {
  const script = [
    'import json, sys',
    'from training.tokenizer import BertTokenizer, clean_text',
    `tok = json.load(open(${JSON.stringify(join(DEMO, manifest.text.tokenizer))}, encoding="utf-8"))`,
    `bt = BertTokenizer(tok["model"]["vocab"], context_length=${spec.contextLength})`,
    'texts = json.loads(sys.stdin.read())',
    'print(json.dumps([{"cleaned": clean_text(t), "ids": bt.encode(t)} for t in texts]))',
  ].join('\n');
  const recipe = {
    kind: 'output' as const,
    what: 'training/tokenizer.py clean_text and BertTokenizer.encode',
    key: [texts, readFileSync(join(DEMO, manifest.text.tokenizer)), spec.contextLength],
  };
  const result = reference(recipe, () => ({
    'tokens.json': execFileSync(PYTHON, ['-c', script], { cwd: ROOT, input: JSON.stringify(texts) }),
  }));
  return fromJsonBlob<{ cleaned: string; ids: number[] }[]>(result['tokens.json']!);
}

t.test('cleaning and token ids equal training/tokenizer.py on tricky inputs', (t) => {
  const expected = python(TRICKY);
  TRICKY.forEach((text, i) => {
    const got = tokenizer.encode(text);
    t.equal(got.cleaned, expected[i]!.cleaned, `cleaned text ${i}`);
    t.same(got.ids, expected[i]!.ids, `ids ${i}`);
  });
  t.end();
});

t.test('golden.json token ids are reproduced exactly', (t) => {
  const golden = JSON.parse(readFileSync(join(DEMO, 'golden.json'), 'utf8')) as {
    texts: { text: string; cleaned: string; input_ids: number[] }[];
  };
  t.ok(golden.texts.length >= 10);
  for (const [i, g] of golden.texts.entries()) {
    const got = tokenizer.encode(g.text);
    t.equal(got.cleaned, g.cleaned, `golden text ${i} cleaned`);
    t.same(got.ids, g.input_ids, `golden text ${i} ids`);
  }
  t.end();
});

t.test('truncation keeps [CLS], the first context_length - 2 pieces and [SEP]', (t) => {
  const long = Array.from({ length: 400 }, () => 'pneumonia').join(' ');
  const ids = tokenizer.encode(long).ids;
  const pieces = tokenizer.pieces(cleanText(long));
  t.ok(pieces.length > spec.contextLength);
  t.equal(ids.length, spec.contextLength);
  t.equal(ids[0], spec.clsId);
  t.equal(ids.at(-1), spec.sepId);
  t.same(ids.slice(1, -1), pieces.slice(0, spec.contextLength - 2));
  t.same(tokenizer.encode('').ids, [spec.clsId, spec.sepId]);
  t.end();
});

// Words and characters that stress the cut: vocabulary words, punctuation (ASCII and Unicode), symbols that are
// not punctuation, characters the normalizer deletes or decomposes away (U+FEFF, U+200B, Mn marks, private
// use), CJK (split per character), final sigma, a word over 100 characters (one [UNK]) and separators.
const CUT_ALPHABET = [
  'chest',
  'x-ray',
  'pneumonia',
  'ct',
  'mri',
  'of',
  'the',
  'ultrasound',
  'fundus',
  'unknownword',
  'ab##c',
  '.',
  ',',
  '!',
  '(',
  ')',
  '$',
  '+',
  '~',
  '\u00bf',
  '\u2014',
  '\u00a9',
  '\u00b0',
  '\u00a8',
  '\u1fed',
  '\u00e9',
  'e\u0301',
  '\ufeff',
  '\u200b',
  '\u0301',
  '\u0301\u0302',
  '\ue000',
  '\u4e2d\u6587',
  '\u{20000}',
  '\u039f\u0394\u039f\u03a3',
  '\u03a3',
  'x'.repeat(120),
  ' ',
  ' ',
  ' ',
  '\u00a0',
  '\u3000',
  '\t',
  '\n',
  '\u2028',
];

function randomText(seed: number, words: number): string {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  let out = '';
  for (let i = 0; i < words; i++) {
    out += CUT_ALPHABET[next() % CUT_ALPHABET.length]!;
    if (next() % 3 === 0) out += ' ';
  }
  return out;
}

t.test('the text is cut before tokenizing, to a prefix that yields the same ids as the whole text', (t) => {
  const budget = spec.contextLength - 2;
  let cut = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const cleaned = cleanText(randomText(seed, 40 + (seed % 7) * 120));
    const whole = tokenizer.pieces(cleaned);
    const expected = [spec.clsId, ...whole.slice(0, budget), spec.sepId];
    const prefix = cutToPieceBudget(cleaned, budget);
    if (prefix.length < cleaned.length) cut++;
    t.ok(cleaned.startsWith(prefix), `seed ${seed}: a prefix`);
    t.same(tokenizer.encodeCleaned(cleaned), expected, `seed ${seed}: same ids as the uncut text`);
  }
  t.ok(cut >= 100, `the cut applied to ${cut} of 300 texts`);
  t.end();
});

t.test('the cut is exact where every word is one piece: words the normalizer deletes and U+FEFF inside a word', (t) => {
  const budget = spec.contextLength - 2;
  const uncut = (cleaned: string) => [spec.clsId, ...tokenizer.pieces(cleaned).slice(0, budget), spec.sepId];
  // U+FEFF is deleted by the normalizer, so it joins "abnor" and "mality" into one word: no place to cut.
  const joined = cleanText(`${'ct '.repeat(budget - 1)}abnor\ufeffmality tail`);
  t.same(tokenizer.encodeCleaned(joined), uncut(joined), 'U+FEFF is not a word boundary');
  // Words made only of characters the normalizer deletes yield no piece and must not be counted as one.
  for (const vanishing of ['\u0301', '\u200b', '\ue000', '\u0301\u200b']) {
    const text = cleanText(`${'mri '.repeat(budget - 3)}${`${vanishing} `.repeat(4)}ct mri scan of the chest`);
    t.same(tokenizer.encodeCleaned(text), uncut(text), `a word of only U+${vanishing.codePointAt(0)!.toString(16)} yields no piece`);
  }
  t.end();
});

t.test('a text of megabytes is cut to a few hundred words before the tokenizer sees it', (t) => {
  const huge = cleanText('chest x-ray of the lungs, '.repeat(200_000));
  const prefix = cutToPieceBudget(huge, spec.contextLength - 2);
  t.ok(huge.length > 5_000_000);
  t.ok(prefix.length < 2_000, `cut to ${prefix.length} characters`);
  t.same(tokenizer.encodeCleaned(huge), tokenizer.encodeCleaned(prefix));
  t.equal(tokenizer.encodeCleaned(huge).length, spec.contextLength);
  t.end();
});

t.test('a tokenizer.json outside the contract (not BertNormalizer/BertPreTokenizer/WordPiece) is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'unimed-tok-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = JSON.parse(readFileSync(join(DEMO, manifest.text.tokenizer), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, pre_tokenizer: { type: 'Whitespace' } }));
  await copyFile(join(DEMO, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await t.rejects(TextTokenizer.load(dir, 'tokenizer.json', spec), /pre_tokenizer must be BertPreTokenizer/);
});

t.test('cleaning steps', (t) => {
  t.equal(cleanText('a\u00a0\u00a0b\t\nc '), 'a b c');
  t.equal(cleanText('ﬁbrosis'), 'fibrosis');
  t.equal(cleanText('&amp;amp;'), '&', 'HTML-unescaped twice');
  t.equal(cleanText('&amp;amp;amp;'), '&amp;', 'but not three times');
  t.equal(htmlUnescape('&#65;&#x42;&lt'), 'AB<');
  t.equal(cleanText('e\u0301'), '\u00e9', 'NFC');
  t.end();
});

t.test('text batches pad to the longest text rounded up to a multiple of 8, never to 256', (t) => {
  t.equal(paddedLength(2, 256), 8);
  t.equal(paddedLength(8, 256), 8);
  t.equal(paddedLength(9, 256), 16);
  t.equal(paddedLength(256, 256), 256);
  const feeds = textFeeds({ inputIds: 'input_ids', attentionMask: 'attention_mask', padId: 0, contextLength: 256 }, [
    [2, 7, 3],
    [2, 5, 6, 7, 8, 9, 10, 11, 12, 3],
  ]);
  t.same(feeds[0]!.dims, [2, 16]);
  t.same([...feeds[0]!.data.slice(0, 16)].map(Number), [2, 7, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  t.same([...feeds[1]!.data.slice(0, 16)].map(Number), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  t.same([...feeds[1]!.data.slice(16)].map(Number), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  t.end();
});

t.test('text cache: LRU bounded in bytes, keyed by model sha256 + text', (t) => {
  const vector = (x: number): Float32Array => new Float32Array(64).fill(x);
  const one = textCacheKey('a'.repeat(64), 'x');
  const entryBytes = one.length * 2 + 64 * 4 + 96;
  const cache = createTextCache(entryBytes * 2)!;
  const keys = ['x', 'y', 'z'].map((text) => textCacheKey('a'.repeat(64), text));
  cache.set(keys[0]!, vector(0));
  cache.set(keys[1]!, vector(1));
  t.equal(cache.get(keys[0]!)?.[0], 0, 'hit refreshes x');
  cache.set(keys[2]!, vector(2));
  t.equal(cache.size, 2);
  t.ok(cache.calculatedSize <= entryBytes * 2, `${cache.calculatedSize} bytes held`);
  t.equal(cache.get(keys[1]!), undefined, 'least recently used y was evicted');
  t.equal(cache.get(keys[0]!)?.[0], 0);
  t.equal(cache.get(textCacheKey('b'.repeat(64), 'x')), undefined, 'another model never sees the entry');
  t.equal(createTextCache(0), undefined, 'a zero budget disables the cache');
  t.end();
});

t.test('text cache partitions: a key of one partition is never another partition or the shared one', (t) => {
  const sha = 'a'.repeat(64);
  const keys = [textCacheKey(sha, 'x'), textCacheKey(sha, 'x', 'alice'), textCacheKey(sha, 'x', 'bob'), textCacheKey(sha, 'alice\u0000x')];
  t.equal(new Set(keys).size, keys.length, 'the shared key, two partitions and a text that spells a partition all differ');
  t.equal(textCacheKey(sha, 'x', 'alice'), textCacheKey(sha, 'x', 'alice'));
  t.end();
});

t.test('text cache partitions: a text cached (or in flight) for one partition is a miss for another', async (t) => {
  const { registry, metrics } = await loadRegistry();
  t.teardown(() => registry.close());
  const model = registry.get();
  const labels = { model: model.id };
  const count = async (): Promise<{ hits: number; misses: number; ran: number }> => ({
    hits: await counter(metrics, 'unimed_text_cache_hits_total', labels),
    misses: await counter(metrics, 'unimed_text_cache_misses_total', labels),
    ran: (await histogram(metrics, 'unimed_batch_size', { model: model.id, encoder: 'text' })).sum,
  });
  const since = async (before: { hits: number; misses: number; ran: number }): Promise<{ hits: number; misses: number; ran: number }> => {
    const now = await count();
    return { hits: now.hits - before.hits, misses: now.misses - before.misses, ran: now.ran - before.ran };
  };
  let before = await count();
  const [a] = await model.embedTexts(['partition probe'], { cachePartition: 'alice' });
  const [b] = await model.embedTexts(['partition probe'], { cachePartition: 'bob' });
  const [shared] = await model.embedTexts(['partition probe']);
  t.same(await since(before), { hits: 0, misses: 3, ran: 3 }, 'alice, bob and the shared partition each computed it');
  t.same(b, a, 'the same vector, computed again');
  t.same(shared, a);
  before = await count();
  await model.embedTexts(['partition probe'], { cachePartition: 'alice' });
  await model.classEmbeddings([{ name: 'probe', text: 'partition probe' }], ['{}'], { cachePartition: 'bob' });
  t.same(await since(before), { hits: 2, misses: 0, ran: 0 }, 'each partition hits its own entry, through texts and labels alike');
  before = await count();
  await Promise.all([
    model.embedTexts(['in flight probe'], { cachePartition: 'alice' }),
    model.embedTexts(['in flight probe'], { cachePartition: 'alice' }),
    model.embedTexts(['in flight probe'], { cachePartition: 'bob' }),
  ]);
  t.same(await since(before), { hits: 1, misses: 2, ran: 2 }, "alice's second request awaits her first; bob's computes his own");
});
