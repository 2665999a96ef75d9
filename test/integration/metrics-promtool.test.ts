// GET /metrics after real traffic (successes, refusals, errors on every inference route) passes Prometheus's own
// `promtool check metrics` (exposition format and naming lint), with prom-client's default process metrics on as
// in production. Needs promtool: .ci/run unpacks Debian's prometheus package into .tools/prometheus.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { DEMO, loadRegistry, ROOT } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';
import { requireTool } from '../helpers/tools.ts';

const unpacked = join(ROOT, '.tools/prometheus/usr/bin/promtool');
const PROMTOOL = process.env.PROMTOOL ?? (existsSync(unpacked) ? unpacked : 'promtool');

t.test('/metrics after traffic passes promtool check metrics', async (t) => {
  const promtool = requireTool(
    t,
    PROMTOOL,
    'apt-get install prometheus, or as .ci/run does: apt-get download prometheus; dpkg -x prometheus_*.deb .tools/prometheus',
  );
  if (!promtool) return;
  const { registry, metrics, config } = await loadRegistry(
    { MAX_TEXTS_PER_REQUEST: '2' },
    { metrics: new Metrics({ defaultMetrics: true }) },
  );
  const { app, url } = await listen(config, registry, metrics);
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });
  const png = readFileSync(join(DEMO, 'golden_resized.png'));
  const post = async (path: string, body: unknown) => {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    return res.status;
  };
  t.equal(await post('/embed/text', { texts: ['a chest x-ray'] }), 200);
  t.equal(await post('/embed/text', { texts: ['a', 'b', 'c'] }), 413);
  t.equal(await post('/embed/image', { images: [png.toString('base64')] }), 200);
  t.equal(await post('/classify', { image: png.toString('base64'), labels: ['ct', 'mri'] }), 200);
  t.equal(await post('/classify', { image: 'bm90IGFuIGltYWdl', labels: ['ct', 'mri'] }), 422);
  t.equal((await fetch(url + '/nope')).status, 404);

  const exposition = await (await fetch(url + '/metrics')).text();
  t.match(exposition, /unimed_model_info\{/, 'the service metrics are there');
  t.match(exposition, /process_cpu_seconds_total/, 'and the default process metrics');
  const check = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  t.equal(check.status, 0, `promtool check metrics: ${(check.stdout + check.stderr).trim() || 'no problems'}`);
});
