// Texts sent for embedding, labels and request bodies may be patient data: none of them may reach the logs,
// whatever the outcome (success, a refused input, a body that is not even JSON). Logs are captured at trace
// level from both the HTTP layer and the engine.
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/service/registry.ts';
import { capturedLogger, testConfig } from '../helpers/common.ts';

const SECRET = 'Zebediah Quixotefield DOB 1961-04-17';
const { logger, lines } = capturedLogger('trace');
const config = testConfig({ MAX_CHARS_PER_TEXT: '200' });
const metrics = new Metrics({ defaultMetrics: false });
const registry = await ModelRegistry.load(config, { logger, metrics });
const app = await buildApp({ config, metrics, registry, logger });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const post = async (path: string, body: string, type = 'application/json') => {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': type }, body });
  await res.arrayBuffer();
  return res.status;
};

t.test('no text, label or body reaches the logs', async (t) => {
  const before = lines.length;
  t.equal(await post('/embed/text', JSON.stringify({ texts: [`history: ${SECRET}`] })), 200, 'embedded');
  t.equal(await post('/embed/text', JSON.stringify({ texts: [`${SECRET} `.repeat(20)] })), 413, 'too long');
  t.equal(await post('/embed/text', `{"texts": ["${SECRET}" oops`), 400, 'not JSON');
  t.equal(await post('/embed/text', JSON.stringify({ texts: [SECRET], extra: SECRET })), 400, 'unknown field');
  t.equal(await post('/classify', JSON.stringify({ image: 'bm90IGFuIGltYWdl', labels: [SECRET, 'x'] })), 422, 'bad image');
  const written = lines.slice(before);
  t.ok(written.length >= 5, `${written.length} log lines written for 5 requests`);
  for (const part of SECRET.split(' ')) {
    t.notOk(
      written.some((line) => line.includes(part)),
      `"${part}" appears in no log line`,
    );
  }
});
