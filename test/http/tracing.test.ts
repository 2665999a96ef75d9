// W3C trace context and OTLP span export (docs/operations.md "Tracing"): a real OTLP/HTTP receiver on loopback, the demo model
// through onnxruntime-node. With no endpoint configured the OpenTelemetry SDK is never loaded and nothing is sent.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { loadRegistry, ROOT } from '../helpers/common.ts';

// Every module specifier resolved from here on: proves which OpenTelemetry packages the service loads.
const resolved: string[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    resolved.push(specifier);
    return nextResolve(specifier, context);
  },
});
const SDK = /@opentelemetry\/(sdk-trace-base|exporter-trace-otlp-http)/;

/** The OTLP/HTTP receiver: every body posted to /v1/traces, as sent. */
const exported: string[] = [];
const collector = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.url === '/v1/traces' && req.method === 'POST') exported.push(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

/** The loopback PACS: records the trace headers of what the service asks it, answers 404. */
const pacsSaw: (string | undefined)[] = [];
const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  pacsSaw.push(req.headers['traceparent'] as string | undefined);
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const DICOMWEB_SOURCES = JSON.stringify({ pacs: { url: `http://127.0.0.1:${(pacs.address() as AddressInfo).port}/dicom-web` } });
t.teardown(async () => {
  await new Promise((resolve) => collector.close(resolve));
  await new Promise((resolve) => pacs.close(resolve));
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const MARKERS = ['Quillfeather', 'Marrowpine', 'Zebrastone', 'secret-scan-name'];
const PNG = readFileSync(join(ROOT, 'examples/chest-xray.png'));

async function serve(env: Record<string, string>) {
  const { registry, metrics, config } = await loadRegistry({ DICOMWEB_SOURCES, ...env });
  const app = await buildApp({ config, metrics, registry, logger: pino({ level: 'silent' }) });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    close: async () => {
      await app.close();
      await registry.close();
    },
  };
}

function classify(url: string, headers: Record<string, string>): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), `${MARKERS[3]}.png`);
  for (const label of MARKERS.slice(0, 3)) form.append('labels', label);
  return fetch(`${url}/classify`, { method: 'POST', headers, body: form });
}

const traceparentOf = (res: Response) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(res.headers.get('traceparent') ?? '');

