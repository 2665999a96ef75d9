// METRICS_PORT (metrics on a listener of their own, 404 on the API port) and core dumps off at start, on the
// real entry point `node src/server.ts` as a child process; plus the metrics listener built in-process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { coreFileLimit } from '../../src/core-dumps.ts';
import { buildMetricsListener } from '../../src/http/routes/metrics.ts';
import { Metrics } from '../../src/metrics.ts';
import { DEMO, ROOT, silentLogger, testConfig, until } from '../helpers/common.ts';

t.test('METRICS_PORT: /metrics is 404 on the API port and served by the metrics listener', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const config = testConfig({ METRICS_PORT: '0' });
  const app = await buildApp({ config, metrics, logger: silentLogger });
  const listener = await buildMetricsListener(metrics, silentLogger, config.security.allowedHosts);
  t.teardown(async () => {
    await app.close();
    await listener.close();
  });
  const api = await app.listen({ host: '127.0.0.1', port: 0 });
  const side = await listener.listen({ host: '127.0.0.1', port: 0 });
  await fetch(api + '/healthz');
  const onApi = await fetch(api + '/metrics');
  t.equal(onApi.status, 404, 'not on the API port');
  t.equal(((await onApi.json()) as { error: { code: string } }).error.code, 'route_not_found');
  const scraped = await fetch(side + '/metrics');
  t.equal(scraped.status, 200);
  t.match(await scraped.text(), /http_request_duration_seconds_count\{route="\/healthz"/, "the API's own metrics");
  t.equal((await fetch(side + '/healthz')).status, 404, 'only /metrics there');
  t.equal((await fetch(api + '/healthz')).status, 200, 'the API port serves the API');

  const withoutPort = await buildApp({ config: testConfig(), metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger });
  t.teardown(() => withoutPort.close());
  t.equal((await withoutPort.inject('/metrics')).statusCode, 200, 'unset: /metrics on the API port as before');
  t.throws(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' }, ROOT), /METRICS_PORT \(8080\) must differ from PORT/);
});

t.test('the entry point: metrics listener, core dumps off', async (t) => {
  // Soft core limit raised as far as the hard one allows, so the service has something to turn off.
  const child = spawn('sh', ['-c', 'ulimit -S -c "$(ulimit -H -c)"; exec "$0" src/server.ts', process.execPath], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      MODEL_DIRS: DEMO,
      WORKERS_PER_ENCODER: '1',
      INTRA_OP_THREADS: '1',
      AUDIT_LOG: '/dev/null',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let api: string | undefined;
  let side: string | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    api ??= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    side ??= /"url":"(http:\/\/127\.0\.0\.1:\d+)".*metrics listening/.exec(line)?.[1];
  });
  const metricsUrl = await until('the metrics listener', () => side, 30_000);
  const apiUrl = await until('the API listener', () => api);
  t.not(metricsUrl, apiUrl, 'two listeners');
  await until('readiness', async () => (await fetch(apiUrl + '/readyz')).status === 200, 60_000);
  t.equal((await fetch(apiUrl + '/metrics')).status, 404, '/metrics is 404 on the API port');
  t.match(await (await fetch(metricsUrl + '/metrics')).text(), /unimed_model_info\{/, 'the metrics listener serves them');

  const limit = coreFileLimit(readFileSync(`/proc/${child.pid}/limits`, 'utf8'));
  t.same(limit, { soft: '0', hard: '0' }, 'RLIMIT_CORE is 0 in the running service');
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0, 'stops cleanly, the metrics listener closed too');
});

t.test('coreFileLimit reads /proc/self/limits', (t) => {
  const text =
    'Limit                     Soft Limit           Hard Limit           Units\nMax core file size        0                    unlimited            bytes\n';
  t.same(coreFileLimit(text), { soft: '0', hard: 'unlimited' });
  t.equal(coreFileLimit('nothing here'), undefined);
  t.end();
});
