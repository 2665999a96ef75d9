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
import type { TLSSocket } from 'node:tls';
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

t.test('HTTPS with a certificate from files, reloaded when they change', async (t) => {
  const openssl = requireTool(t, 'openssl', 'apt-get install openssl');
  if (openssl === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'unimed-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string): { cert: string; key: string } => {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync(
      openssl,
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
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
  };
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

  const mismatched = make('third');
  const config = testConfig({ TLS_CERT_FILE: mismatched.cert, TLS_KEY_FILE: keyFile });
  await t.rejects(buildApp({ config, logger: silentLogger }), ConfigError, 'a certificate and key that do not match fail the start');
  t.throws(() => testConfig({ TLS_CERT_FILE: certFile }), /TLS_CERT_FILE and TLS_KEY_FILE go together/);
});