t.test('without OTEL_EXPORTER_OTLP_ENDPOINT: trace context propagated, no SDK loaded, nothing exported', async (t) => {
  const service = await serve({});
  const res = await classify(service.url, { traceparent: TRACEPARENT, tracestate: 'vendor=abc' });
  t.equal(res.status, 200, await res.text());
  const own = traceparentOf(res);
  t.ok(own, `the answer carries a traceparent: ${res.headers.get('traceparent')}`);
  t.equal(own?.[1], TRACE_ID, 'same trace');
  t.not(own?.[2], CALLER_SPAN, "the service's own span id");
  t.equal(own?.[3], '01', "the caller's sampling decision kept");
  t.equal(res.headers.get('tracestate'), 'vendor=abc');

  const fresh = await fetch(`${service.url}/healthz`, { headers: { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` } });
  t.ok(traceparentOf(fresh), 'an invalid traceparent starts a new trace');
  t.not(traceparentOf(fresh)?.[1], '0'.repeat(32));

  // Invalid by the specification: each starts a new trace, and no tracestate travels without its traceparent.
  const invalid = [
    `ff-${TRACE_ID}-${CALLER_SPAN}-01`,
    `00-${TRACE_ID}-${CALLER_SPAN}-01-extra`,
    `00-${TRACE_ID.toUpperCase()}-${CALLER_SPAN}-01`,
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    `00-${TRACE_ID}-${CALLER_SPAN}`,
  ];
  for (const traceparent of invalid) {
    const answer = await fetch(`${service.url}/healthz`, { headers: { traceparent, tracestate: 'vendor=abc' } });
    t.not(traceparentOf(answer)?.[1] ?? TRACE_ID, TRACE_ID, `${traceparent}: a new trace`);
    t.equal(answer.headers.get('tracestate'), null);
  }
  const later = await fetch(`${service.url}/healthz`, { headers: { traceparent: `01-${TRACE_ID}-${CALLER_SPAN}-00-future` } });
  t.equal(traceparentOf(later)?.[1], TRACE_ID, 'a later version with more fields is continued');
  t.equal(traceparentOf(later)?.[3], '00', 'not sampled stays not sampled');
  const tooLong = Array.from({ length: 33 }, (_, i) => `v${i}=x`).join(',');
  const bounded = await fetch(`${service.url}/healthz`, { headers: { traceparent: TRACEPARENT, tracestate: tooLong } });
  t.equal(traceparentOf(bounded)?.[1], TRACE_ID);
  t.equal(bounded.headers.get('tracestate'), null, 'a tracestate of more than 32 members is dropped');
  const refused = await fetch(`${service.url}/classify`, {
    method: 'POST',
    headers: { traceparent: TRACEPARENT, 'content-type': 'application/json' },
    body: '{',
  });
  t.equal(refused.status, 400);
  t.equal(traceparentOf(refused)?.[1], TRACE_ID, 'errors carry the trace context too');

  const pulled = await fetch(`${service.url}/embed/image`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
    body: JSON.stringify({ images: [{ dicomweb: { source: 'pacs', study: '1.2.3', series: '1.2.3.4', instance: '1.2.3.4.5' } }] }),
  });
  await pulled.arrayBuffer();
  t.equal(traceparentOf(pulled)?.[1], TRACE_ID);
  t.equal(pacsSaw.at(-1), pulled.headers.get('traceparent') ?? 'none', "the DICOMweb request continues the trace from the request's span");
  await service.close();
  t.equal(exported.length, 0, 'nothing exported');
  t.notOk(
    resolved.some((s) => SDK.test(s)),
    'the OpenTelemetry SDK was never loaded',
  );
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}
interface OtlpBody {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

t.test('with OTEL_EXPORTER_OTLP_ENDPOINT: request, decode, queue wait and inference spans, chained, without payload', async (t) => {
  const service = await serve({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_SERVICE_NAME: 'unimed-tracing-test' });
  t.ok(
    resolved.some((s) => SDK.test(s)),
    'the SDK is loaded once configured',
  );
  const res = await classify(service.url, { traceparent: TRACEPARENT });
  t.equal(res.status, 200, await res.text());
  const serverSpan = traceparentOf(res)?.[2];
  // Closing the app flushes the spans still batched.
  await service.close();
  t.ok(exported.length > 0, 'spans arrived at the receiver');

  const bodies = exported.map((raw) => JSON.parse(raw) as OtlpBody);
  const services = bodies.flatMap((b) =>
    b.resourceSpans.flatMap((r) => r.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue)),
  );
  t.same([...new Set(services)], ['unimed-tracing-test'], 'service.name from OTEL_SERVICE_NAME');
  const spans = bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  const request = spans.find((s) => s.name === 'POST /classify');
  t.ok(request, `a request span among ${spans.map((s) => s.name).join(', ')}`);
  t.equal(request?.traceId, TRACE_ID, "the request span continues the caller's trace");
  t.equal(request?.parentSpanId, CALLER_SPAN, "its parent is the caller's span");
  t.equal(request?.spanId, serverSpan, "the answer's traceparent names it");
  const attributes = Object.fromEntries((request?.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
  t.equal(attributes['http.route'], '/classify');
  t.equal(String(attributes['http.response.status_code']), '200');
  const children = spans.filter((s) => s.parentSpanId === request?.spanId);
  const names = children.map((s) => s.name).sort();
  t.same(
    names,
    ['decode', 'inference', 'inference', 'queue wait', 'queue wait'],
    'decode, and queue wait + inference for the image and the text encoder',
  );
  t.ok(
    children.every((s) => s.traceId === TRACE_ID),
    'children in the same trace',
  );
  const all = exported.join('\n');
  for (const marker of MARKERS) t.notOk(all.includes(marker), `"${marker}" appears nowhere in what was exported`);
});
