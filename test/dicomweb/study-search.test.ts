// A QIDO-RS study search (a watch's) against a loopback PACS of this test: the query it sends (filters, includefield,
// limit, offset, accept), the UIDs it reads, the answers it refuses, and the access it records (no study named).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { dicomwebConfig } from '../../src/config/dicomweb.ts';
import type { SourceAccess } from '../../src/dicomweb/access.ts';
import { DicomwebSources } from '../../src/dicomweb/sources.ts';
import { studyListing, studySearchQuery } from '../../src/dicomweb/study-search.ts';
import { Metrics } from '../../src/metrics.ts';

const study = (uid: string) => ({ '0020000D': { vr: 'UI', Value: [uid] }, '00080061': { vr: 'CS', Value: ['CT'] } });
const seen: { url: string; accept: string | undefined }[] = [];
let answer: (res: ServerResponse) => void = (res) => res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  seen.push({ url: req.url ?? '', accept: req.headers.accept });
  answer(res);
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise((resolve) => pacs.close(resolve)));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
const metrics = new Metrics({ defaultMetrics: false });
const sources = new DicomwebSources(
  dicomwebConfig({ DICOMWEB_SOURCES: JSON.stringify({ pacs: { url: `${base}/dicom-web` } }) }, '.'),
  metrics,
);
const records: SourceAccess[] = [];
const call = { sourceGrant: { allowed: 'all' as const, record: (access: SourceAccess) => records.push(access) } };
const json = (body: unknown) => (res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(JSON.stringify(body));

t.test('the query: the filters, the study UID asked for, the page', (t) => {
  t.equal(
    studySearchQuery({ ModalitiesInStudy: 'CT,MR', StudyDescription: 'HEAD *' }, { limit: 2, offset: 4 }),
    'ModalitiesInStudy=CT%2CMR&StudyDescription=HEAD+*&includefield=0020000D&limit=2&offset=4',
  );
  t.same(studyListing(Buffer.from(JSON.stringify([study('1.2.3'), study('1.2.4')]))), ['1.2.3', '1.2.4']);
  for (const bad of ['{', '{}', '[{}]', JSON.stringify([{ '0020000D': { vr: 'UI', Value: ['not a uid'] } }])])
    t.equal(studyListing(Buffer.from(bad)), undefined, bad);
  t.end();
});

t.test('a page of studies: sent to {base}/studies as DICOM JSON, recorded as a search of no study', async (t) => {
  answer = json([study('1.2.826.0.1.1'), study('1.2.826.0.1.2')]);
  const uids = await sources.searchStudies('pacs', { ModalitiesInStudy: 'CT' }, { limit: 2, offset: 2 }, call);
  t.same(uids, ['1.2.826.0.1.1', '1.2.826.0.1.2']);
  const sent = seen.at(-1)!;
  t.equal(sent.url, '/dicom-web/studies?ModalitiesInStudy=CT&includefield=0020000D&limit=2&offset=2');
  t.equal(sent.accept, 'application/dicom+json');
  t.same(records.at(-1), { source: 'pacs', operation: 'search', outcome: 'ok' });
  answer = (res) => res.writeHead(204).end();
  t.same(await sources.searchStudies('pacs', {}, { limit: 2, offset: 0 }, call), [], '204: no study matches');
  answer = json([]);
  t.same(await sources.searchStudies('pacs', {}, { limit: 2, offset: 0 }, call), [], 'an empty list');
});

t.test('failures: a malformed or failed answer is the source failing; a source the grant does not name is not contacted', async (t) => {
  answer = (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
  await t.rejects(sources.searchStudies('pacs', {}, { limit: 2, offset: 0 }, call), { code: 'upstream_unavailable' });
  t.same(records.at(-1), { source: 'pacs', operation: 'search', outcome: 'failed' });
  answer = (res) => res.writeHead(500).end();
  await t.rejects(sources.searchStudies('pacs', {}, { limit: 2, offset: 0 }, call), { code: 'upstream_unavailable', message: /HTTP 500/ });
  const before = seen.length;
  const none = { sourceGrant: { allowed: new Set<string>(), record: () => t.fail('nothing to record') } };
  await t.rejects(sources.searchStudies('pacs', {}, { limit: 2, offset: 0 }, none), { code: 'forbidden' });
  t.equal(seen.length, before, 'nothing sent');
  const failures = await metrics.dicomwebFailures.get();
  t.same(failures.values.map((v) => v.labels.reason).sort(), ['malformed', 'status'], 'counted as the source failing');
});
