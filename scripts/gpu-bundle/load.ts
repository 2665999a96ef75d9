/**
 * The GPU check's load generator and embedding reader: plain node:http with keep-alive over loopback, a closed loop
 * of `concurrency` clients for a fixed time, every answer counted, bounded by timeouts.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Body {
  path: string;
  type: string;
  data: Buffer;
}

function send(agent: Agent, base: URL, body: Body, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: 'POST',
        path: body.path,
        headers: { 'content-type': body.type, 'content-length': String(body.data.length) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body.data);
  });
}

export interface LoadResult {
  concurrency: number;
  /** Items (images or texts) answered 2xx per second within the measured window. */
  perSecond: number;
  ok: number;
  errors: number;
  /** Statuses other than 2xx (0: no answer), with their counts. */
  failures: Record<string, number>;
  p50Ms: number;
}

/**
 * `concurrency` clients send `bodies` (cycling) for warmupMs + durationMs; answers within the last durationMs count.
 * `items` is how many images or texts one request carries.
 */
export async function closedLoop(o: {
  url: string;
  bodies: Body[];
  items: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  requestTimeoutMs: number;
}): Promise<LoadResult> {
  const base = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const start = performance.now();
  const windowStart = start + o.warmupMs;
  const deadline = windowStart + o.durationMs;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const body = o.bodies[next++ % o.bodies.length]!;
        const sent = performance.now();
        const status = await send(agent, base, body, o.requestTimeoutMs).then(
          (r) => r.status,
          () => 0,
        );
        const end = performance.now();
        if (end < windowStart || end > deadline) continue;
        if (status >= 200 && status < 300) {
          ok++;
          latencies.push(end - sent);
        } else {
          errors++;
          failures[String(status)] = (failures[String(status)] ?? 0) + 1;
        }
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    concurrency: o.concurrency,
    perSecond: (ok * o.items) / (o.durationMs / 1000),
    ok,
    errors,
    failures,
    p50Ms: latencies[Math.floor(latencies.length / 2)] ?? NaN,
  };
}

/** The embeddings the service answers for `body` (one per image or text, in order). */
export async function embeddings(url: string, body: Body, timeoutMs: number): Promise<number[][]> {
  const agent = new Agent({ keepAlive: false });
  try {
    const r = await send(agent, new URL(url), body, timeoutMs);
    if (r.status !== 200) throw new Error(`POST ${body.path} answered ${r.status}: ${r.text.slice(0, 300)}`);
    return (JSON.parse(r.text) as { embeddings: number[][] }).embeddings;
  } finally {
    agent.destroy();
  }
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
