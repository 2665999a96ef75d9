// Connection-level limits as real clients meet them: early answers that clients writing their whole body
// first can still read (lingering close), Expect: 100-continue, and the timeouts that bound slow clients.
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type { Config } from '../../src/config.ts';
import { Metrics } from '../../src/metrics.ts';
import type { ErrorBody } from '../helpers/http.ts';
import { listen, loadRegistry, testConfig } from '../helpers/http.ts';

const MiB = 1024 * 1024;
const registry = await loadRegistry(testConfig());
t.teardown(() => registry.close());

/** A listening app with `env` on top of the test configuration; closed with the test. */
async function serve(t: Test, env: Record<string, string> = {}, withRegistry = true) {
  const config: Config = testConfig(env);
  const served = await listen(config, withRegistry ? registry : undefined, new Metrics({ defaultMetrics: false }));
  t.teardown(() => served.app.close());
  return { ...served, port: Number(new URL(served.url).port) };
}

/** Fails the wait after a generous bound instead of letting a hung connection reach tap's own timeout. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Writes `total` bytes of `fill` to `sink`, honouring backpressure, until done or the sink closes. */
function pump(sink: NodeJS.WritableStream & { destroyed: boolean }, total: number, fill = 0x20): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, fill);
  let sent = 0;
  return new Promise((resolve) => {
    sink.once('close', () => resolve(sent));
    const more = (): void => {
      while (sent < total && !sink.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!sink.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          sink.once('drain', more);
          return;
        }
      }
      resolve(sent);
    };
    more();
  });
}

interface Answer {
  status?: number;
  body?: string;
  error?: string;
}

/** Node's http.request sending a `total`-byte body (with Content-Length, or chunked) in full, then ending. */
function postLarge(port: number, path: string, headers: Record<string, string>, total: number, prefix = '', suffix = ''): Promise<Answer> {
  return new Promise((resolve) => {
    const answer: Answer = {};
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers });
    req.on('response', (res) => {
      answer.status = res.statusCode;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (answer.body = body));
    });
    req.on('error', (err: NodeJS.ErrnoException) => (answer.error = err.code ?? err.message));
    req.on('close', () => resolve(answer));
    req.write(prefix);
    void pump(req, total).then(() => req.end(suffix));
  });
}

interface RawResult {
  data: string;
  error?: string;
}

/**
 * A raw connection; `closed` resolves with everything received once it closes. `allowHalfOpen`: the server's
 * FIN does not end our side (like a client busy writing), so only the server cutting the connection closes it.
 */
function rawConnection(port: number, allowHalfOpen = false) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
  let data = '';
  let error: string | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  const closed = new Promise<RawResult>((resolve) =>
    socket.on('close', () => resolve({ data, ...(error === undefined ? {} : { error }) })),
  );
  /** Resolves once the data received so far matches `pattern`. */
  const received = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(data)) {
          socket.off('data', check);
          socket.off('close', fail);
          resolve(data);
        }
      };
      const fail = (): void => reject(new Error(`closed before ${String(pattern)}; got ${JSON.stringify(data.slice(0, 200))}`));
      socket.on('data', check);
      socket.once('close', fail);
      check();
    });
  t.teardown(() => socket.destroy());
  return { socket, closed, received };
}

