// ORT_SPINNING reaches onnxruntime: the sessions the real inference workers create are asked for
// session.intra_op.allow_spinning as configured (observed by wrapping InferenceSession.create in a test worker
// entry, test/fixtures/workers/session-options-worker.ts, that then runs the real worker), and serve with it.
import { BroadcastChannel } from 'node:worker_threads';
import t from 'tap';
import type { Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { loadRegistry, until } from '../helpers/common.ts';
import { SESSION_OPTIONS_CHANNEL, type SessionOptionsReport } from '../fixtures/workers/session-options.ts';

const WORKER = new URL('../fixtures/workers/session-options-worker.ts', import.meta.url);

t.test('ORT_SPINNING: off by default (measured: the service is faster when idle ORT threads yield their cores), 0/1 only', (t) => {
  t.equal(loadConfig({}).ortSpinning, false);
  t.equal(loadConfig({ ORT_SPINNING: '1' }).ortSpinning, true);
  t.equal(loadConfig({ ORT_SPINNING: '0' }).ortSpinning, false);
  t.throws(() => loadConfig({ ORT_SPINNING: 'yes' }), ConfigError);
  t.throws(() => loadConfig({ ORT_SPINNING: '2' }), /ORT_SPINNING/);
  t.end();
});

/** Loads the demo model with `env` through the reporting worker; the options each session was created with. */
async function sessionOptions(t: Test, env: Record<string, string>): Promise<SessionOptionsReport[]> {
  const reports: SessionOptionsReport[] = [];
  const channel = new BroadcastChannel(SESSION_OPTIONS_CHANNEL);
  channel.onmessage = (event) => reports.push((event as { data: SessionOptionsReport }).data);
  t.teardown(() => channel.close());
  const { registry } = await loadRegistry(env, { inferenceWorker: WORKER });
  t.teardown(() => registry.close());
  const model = registry.get();
  const [embedding] = await model.embedTexts(['a chest x-ray']);
  t.equal(embedding!.length, model.embedDim, 'the model serves');
  t.ok(Math.abs(Math.hypot(...embedding!) - 1) < 1e-4, 'a unit vector came back from the worker');
  return until('both encoders to report their session options', () => (reports.length >= 2 ? reports : undefined));
}

const spinning = (report: SessionOptionsReport) =>
  (report.options.extra as { session?: { intra_op?: { allow_spinning?: unknown } } } | undefined)?.session?.intra_op?.allow_spinning;

t.test('ORT_SPINNING=1: every session is created with allow_spinning "1"', async (t) => {
  const reports = await sessionOptions(t, { ORT_SPINNING: '1' });
  t.same(reports.map((r) => r.modelFile).sort(), ['image_encoder.onnx', 'text_encoder.onnx'], 'one session per encoder');
  for (const report of reports) t.equal(spinning(report), '1', `${report.modelFile}: session.intra_op.allow_spinning`);
});

t.test('by default every session is created with allow_spinning "0"', async (t) => {
  const reports = await sessionOptions(t, {});
  t.equal(reports.length, 2, 'one session per encoder');
  for (const report of reports) t.equal(spinning(report), '0', `${report.modelFile}: session.intra_op.allow_spinning`);
});
