// The common behaviour of the `unimed` commands against a real service: 503 while it loads is retried after its
// Retry-After, a 429 of a rate-limited API key likewise, the key goes as a bearer token (--api-key or
// UNIMED_API_KEY), a 401 ends the run. Needs /usr/bin/python3 with numpy and Pillow (the archive's images).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { loadRegistry, PYTHON, testConfig, until } from '../helpers/common.ts';
import { makeArchive, PYTHON_INSTALL, runCli, serveDemo, startCli } from '../helpers/cli.ts';
import { listen } from '../helpers/http.ts';
import { requireTool } from '../helpers/tools.ts';

// A service, Python's generator and several CLI runs: more than the suites' default 120 s on a busy machine.
t.setTimeout(600_000);

t.test('unimed: retries, API key', async (t) => {
  if (!requireTool(t, PYTHON, PYTHON_INSTALL)) return;
  const work = mkdtempSync(join(tmpdir(), 'unimed-cli-retries-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const archive = await makeArchive(work);

  await t.test('retries: 503 while the service loads (Retry-After honoured); 429 from a rate-limited API key', async (t) => {
    const config = testConfig();
    const starting = await listen(config, undefined, new Metrics({ defaultMetrics: false }));
    t.teardown(() => starting.app.close());
    const running = startCli(['embed', '--input', join(archive.root, 'dicom'), '--out', join(work, 'retried')], {
      UNIMED_URL: starting.url,
    });
    await until(
      'the CLI to wait for the loading service',
      () => running.stderr().includes('retrying /models in 5.0 s (503 not_ready; attempt 1)'),
      30_000,
    );
    const { registry } = await loadRegistry();
    t.teardown(() => registry.close());
    starting.app.serviceState.setRegistry(registry);
    const done = await running.exited;
    t.equal(done.code, 0, done.stderr);
    t.match(done.stdout, '1 of 1 images embedded');

    const key = 'cli-test-key-0123456789';
    const limited = await serveDemo(t, { API_KEYS: `cli:${key} rate=2/second` });
    const args = [
      'embed',
      '--input',
      join(archive.root, 'synthetic/xray'),
      '--out',
      join(work, 'limited'),
      '--batch-size',
      '1',
      '--concurrency',
      '4',
    ];
    const refused = await runCli(args, { UNIMED_URL: limited.url });
    t.equal(refused.code, 1, 'without the key: 401 ends the run');
    t.match(refused.stderr, /401 /);
    const run = await runCli([...args, '--api-key', key], { UNIMED_URL: limited.url });
    t.equal(run.code, 0, run.stderr);
    t.match(run.stderr, /retrying \/embed\/image in 1\.0 s \(429 /, 'a 429 is retried after its Retry-After');
    t.match(run.stdout, '4 of 4 images embedded');
    const viaEnv = await runCli(['search', '--index', join(work, 'limited'), '--text', 'x-ray'], {
      UNIMED_URL: limited.url,
      UNIMED_API_KEY: key,
    });
    t.equal(viaEnv.code, 0, `UNIMED_API_KEY is sent too: ${viaEnv.stderr}`);
  });
});
