import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DEMO, loadRegistry, testConfig } from './helpers/http.ts';

t.test('ORT_SPINNING: off by default (measured: the service is faster when idle ORT threads yield their cores), 0/1 only', (t) => {
  t.equal(loadConfig({}).ortSpinning, false);
  t.equal(loadConfig({ ORT_SPINNING: '1' }).ortSpinning, true);
  t.equal(loadConfig({ ORT_SPINNING: '0' }).ortSpinning, false);
  t.throws(() => loadConfig({ ORT_SPINNING: 'yes' }), ConfigError);
  t.throws(() => loadConfig({ ORT_SPINNING: '2' }), /ORT_SPINNING/);
  t.end();
});

t.test('a model serves with spinning on (the session option onnxruntime-node receives is valid)', async (t) => {
  const registry = await loadRegistry(testConfig({ MODEL_DIRS: DEMO, ORT_SPINNING: '1' }));
  t.teardown(() => registry.close());
  const model = registry.get();
  const [embedding] = await model.embedTexts(['a chest x-ray']);
  t.equal(embedding!.length, model.embedDim);
  t.ok(Math.abs(Math.hypot(...embedding!) - 1) < 1e-4, 'a unit vector came back from the worker');
});