const jsonHead = (path: string, length: number, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

function errorOf(raw: string): ErrorBody {
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorBody;
}

t.test('a client that writes all of a 100 MB body before reading gets the JSON answer, not EPIPE/ECONNRESET', async (t) => {
  const { port } = await serve(t);
  const total = 100 * MiB;
  const boundary = 'limits-test';
  const cases: {
    what: string;
    path: string;
    headers: Record<string, string>;
    size?: number;
    prefix?: string;
    suffix?: string;
    status: number;
    code: string;
  }[] = [
    {
      what: 'JSON with Content-Length over MAX_BODY_BYTES',
      path: '/embed/text',
      headers: { 'content-type': 'application/json', 'content-length': String(total) },
      status: 413,
      code: 'too_large',
    },
    {
      what: 'chunked JSON (refused once past the limit)',
      path: '/embed/text',
      headers: { 'content-type': 'application/json' },
      status: 413,
      code: 'too_large',
    },
    {
      what: 'chunked multipart with a 100 MB file part',
      path: '/embed/image',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      prefix: `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`,
      suffix: `\r\n--${boundary}--\r\n`,
      status: 413,
      code: 'too_large',
    },
    {
      what: 'a content type the route does not take (30 MB, under the limit)',
      path: '/embed/image',
      headers: { 'content-type': 'text/plain', 'content-length': String(30 * MiB) },
      size: 30 * MiB,
      status: 415,
      code: 'unsupported_media_type',
    },
  ];
  for (const c of cases) {
    const answer = await within(60_000, c.what, postLarge(port, c.path, c.headers, c.size ?? total, c.prefix, c.suffix));
    t.equal(answer.error, undefined, `${c.what}: no connection error`);
    t.equal(answer.status, c.status, `${c.what}: status`);
    t.equal((JSON.parse(answer.body ?? '{}') as Partial<ErrorBody>).error?.code, c.code, `${c.what}: JSON error body`);
  }
});

t.test('a client that only reads once everything is written (urllib-style) reads the 413', async (t) => {
  const { port } = await serve(t);
  const total = 100 * MiB;
  const { socket, closed } = rawConnection(port);
  socket.pause(); // nothing is read until the whole body is out
  socket.write(jsonHead('/embed/text', total));
  const sent = await pump(socket, total);
  t.equal(sent, total, 'the whole body went out');
  socket.resume();
  const { data, error } = await within(30_000, 'the answer', closed);
  t.equal(error, undefined, 'no EPIPE/ECONNRESET');
  t.match(data, /^HTTP\/1\.1 413 /);
  t.match(data, /\r\nconnection: close\r\n/i, 'the answer says the connection closes');
  t.equal(errorOf(data).error.code, 'too_large');
});

t.test('Expect: 100-continue', async (t) => {
  const { app, port } = await serve(t, { HTTP_LINGER_MS: '200' });

  t.test('an oversize Content-Length is answered 413 at once, never 100 Continue; closed after HTTP_LINGER_MS', async (t) => {
    const serverClosed = new Promise((resolve) => app.server.once('connection', (s: net.Socket) => s.once('close', resolve)));
    // Half-open: the client neither sends the body nor closes, so only the server's linger limit ends it.
    const { socket, received } = rawConnection(port, true);
    socket.write(jsonHead('/embed/text', 100 * MiB, 'Expect: 100-continue\r\n'));
    const data = await within(10_000, 'the 413', received(/\}$/));
    t.match(data, /^HTTP\/1\.1 413 /, 'the first thing received is the 413');
    t.notMatch(data, /100 Continue/);
    t.match(data, /\r\nx-request-id: /i, 'a regular answer, with the service headers');
    t.match(data, /\r\nconnection: close\r\n/i);
    t.equal(errorOf(data).error.code, 'too_large');
    await within(10_000, 'the server closing the connection (HTTP_REQUEST_TIMEOUT_MS is a minute)', serverClosed);
  });

  t.test('an acceptable one gets 100 Continue, then the normal answer', async (t) => {
    const body = JSON.stringify({ texts: ['a chest x-ray'] });
    const { socket, received } = rawConnection(port);
    socket.write(jsonHead('/embed/text', Buffer.byteLength(body), 'Expect: 100-continue\r\n'));
    t.equal(await within(10_000, '100 Continue', received(/\r\n\r\n/)), 'HTTP/1.1 100 Continue\r\n\r\n');
    socket.write(body);
    const data = await within(10_000, 'the answer', received(/"embeddings"[\s\S]*\}$/));
    t.match(data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  t.test('a request refused before its body is read (not ready: 503) gets no 100 Continue', async (t) => {
    const starting = await serve(t, {}, false);
    const { socket, received } = rawConnection(starting.port);
    socket.write(jsonHead('/embed/text', 20, 'Expect: 100-continue\r\n'));
    const data = await within(10_000, 'the answer', received(/\}$/));
    t.match(data, /^HTTP\/1\.1 503 /);
    t.equal(errorOf(data).error.code, 'not_ready');
  });
});

t.test('lingering is bounded: past HTTP_LINGER_BYTES a client that keeps sending is cut off', async (t) => {
  const lingerBytes = 4 * MiB;
  const { app, port } = await serve(t, { MAX_BODY_BYTES: String(64 * 1024), HTTP_LINGER_BYTES: String(lingerBytes) });
  const serverRead = new Promise<number>((resolve) => {
    app.server.once('connection', (s: net.Socket) => s.once('close', () => resolve(s.bytesRead)));
  });
  const { socket, closed, received } = rawConnection(port, true);
  socket.write(jsonHead('/embed/text', 1024 * MiB));
  void pump(socket, 1024 * MiB);
  t.match(await within(10_000, 'the 413', received(/\}$/)), /^HTTP\/1\.1 413 /, 'the answer came while the client was still sending');
  const { error } = await within(30_000, 'the connection to be cut', closed);
  t.ok(error === 'ECONNRESET' || error === 'EPIPE', `the client's connection was cut (${String(error)})`);
  const read = await serverRead;
  t.ok(read >= lingerBytes, `the server read on after answering (${read} bytes)`);
  t.ok(read <= lingerBytes + MiB, `and stopped soon after HTTP_LINGER_BYTES (${read} bytes)`);
});

