import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';

t.test('workload limits: defaults', (t) => {
  const config = loadConfig({});
  t.same(config.workload, {
    maxInflightRequests: 128,
    textBodyBytes: 4 * 1024 * 1024,
    maxTokensPerRequest: 8192,
    textQueueTokens: 4 * 8192,
  });
  t.equal(config.batching.text.maxQueue, 4 * 8192, 'the text queue is bounded in tokens');
  t.equal(config.limits.promptsPerClassify, 256);
  t.equal(loadConfig({ MAX_BODY_BYTES: '1048576' }).workload.textBodyBytes, 1048576, 'a text body never exceeds MAX_BODY_BYTES');
  t.equal(loadConfig({ MAX_TOKENS_PER_REQUEST: '100' }).workload.textQueueTokens, 400, 'the text queue follows the token budget');
  t.end();
});

t.test('workload limits: values parse, nonsense is refused naming the variable', (t) => {
  const config = loadConfig({
    MAX_INFLIGHT_REQUESTS: '7',
    MAX_TEXT_BODY_BYTES: '65536',
    MAX_TOKENS_PER_REQUEST: '512',
    TEXT_MAX_QUEUE_TOKENS: '2048',
  });
  t.same(config.workload, { maxInflightRequests: 7, textBodyBytes: 65536, maxTokensPerRequest: 512, textQueueTokens: 2048 });
  t.equal(config.batching.text.maxQueue, 2048);
  t.throws(() => loadConfig({ MAX_INFLIGHT_REQUESTS: '0' }), { name: 'ConfigError', message: /MAX_INFLIGHT_REQUESTS/ });
  t.throws(
    () => loadConfig({ MAX_TEXT_BODY_BYTES: String(64 * 1024 * 1024) }),
    { name: 'ConfigError', message: /MAX_TEXT_BODY_BYTES/ },
    'over MAX_BODY_BYTES',
  );
  t.throws(() => loadConfig({ MAX_TOKENS_PER_REQUEST: 'many' }), ConfigError);
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
