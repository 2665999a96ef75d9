// The alerts of docker/k8s/monitoring/prometheus-rule.yaml under promtool: the rule file taken out of the
// PrometheusRule passes `promtool check rules`, its unit tests (test/fixtures/monitoring/alerts.promtool.yaml)
// pass `promtool test rules` and fail when an alert is weakened; every alert has a unit test that makes it fire
// and a section in docs/runbook.md. Every PromQL expression of the Grafana dashboard and of prometheus-adapter's
// rule parses (promtool reads them as recording rules). Needs promtool (.ci/run unpacks it into .tools/prometheus).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { parse, stringify } from 'yaml';
import { ROOT } from '../helpers/common.ts';
import { adapterQuery, alertRules, dashboardQueries, PROMETHEUS_INSTALL, PROMTOOL } from '../helpers/monitoring.ts';
import type { AlertRule } from '../helpers/monitoring.ts';
import { requireTool } from '../helpers/tools.ts';

const UNIT_TESTS = join(ROOT, 'test/fixtures/monitoring/alerts.promtool.yaml');

function workdir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function promtool(promtoolPath: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(promtoolPath, args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Runs the committed unit tests against `rulesText` (written as rules.yaml next to a copy of them). */
function unitTest(t: Test, promtoolPath: string, rulesText: string) {
  const dir = workdir(t);
  writeFileSync(join(dir, 'rules.yaml'), rulesText);
  copyFileSync(UNIT_TESTS, join(dir, 'alerts.promtool.yaml'));
  return promtool(promtoolPath, ['test', 'rules', join(dir, 'alerts.promtool.yaml')]);
}

t.test('the alert rules pass promtool check rules and their unit tests', (t) => {
  const path = requireTool(t, PROMTOOL, PROMETHEUS_INSTALL);
  if (!path) return;
  const { text } = alertRules();
  const dir = workdir(t);
  writeFileSync(join(dir, 'rules.yaml'), text);
  const check = promtool(path, ['check', 'rules', join(dir, 'rules.yaml')]);
  t.equal(check.status, 0, `promtool check rules: ${check.output}`);
  const tested = unitTest(t, path, text);
  t.equal(tested.status, 0, `promtool test rules: ${tested.output}`);
  t.end();
});

t.test('the unit tests catch a weakened alert', (t) => {
  const path = requireTool(t, PROMTOOL, PROMETHEUS_INSTALL);
  if (!path) return;
  const mutations: [alert: string, what: string, change: (rule: AlertRule) => void][] = [
    ['UnimedHighErrorRatio', 'threshold raised', (r) => (r.expr = r.expr.replace('> 0.02', '> 0.5'))],
    ['UnimedHighErrorRatio', '503s counted as errors', (r) => (r.expr = r.expr.replace('status_code!="503"', 'status_code!="599"'))],
    [
      'UnimedHighLatencyP99',
      'health routes counted',
      (r) => (r.expr = r.expr.replace('route!~"/metrics|/healthz|/readyz"', 'route!~"/metrics"')),
    ],
    ['UnimedProviderFellBackToCPU', 'any pod on CPU', (r) => (r.expr = r.expr.replace('requested_provider!="cpu", ', ''))],
    ['UnimedPodDown', 'delay doubled', (r) => (r.for = '10m')],
    ['UnimedWorkerRestarts', 'one restart enough', (r) => (r.expr = r.expr.replace('> 3', '> 0'))],
    ['UnimedAbstentionRateHigh', 'threshold raised', (r) => (r.expr = r.expr.replace('> 0.2', '> 0.5'))],
    ['UnimedAbstentionRateHigh', 'no least volume', (r) => (r.expr = r.expr.replace('>= 50', '>= 1'))],
    ['UnimedEmbeddingDrift', 'threshold raised', (r) => (r.expr = r.expr.replace('> 0.8', '> 1.5'))],
    ['UnimedEmbeddingDrift', 'a window of a few images enough', (r) => (r.expr = r.expr.replace('>= 100', '>= 1'))],
    ['UnimedJobsBacklog', 'threshold raised', (r) => (r.expr = r.expr.replace('> 900', '> 3600'))],
    ['UnimedSrStoresFailing', 'threshold raised', (r) => (r.expr = r.expr.replace('> 0.1', '> 0.6'))],
    ['UnimedSrStoresFailing', 'no least volume', (r) => (r.expr = r.expr.replace('>= 5', '>= 1'))],
  ];
  for (const [alert, what, change] of mutations) {
    const { groups } = alertRules();
    const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    if (!rule) {
      t.fail(`no alert ${alert}`);
      continue;
    }
    const before = JSON.stringify(rule);
    change(rule);
    t.not(JSON.stringify(rule), before, `${alert}, ${what}: the mutation applies`);
    const result = unitTest(t, path, stringify({ groups }));
    t.not(result.status, 0, `${alert}, ${what}: promtool test rules fails`);
  }
  t.end();
});

t.test('every alert has a unit test where it fires and a runbook section', (t) => {
  const alerts = alertRules().groups.flatMap((g) => g.rules.map((r) => r.alert));
  const tests = parse(readFileSync(UNIT_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const firing = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  const silent = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
  const runbook = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8');
  const sections = [...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
  t.ok(alerts.length >= 8, `${alerts.length} alerts`);
  for (const rule of alertRules().groups.flatMap((g) => g.rules)) {
    t.ok(firing.has(rule.alert), `${rule.alert}: a unit test makes it fire`);
    t.ok(silent.has(rule.alert), `${rule.alert}: a unit test where it must not`);
    t.ok(sections.includes(rule.alert), `${rule.alert}: docs/runbook.md has a section`);
    t.equal(rule.annotations?.runbook_url, `docs/runbook.md#${rule.alert.toLowerCase()}`, `${rule.alert}: runbook_url points at it`);
    t.ok(rule.labels?.severity === 'critical' || rule.labels?.severity === 'warning', `${rule.alert}: a severity`);
  }
  t.same(
    sections.filter((s) => !alerts.includes(s!)),
    [],
    'no runbook section for an alert that does not exist',
  );
  t.end();
});

t.test('every PromQL expression of the dashboard and of the adapter rule parses', (t) => {
  const path = requireTool(t, PROMTOOL, PROMETHEUS_INSTALL);
  if (!path) return;
  const queries = dashboardQueries();
  t.ok(queries.length >= 10, `${queries.length} dashboard queries`);
  const rules = [
    ...queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })),
    { record: 'adapter:unimed_queue_wait_seconds_p90', expr: adapterQuery() },
  ];
  const dir = workdir(t);
  writeFileSync(join(dir, 'queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
  const check = promtool(path, ['check', 'rules', join(dir, 'queries.yaml')]);
  t.equal(check.status, 0, `promtool check rules on ${rules.length} expressions: ${check.output}`);
  writeFileSync(
    join(dir, 'broken.yaml'),
    stringify({ groups: [{ name: 'broken', rules: [{ record: 'x', expr: 'sum by (le (rate(x[1m]))' }] }] }),
  );
  t.not(promtool(path, ['check', 'rules', join(dir, 'broken.yaml')]).status, 0, 'a broken expression fails the same check');
  t.end();
});
