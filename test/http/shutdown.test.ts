// SIGTERM drain of the real entry point: `node src/server.ts` as a child process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import type { EmbedBody } from '../helpers/http.ts';
import { DEMO, ROOT, until } from '../helpers/common.ts';
import { json } from '../helpers/http.ts';

const png = readFileSync(join(DEMO, 'golden_resized.png'));

t.test('SIGTERM: readiness 503 at once, new work refused, in-flight requests finish with 200, exit 0', async (t) => {
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      MODEL_DIRS: DEMO,
      WORKERS_PER_ENCODER: '1',
      INTRA_OP_THREADS: '1',
      // Requests wait in the batcher for company, so they are reliably in flight when SIGTERM arrives.
      IMAGE_MAX_DELAY_MS: '1500',
      IMAGE_MAX_BATCH_SIZE: '64',
      SHUTDOWN_GRACE_MS: '20000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const logs: string[] = [];
  let url: string | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    logs.push(line);
    url ??= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
  });
  const base = await until('the server to listen', () => url, 30_000);
  t.equal((await fetch(base + '/healthz')).status, 200, '/healthz answers while models load');
  await until('readiness', async () => ((await fetch(base + '/readyz')).status === 200 ? true : undefined), 60_000);

  const post = () => fetch(base + '/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
  const inflight = [post(), post(), post()];
  await until('three queued images', async () => {
    const text = await (await fetch(base + '/metrics')).text();
    return /unimed_queue_depth\{[^}]*encoder="image"[^}]*\} 3/.test(text) ? true : undefined;
  });
  child.kill('SIGTERM');
  await until('readiness to turn 503', async () => ((await fetch(base + '/readyz')).status === 503 ? true : undefined));
  const refused = await post();
  t.equal(refused.status, 503, 'new work is refused');
  t.equal((await json(refused)).error.code, 'shutting_down');
  t.equal(refused.headers.get('retry-after'), '1');

  const results = await Promise.all(inflight);
  t.same(
    results.map((r) => r.status),
    [200, 200, 200],
    'requests in flight at SIGTERM complete',
  );
  for (const r of results) t.equal((await json<EmbedBody>(r)).embeddings.length, 1);
  const [code, signal] = await exited;
  t.equal(signal, null);
  t.equal(code, 0, 'exit code 0');
  t.ok(
    logs.some((l) => l.includes('shutting down')),
    'shutdown is logged',
  );
  t.notOk(
    logs.some((l) => l.includes('iVBOR')),
    'no image bytes in the logs',
  );
});