t.test('HTTP_REQUEST_TIMEOUT_MS: a client that trickles its body gets 408 and the connection closes', async (t) => {
  const { port } = await serve(t, { HTTP_REQUEST_TIMEOUT_MS: '300' });
  const { socket, closed } = rawConnection(port);
  socket.write(jsonHead('/embed/text', 100) + '{"texts": ["a ');
  const { data } = await within(10_000, 'the 408', closed);
  t.match(data, /^HTTP\/1\.1 408 /);
  t.match(data, /\r\nX-Request-Id: [0-9a-f-]{36}\r\n/, 'identified like every other answer');
  t.equal(errorOf(data).error.code, 'request_timeout');
});

t.test('HTTP_HEADERS_TIMEOUT_MS: headers that never finish get 408 and the connection closes', async (t) => {
  const { port } = await serve(t, { HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '200' });
  const { socket, closed } = rawConnection(port);
  socket.write('POST /embed/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl');
  const { data } = await within(4_000, 'the 408 (before HTTP_REQUEST_TIMEOUT_MS)', closed);
  t.match(data, /^HTTP\/1\.1 408 /);
  t.equal(errorOf(data).error.code, 'request_timeout');
});

t.test('HTTP_CONNECTION_TIMEOUT_MS: a connection silent mid-request is closed', async (t) => {
  const { port } = await serve(t, { REQUEST_TIMEOUT_MS: '100', HTTP_CONNECTION_TIMEOUT_MS: '300' });
  const { socket, closed } = rawConnection(port);
  socket.write(jsonHead('/embed/text', 100) + '{"texts"');
  const { data } = await within(10_000, 'the close (HTTP_REQUEST_TIMEOUT_MS is a minute)', closed);
  t.equal(data, '', 'closed without an answer');
});

t.test('HTTP_KEEP_ALIVE_TIMEOUT_MS: advertised, 650 s by default, and an idle connection is closed after it', async (t) => {
  const defaults = await serve(t);
  const res = await fetch(defaults.url + '/healthz');
  await res.arrayBuffer();
  t.equal(res.headers.get('keep-alive'), 'timeout=650', 'outlasts load balancers that idle connections for up to 600 s');

  const { port } = await serve(t, { HTTP_KEEP_ALIVE_TIMEOUT_MS: '300' });
  const { socket, closed, received } = rawConnection(port);
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await within(10_000, 'the answer', received(/\{"status":"ok"\}$/));
  const { data } = await within(10_000, 'the idle close', closed);
  t.match(data, /^HTTP\/1\.1 200 /, 'answered, kept alive, then closed once idle');
  t.notMatch(data, /connection: close/i);
});
