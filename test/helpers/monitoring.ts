/**
 * The monitoring pack (docker/k8s/monitoring) as the tests read it: the alert rules out of the PrometheusRule,
 * the dashboard's PromQL with Grafana's variables filled in, prometheus-adapter's query, and where promtool and
 * the Prometheus server are (.ci/run unpacks Debian's prometheus package into .tools/prometheus).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './common.ts';

export const MONITORING = join(ROOT, 'docker/k8s/monitoring');
export const PROMETHEUS_INSTALL =
  'apt-get install prometheus, or as .ci/run does: apt-get download prometheus; dpkg -x prometheus_*.deb .tools/prometheus';

function tool(name: string, variable: string): string {
  const unpacked = join(ROOT, '.tools/prometheus/usr/bin', name);
  return process.env[variable] ?? (existsSync(unpacked) ? unpacked : name);
}
export const PROMTOOL = tool('promtool', 'PROMTOOL');
export const PROMETHEUS = tool('prometheus', 'PROMETHEUS');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The PrometheusRule's `spec` as a Prometheus rule file (`groups:`), as text and parsed. */
export function alertRules(): { text: string; groups: { name: string; rules: AlertRule[] }[] } {
  const rule = parse(readFileSync(join(MONITORING, 'prometheus-rule.yaml'), 'utf8')) as {
    spec: { groups: { name: string; rules: AlertRule[] }[] };
  };
  return { text: stringify({ groups: rule.spec.groups }), groups: rule.spec.groups };
}

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

/** Grafana's variables as a Prometheus query needs them here: every namespace (`.*` also matches a series without
 * the label, as on a scrape outside Kubernetes), and a rate window that holds a few 1 s scrapes. */
export function fillGrafanaVariables(expr: string, rateWindow = '20s'): string {
  return expr.replaceAll('$__rate_interval', rateWindow).replaceAll('$namespace', '.*');
}

/** Every target of every panel of the dashboard, variables filled in. */
export function dashboardQueries(rateWindow?: string): PanelQuery[] {
  const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { refId: string; expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({ panel: panel.title, refId: target.refId, expr: fillGrafanaVariables(target.expr, rateWindow) })),
  );
}

/** prometheus-adapter's metricsQuery for the HPA metric, its template filled in as the adapter would for the
 * pods of one namespace (here: every series of the job, grouped by instance instead of pod). */
export function adapterQuery(groupBy = 'instance', matchers = 'job="unimed-serve"'): string {
  const values = parse(readFileSync(join(MONITORING, 'prometheus-adapter-rules.yaml'), 'utf8')) as {
    rules: { custom: { metricsQuery: string; seriesQuery: string }[] };
  };
  const rule = values.rules.custom[0]!;
  const series = /^(\w+)\{/.exec(rule.seriesQuery)?.[1] ?? '';
  return rule.metricsQuery.replaceAll('<<.Series>>', series).replaceAll('<<.LabelMatchers>>', matchers).replaceAll('<<.GroupBy>>', groupBy);
}
