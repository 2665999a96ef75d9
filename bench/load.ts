/**
 * The load generator: a separate process (forked by bench/run.ts, IPC for orders and results) so that its own
 * work is not counted in the service's event loop. Plain node:http with keep-alive, loopback only.
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Scenario {
  name: string;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  kind: 'image' | 'text' | 'classify';
  imageFile?: string;
  /** Distinct prompts for /embed/text, one per request, never reused within a run (unless `repeatPrompts`). */
  prompts?: string[];
  /** Send the prompts round and round (cached texts: the service's per-request overhead). */
  repeatPrompts?: boolean;
  promptSet?: string;
  /** Closed loop: this many clients, each sending its next request when the previous one is answered. */
  concurrency: number;
  /** Open loop instead: requests start at this fixed rate (per second) whatever the answers do. */
  rate?: number;
  warmupMs: number;
  durationMs: number;
  /** Stop after this many requests (all counted, warm-up included). */
  maxRequests?: number;
  /** Probe /healthz this often during the measured window. */
  healthEveryMs?: number;
  /** Scrape /metrics at the start and the end of the measured window (prom-client resets the event-loop histogram on each scrape). */
  scrapeMetrics?: boolean;
}

export interface ScenarioResult {
  name: string;
  kind: Scenario['kind'];
  concurrency: number;
  rate?: number;
  /** Requests answered 2xx within the measured window. */
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  throughput: number;
  latenciesMs: number[];
  healthMs: number[];
  metricsEnd?: string;
  totalRequests: number;
}

interface Target {
  path: string;
  /** Bodies available (distinct prompts); unlimited when absent. */
  count?: number;
  headers: Record<string, string>;
  body: (i: number) => Buffer;
}

