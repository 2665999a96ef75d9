// HTTPS served directly (TLS_CERT_FILE + TLS_KEY_FILE): self-signed certificates made here by openssl, a real
// HTTPS request checked against the certificate, then the files rotated in place (renamed over, as cert-manager
// and Kubernetes do) and the new certificate seen on a new connection without a restart. A pair that does not
// load fails the start.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import type { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { ConfigError } from '../../src/config/env.ts';
import { silentLogger, testConfig, until } from '../helpers/common.ts';
import { requireTool } from '../helpers/tools.ts';

/** One HTTPS GET on a fresh connection: status, body and the certificate the server presented. */
function fetchTls(url: string, ca: Buffer | undefined): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const options = { agent: false as unknown as Agent, ...(ca === undefined ? { rejectUnauthorized: false } : { ca }) };
    get(url, options, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    }).on('error', reject);
  });
}

/** A self-signed certificate for 127.0.0.1 (a P-256 or an RSA key), made by openssl in `dir`. */
function selfSigned(openssl: string, dir: string, name: string, keyType: 'ec' | 'rsa' = 'ec'): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      ...(keyType === 'ec' ? ['ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['rsa:2048']),
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

t.test('HTTPS with a certificate from files, reloaded when they change', async (t) => {
  const openssl = requireTool(t, 'openssl', 'apt-get install openssl');
  if (openssl === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'unimed-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string) => selfSigned(openssl, dir, name);
  const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

  const first = make('first');
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  renameSync(first.cert, certFile);
  renameSync(first.key, keyFile);
  const firstFingerprint = fingerprint(certFile);
  const app = await buildApp({ config: testConfig({ TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }), logger: silentLogger });
  t.teardown(() => app.close());
  const url = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http:/, 'https:');
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const answer = await fetchTls(url + '/healthz', readFileSync(certFile));
  t.equal(answer.status, 200, 'a verified HTTPS request');
  t.same(JSON.parse(answer.body), { status: 'ok' });
  t.equal(answer.fingerprint, firstFingerprint, 'the configured certificate');

  const second = make('second');
  const secondFingerprint = fingerprint(second.cert);
  renameSync(second.key, keyFile);
  renameSync(second.cert, certFile);
  await until(
    'the new certificate on a new connection',
    async () => (await fetchTls(url + '/healthz', undefined)).fingerprint === secondFingerprint,
  );
  t.equal((await fetchTls(url + '/healthz', readFileSync(certFile))).status, 200, 'verified against the new certificate, no restart');
  t.match(
    await handshake(url, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }),
    { error: String },
    'the reloaded certificate keeps the suites: a CBC one is still refused',
  );

  const mismatched = make('third');
  const config = testConfig({ TLS_CERT_FILE: mismatched.cert, TLS_KEY_FILE: keyFile });
  await t.rejects(buildApp({ config, logger: silentLogger }), ConfigError, 'a certificate and key that do not match fail the start');
  t.throws(() => testConfig({ TLS_CERT_FILE: certFile }), /TLS_CERT_FILE and TLS_KEY_FILE go together/);
});

/** A TLS handshake offering only what `options` allows: the protocol and cipher agreed, or the error. */
function handshake(url: string, options: ConnectionOptions): Promise<{ protocol: string | null; cipher: string } | { error: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.end();
    });
    socket.on('error', (err: Error) => resolve({ error: err.message }));
  });
}

t.test('TLS: ECDHE with AEAD only from TLS 1.2 up by default, TLS_CIPHERS to choose, HSTS when asked', async (t) => {
  const openssl = requireTool(t, 'openssl', 'apt-get install openssl');
  if (openssl === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'unimed-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // An RSA key, so that the static-RSA suites the old defaults accepted could be agreed if offered.
  const { cert, key } = selfSigned(openssl, dir, 'suites', 'rsa');
  const start = async (env: Record<string, string>): Promise<string> => {
    const app = await buildApp({ config: testConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key, ...env }), logger: silentLogger });
    t.teardown(() => app.close());
    return (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http:/, 'https:');
  };

  const url = await start({ HSTS_MAX_AGE_SECONDS: '31536000' });
  const tls12 = { maxVersion: 'TLSv1.2' } as const;
  for (const weak of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA256']) {
    t.match(await handshake(url, { ...tls12, ciphers: weak }), { error: String }, `${weak} (static RSA or CBC) is refused`);
  }
  t.same(
    await handshake(url, { ...tls12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
    { protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' },
    'ECDHE with AES-GCM is agreed',
  );
  t.same(
    await handshake(url, { ...tls12, ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' }),
    { protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' },
    'ECDHE with ChaCha20-Poly1305 is agreed',
  );
  t.match(await handshake(url, {}), { protocol: 'TLSv1.3' }, 'TLS 1.3 is agreed');

  const answer = await new Promise<string | string[] | undefined>((resolve, reject) => {
    get(url + '/healthz', { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.headers['strict-transport-security']);
    }).on('error', reject);
  });
  t.equal(answer, 'max-age=31536000', 'Strict-Transport-Security with HSTS_MAX_AGE_SECONDS');
  const plain = await start({});
  const without = await new Promise<string | string[] | undefined>((resolve, reject) => {
    get(plain + '/healthz', { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.headers['strict-transport-security']);
    }).on('error', reject);
  });
  t.equal(without, undefined, 'no Strict-Transport-Security unless asked for');

  const chosen = await start({ TLS_CIPHERS: 'ECDHE-RSA-AES256-GCM-SHA384' });
  t.match(
    await handshake(chosen, { ...tls12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
    { error: String },
    'a suite TLS_CIPHERS leaves out is refused',
  );
  t.match(
    await handshake(chosen, { ...tls12, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }),
    { protocol: 'TLSv1.2' },
    'the one it names is agreed',
  );
  t.throws(() => testConfig({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key, TLS_CIPHERS: 'NO-SUCH-CIPHER' }), /TLS_CIPHERS/);
});
