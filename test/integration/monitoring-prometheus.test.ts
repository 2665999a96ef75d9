// The monitoring pack against a real Prometheus (Debian's 2.42 server, from .tools/prometheus like promtool)
// scraping the real service (`node src/server.ts`, the demo model) on its metrics port, as the ServiceMonitor
// does in a cluster: under load every dashboard panel returns data, the error panels under induced errors
// (invalid JSON, an unknown model, too many texts, a full image queue), prometheus-adapter's HPA query gives a
// number per instance, and every alert rule evaluates without error. Scrapes and rule evaluation every second;
// the test waits on conditions read from Prometheus's HTTP API, never on a fixed delay.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { DEMO, freePort, ROOT, until } from '../helpers/common.ts';
import { adapterQuery, alertRules, dashboardQueries, PROMETHEUS, PROMETHEUS_INSTALL } from '../helpers/monitoring.ts';
import { requireTool } from '../helpers/tools.ts';

/** Starts a program; the teardown stops it with SIGTERM and waits for it to exit. */
function start(t: Test, command: string, args: string[], env: Record<string, string>, log: string): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') t.comment(`${log} exited (${code ?? signal}): ${output}`);
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
  return child;
}

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

t.test('a real Prometheus scraping the service: every panel has data, the HPA query a value, every rule evaluates', async (t) => {
  const prometheus = requireTool(t, PROMETHEUS, PROMETHEUS_INSTALL);
  if (!prometheus) return;
  const dir = mkdtempSync(join(tmpdir(), 'unimed-prometheus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [apiPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const prom = `http://127.0.0.1:${promPort}`;

  const downPort = await freePort(); // nothing listens there
  const jobsKeyFile = join(dir, 'jobs-key');
  writeFileSync(jobsKeyFile, 'prometheus-test-jobs-key-0123456789abcdef\n');
  // The service as the manifests run it, metrics on their own port; small limits so that errors are easy to cause.
  start(
    t,
    process.execPath,
    ['--max-semi-space-size=16', 'src/server.ts'],
    {
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      METRICS_PORT: String(metricsPort),
      // An ingress name and the API port by address (for the load below): Prometheus's scrape of the metrics port,
      // by address like a pod IP, is let through by the Host check's exemption for /metrics, not by the list.
      ALLOWED_HOSTS: `unimed.hospital.example,127.0.0.1:${apiPort}`,
      MODEL_DIRS: DEMO,
      WORKERS_PER_ENCODER: '1',
      INTRA_OP_THREADS: '1',
      LOG_LEVEL: 'warn',
      AUDIT_LOG: join(dir, 'audit.log'),
      MAX_TEXTS_PER_REQUEST: '4',
      IMAGE_MAX_QUEUE: '1',
      // Jobs enabled (none posted): the jobs panel reads the store's gauges; a watch of a source that is down
      // fills the watch polls' series (outcome source_failed) every second.
      JOBS_DB: join(dir, 'jobs.sqlite'),
      JOBS_KEY_FILE: jobsKeyFile,
      DICOMWEB_SOURCES: JSON.stringify({ down: { url: `http://127.0.0.1:${downPort}/dicom-web`, timeout_ms: 1000 } }),
      WATCHES: JSON.stringify({
        ct: { source: 'down', filters: { ModalitiesInStudy: 'CT' }, interval_seconds: 1, job: { prompt_set: 'modality' } },
      }),
    },
    'the service',
  );
  writeFileSync(join(dir, 'rules.yaml'), alertRules().text);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [{ job_name: 'unimed-serve', metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] }],
    }),
  );
  start(
    t,
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    {},
    'prometheus',
  );

  const ok = async (url: string) => (await fetch(url).catch(() => undefined))?.ok === true;
  await until('the service to be ready', () => ok(`${api}/readyz`), 120_000);
  await until('Prometheus to be ready', () => ok(`${prom}/-/ready`), 60_000);
  const query = async (expr: string): Promise<Series[]> => {
    const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Series[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  };
  const finite = (series: Series[]) => series.filter((s) => Number.isFinite(Number(s.value[1])));
  await until('the first successful scrape', async () => (await query('up{job="unimed-serve"} == 1')).length === 1, 30_000);
  const metricsOnApiPort = await fetch(`${api}/metrics`);
  await metricsOnApiPort.arrayBuffer();
  t.equal(metricsOnApiPort.status, 404, 'with METRICS_PORT set, the API port has no /metrics');

  const png = readFileSync(join(DEMO, 'golden_resized.png')).toString('base64');
  const post = async (path: string, body: unknown, raw?: string) => {
    const res = await fetch(api + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ?? JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.status;
  };
  let round = 0;
  const statuses = new Set<number>();
  /** One round of traffic: successes on every inference route (a repeated text for cache hits), and errors. */
  const traffic = async () => {
    round++;
    const results = await Promise.all([
      post('/embed/text', { texts: [`chest x-ray number ${round}`, 'a repeated text'] }),
      post('/embed/image', { images: [png] }),
      post('/classify', { image: png, labels: ['chest x-ray', `brain MRI ${round}`] }),
      post('/embed/text', undefined, '{"texts": [nope'),
      post('/embed/text', { texts: ['x'], model: 'no-such-model' }),
      post('/embed/text', { texts: ['a', 'b', 'c', 'd', 'e'] }),
      post('/embed/image', { images: [png, png] }),
    ]);
    for (const status of results) statuses.add(status);
  };

  const panels = dashboardQueries();
  const byPanel = Map.groupBy(panels, (p) => p.panel);
  const missing = async () => {
    const empty: string[] = [];
    for (const [panel, targets] of byPanel) {
      const results = await Promise.all(targets.map((target) => query(target.expr)));
      if (!results.some((r) => finite(r).length > 0)) empty.push(panel);
    }
    return empty;
  };
  // Traffic until every panel has data: bounded in rounds and time; the condition is read from Prometheus.
  const deadline = Date.now() + 90_000;
  let empty = await missing();
  while (empty.length > 0 && round < 400 && Date.now() < deadline) {
    await traffic();
    empty = await missing();
  }
  t.same(empty, [], `every panel returns data (after ${round} rounds of traffic)`);
  t.same(
    [...statuses].sort((a, b) => a - b),
    [200, 400, 404, 413, 503],
    'the traffic had successes and each induced error',
  );

  const errorsByCode = await query(byPanel.get('Errors by status code')![0]!.expr);
  t.same(
    finite(errorsByCode)
      .map((s) => s.metric.status_code)
      .sort(),
    ['400', '404', '413', '503'],
    'the error panel shows each induced status code',
  );
  const refused = await query(byPanel.get('Requests refused or failed, by reason')![0]!.expr);
  t.ok(
    finite(refused).some((s) => s.metric.reason === 'queue_full'),
    'the refusal panel shows queue_full',
  );
  const [provider] = await query(byPanel.get('Execution provider')![0]!.expr);
  t.match(
    provider?.metric,
    { model: 'unimed-demo', provider: 'cpu', requested_provider: 'cpu' },
    'the provider panel names the provider in use and the one asked for',
  );

  const hpa = finite(await query(adapterQuery()));
  t.equal(hpa.length, 1, "prometheus-adapter's query gives one value per pod");
  t.ok(Number(hpa[0]?.value[1]) >= 0, `queue wait p90: ${hpa[0]?.value[1]} s`);

  // Every alert rule evaluated at least once, without error.
  const names = alertRules().groups.flatMap((g) => g.rules.map((r) => r.alert));
  type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
  const rules = await until(
    'every rule to have been evaluated',
    async () => {
      const res = await fetch(`${prom}/api/v1/rules`);
      const body = (await res.json()) as { data: { groups: { rules: Rule[] }[] } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length === names.length && all.every((r) => !r.lastEvaluation.startsWith('0001-')) ? all : undefined;
    },
    30_000,
  );
  t.same(rules.map((r) => r.name).sort(), [...names].sort(), 'Prometheus loaded every alert');
  for (const rule of rules) t.equal(rule.health, 'ok', `${rule.name} evaluates${rule.lastError ? `: ${rule.lastError}` : ''}`);
  const firing = await query('ALERTS{alertstate="firing"}');
  t.same(
    firing.map((s) => s.metric.alertname),
    [],
    'nothing fires on a healthy service (the error alerts need minutes of errors)',
  );
});