function multipart(
  fields: Record<string, string>,
  file: { name: string; filename: string; type: string; data: Buffer },
): { body: Buffer; type: string } {
  const boundary = `----unimedbench${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`,
    ),
  );
  parts.push(file.data, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

function target(s: Scenario): Target {
  if (s.kind === 'image') {
    const jpeg = readFileSync(s.imageFile!);
    return { path: '/embed/image', headers: { 'content-type': 'image/jpeg' }, body: () => jpeg };
  }
  if (s.kind === 'text') {
    const prompts = s.prompts!;
    if (s.repeatPrompts === true)
      return {
        path: '/embed/text',
        headers: { 'content-type': 'application/json' },
        body: (i) => Buffer.from(JSON.stringify({ texts: [prompts[i % prompts.length]] })),
      };
    return {
      path: '/embed/text',
      count: prompts.length,
      headers: { 'content-type': 'application/json' },
      body: (i) => {
        if (i >= prompts.length) throw new Error(`scenario ${s.name} ran out of distinct prompts (${prompts.length})`);
        return Buffer.from(JSON.stringify({ texts: [prompts[i]] }));
      },
    };
  }
  const form = multipart(
    { prompt_set: s.promptSet! },
    { name: 'image', filename: 'bench.jpg', type: 'image/jpeg', data: readFileSync(s.imageFile!) },
  );
  return { path: '/classify', headers: { 'content-type': form.type }, body: () => form.body };
}

function send(
  agent: Agent,
  base: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const base = new URL(s.baseUrl);
  const t = target(s);
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, s.rate ? Math.ceil(s.rate * 4) + 8 : s.concurrency) });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const start = performance.now();
  const windowStart = start + s.warmupMs;
  const deadline = windowStart + s.durationMs;
  const latencies: number[] = [];
  const completions: number[] = [];
  const health: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let issued = 0;
  let metricsEnd: string | undefined;

  const one = async (intended: number): Promise<void> => {
    const i = issued++;
    let status: number;
    try {
      status = (await send(agent, base, 'POST', t.path, t.headers, t.body(i))).status;
    } catch {
      status = 0;
    }
    const end = performance.now();
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    if (end < windowStart || end > deadline) return;
    if (status >= 200 && status < 300) {
      ok++;
      completions.push(end);
      // Open loop: latency from the intended start, so a stalled server is not hidden (coordinated omission).
      if (intended >= windowStart) latencies.push(end - intended);
    } else {
      errors++;
    }
  };
  const cap = Math.min(s.maxRequests ?? Infinity, t.count ?? Infinity);
  const more = (): boolean => performance.now() < deadline && issued < cap;

  let running = true;
  const probe = (async () => {
    if (s.healthEveryMs === undefined) return;
    while (running && performance.now() < windowStart) await sleep(Math.min(50, windowStart - performance.now()));
    while (running && performance.now() < deadline) {
      const t0 = performance.now();
      const r = await send(probeAgent, base, 'GET', '/healthz', {}).catch(() => ({ status: 0, text: '' }));
      if (r.status === 200) health.push(performance.now() - t0);
      await sleep(Math.max(0, s.healthEveryMs - (performance.now() - t0)));
    }
  })();
  const scraper = (async () => {
    if (!s.scrapeMetrics) return;
    await sleep(Math.max(0, windowStart - performance.now()));
    await send(probeAgent, base, 'GET', '/metrics', {}).catch(() => undefined);
    await sleep(Math.max(0, deadline - performance.now()));
    if (s.maxRequests === undefined) metricsEnd = (await send(probeAgent, base, 'GET', '/metrics', {}).catch(() => ({ text: '' }))).text;
  })();

  if (s.rate !== undefined) {
    const interval = 1000 / s.rate;
    const outstanding = new Set<Promise<void>>();
    for (let k = 0; more(); k++) {
      const intended = start + k * interval;
      const wait = intended - performance.now();
      if (wait > 0) await sleep(wait);
      const p = one(intended).finally(() => outstanding.delete(p));
      outstanding.add(p);
    }
    await Promise.all(outstanding);
  } else {
    await Promise.all(
      Array.from({ length: s.concurrency }, async () => {
        while (more()) await one(performance.now());
      }),
    );
  }
  const finished = performance.now();
  running = false;
  await Promise.all([probe, scraper]);
  agent.destroy();
  probeAgent.destroy();
  const seconds = (Math.min(finished, deadline) - windowStart) / 1000;
  // Answers come in batches (a batch of 8 ViT-B images takes over a second): counting whole batches between
  // the first and the last answer of the window avoids a +-1 batch error from where the window edges fall.
  completions.sort((a, b) => a - b);
  let burstEnd = 0; // answers closer than 50 ms to the previous one belong to the same batch
  while (burstEnd + 1 < completions.length && completions[burstEnd + 1]! - completions[burstEnd]! < 50) burstEnd++;
  const after = completions.length - burstEnd - 1;
  const span = (completions[completions.length - 1] ?? 0) - (completions[burstEnd] ?? 0);
  const throughput = after >= completions.length / 2 && span > 1000 ? (after * 1000) / span : ok / seconds;
  return {
    name: s.name,
    kind: s.kind,
    concurrency: s.concurrency,
    ...(s.rate === undefined ? {} : { rate: s.rate }),
    ok,
    errors,
    statuses,
    seconds,
    throughput,
    latenciesMs: latencies,
    healthMs: health,
    ...(metricsEnd === undefined ? {} : { metricsEnd }),
    totalRequests: issued,
  };
}

// Forked by bench/run.ts: one scenario per message, one result per message.
if (process.send !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  process.on('message', (message: { type: 'run'; scenario: Scenario } | { type: 'exit' }) => {
    if (message.type === 'exit') process.exit(0);
    runScenario(message.scenario).then(
      (result) => process.send!({ type: 'result', result }),
      (err: unknown) => process.send!({ type: 'error', error: err instanceof Error ? err.stack : String(err) }),
    );
  });
  process.send({ type: 'ready' });
}
