// The tracing variables (docs/operations.md "Tracing"): OTEL_EXPORTER_OTLP_ENDPOINT is a base URL that /v1/traces is appended
// to, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given and wins, OTEL_SERVICE_NAME names the service; a value
// that is not an http(s) URL stops the start naming the variable. DRIFT_WINDOW sizes the output-quality drift gauge's window.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

t.test('unset: no export, the default service name', (t) => {
  t.same(loadConfig({}).telemetry, { tracesUrl: undefined, serviceName: 'unimed-serve', driftWindow: 500 });
  t.same(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).telemetry.tracesUrl, undefined, 'blank is unset');
  t.end();
});

t.test('the endpoint variables, as the OTLP exporter specification reads them', (t) => {
  const traces = (env: Record<string, string>) => loadConfig(env).telemetry.tracesUrl;
  t.equal(traces({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'http://collector:4318/v1/traces');
  t.equal(traces({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.org/base/' }), 'https://otel.example.org/base/v1/traces');
  t.equal(
    traces({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom' }),
    'http://collector:4318/custom',
    'the traces URL as given',
  );
  t.equal(
    traces({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/t' }),
    'http://b:4318/t',
    'the traces URL wins',
  );
  t.equal(loadConfig({ OTEL_SERVICE_NAME: 'radiology-ai' }).telemetry.serviceName, 'radiology-ai');
  t.end();
});

t.test('a value that is not an http(s) URL is refused, naming the variable', (t) => {
  t.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
  t.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }), /OTEL_EXPORTER_OTLP_ENDPOINT: not a URL/);
  t.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }), ConfigError);
  t.end();
});

t.test('DRIFT_WINDOW: 500 images by default, at least 100 (the drift alert waits for 100)', (t) => {
  t.equal(loadConfig({ DRIFT_WINDOW: '2000' }).telemetry.driftWindow, 2000);
  t.equal(loadConfig({ DRIFT_WINDOW: '100' }).telemetry.driftWindow, 100);
  t.throws(() => loadConfig({ DRIFT_WINDOW: '99' }), /DRIFT_WINDOW/);
  t.throws(() => loadConfig({ DRIFT_WINDOW: 'many' }), /DRIFT_WINDOW/);
  t.end();
});
