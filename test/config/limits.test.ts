// The limits section (src/config/limits.ts): every limit on requests in one place, with its default, and the text
// queue (bounded in tokens) that follows the token limit.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

const MIB = 1024 * 1024;

t.test('limits: defaults', (t) => {
  const config = loadConfig({});
  t.same(config.limits, {
    bodyBytes: 32 * MIB,
    textBodyBytes: 4 * MIB,
    textsPerRequest: 128,
    charsPerText: 4096,
    tokensPerRequest: 8192,
    imagesPerRequest: 16,
    promptsPerClassify: 256,
    imagePixels: 64 * MIB,
    imageBytes: 512 * MIB,
    decompression: { ratio: 256, exemptBytes: 32 * MIB },
    inflightRequests: 128,
    seriesSlices: 256,
    seriesInstances: 4096,
  });
  t.equal(config.batching.text.maxQueue, 4 * 8192, 'the text queue is bounded in tokens');
  t.equal(loadConfig({ MAX_BODY_BYTES: '1048576' }).limits.textBodyBytes, 1048576, 'a text body never exceeds MAX_BODY_BYTES');
  t.equal(loadConfig({ MAX_TOKENS_PER_REQUEST: '100' }).batching.text.maxQueue, 400, 'the text queue follows the token budget');
  t.end();
});

t.test('limits: values parse, nonsense is refused naming the variable', (t) => {
  const config = loadConfig({
    MAX_BODY_BYTES: '2048',
    MAX_INFLIGHT_REQUESTS: '7',
    MAX_TEXT_BODY_BYTES: '1024',
    MAX_TEXTS_PER_REQUEST: '3',
    MAX_CHARS_PER_TEXT: '40',
    MAX_TOKENS_PER_REQUEST: '512',
    MAX_IMAGES_PER_REQUEST: '2',
    MAX_PROMPTS_PER_CLASSIFY: '9',
    MAX_IMAGE_PIXELS: '100',
    MAX_SERIES_SLICES: '5',
    MAX_SERIES_INSTANCES: '6',
    TEXT_MAX_QUEUE_TOKENS: '2048',
  });
  t.same(config.limits, {
    bodyBytes: 2048,
    textBodyBytes: 1024,
    textsPerRequest: 3,
    charsPerText: 40,
    tokensPerRequest: 512,
    imagesPerRequest: 2,
    promptsPerClassify: 9,
    imagePixels: 100,
    imageBytes: 512 * MIB,
    decompression: { ratio: 256, exemptBytes: 32 * MIB },
    inflightRequests: 7,
    seriesSlices: 5,
    seriesInstances: 6,
  });
  t.equal(config.batching.text.maxQueue, 2048);
  t.equal(config.http.lingerBytes, 8 * 2048, 'the linger bytes follow MAX_BODY_BYTES');
  t.throws(() => loadConfig({ MAX_INFLIGHT_REQUESTS: '0' }), { name: 'ConfigError', message: /MAX_INFLIGHT_REQUESTS/ });
  t.throws(
    () => loadConfig({ MAX_TEXT_BODY_BYTES: String(64 * MIB) }),
    { name: 'ConfigError', message: /MAX_TEXT_BODY_BYTES/ },
    'over MAX_BODY_BYTES',
  );
  t.throws(() => loadConfig({ MAX_BODY_BYTES: '1023' }), {
    name: 'ConfigError',
    message: /MAX_BODY_BYTES must be an integer between 1024/,
  });
  t.throws(() => loadConfig({ MAX_TOKENS_PER_REQUEST: 'many' }), ConfigError);
  t.throws(() => loadConfig({ MAX_SERIES_SLICES: '0' }), /MAX_SERIES_SLICES must be an integer/);
  t.throws(() => loadConfig({ MAX_SERIES_INSTANCES: 'many' }), /MAX_SERIES_INSTANCES must be an integer/);
  t.throws(() => loadConfig({ MAX_IMAGES_PER_REQUEST: '1.5' }), /MAX_IMAGES_PER_REQUEST/);
  t.throws(() => loadConfig({ MAX_TOKENS_PER_REQUEST: '1000', TEXT_MAX_QUEUE_TOKENS: '999' }), {
    message: /TEXT_MAX_QUEUE_TOKENS \(999\) must be at least MAX_TOKENS_PER_REQUEST/,
  });
  t.throws(
    () => loadConfig({ TEXT_MAX_QUEUE: '4096' }),
    { message: /TEXT_MAX_QUEUE_TOKENS/ },
    'the old item bound is refused, not ignored',
  );
  t.end();
});
