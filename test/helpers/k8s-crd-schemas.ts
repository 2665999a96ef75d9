/**
 * Hand-written schemas of the custom kinds under docker/k8s, for test/helpers/k8s-schema.ts: client-node has
 * models of the built-in kinds only. Each map follows the project's own CRD or configuration reference at the
 * version named (fields this repository does not use included, so a valid addition is not refused); a field
 * missing here is reported as unknown, like the API server's strict field validation would for the CRD.
 */
import type { FieldType } from './k8s-schema.ts';

const string = 'string' as const;
const integer = 'integer' as const;
const boolean = 'boolean' as const;
const strings: FieldType = { array: string };
const stringMap: FieldType = { map: string };
const metadata: FieldType = { model: 'V1ObjectMeta' };
const secretKey: FieldType = { model: 'V1SecretKeySelector' };
const obj = (fields: Record<string, FieldType>, required: string[] = []): FieldType => ({ object: fields, required });
const kind = (spec: FieldType, extra: Record<string, FieldType> = {}): FieldType =>
  obj({ apiVersion: string, kind: string, metadata, spec, ...extra }, ['apiVersion', 'kind', 'metadata', 'spec']);

/** prometheus-operator v0.80 `RelabelConfig`. */
const relabeling = obj({
  action: string,
  modulus: integer,
  regex: string,
  replacement: string,
  separator: string,
  sourceLabels: strings,
  targetLabel: string,
});

/** prometheus-operator v0.80 `SafeTLSConfig`/`TLSConfig` and authorization blocks, by field name only. */
const tlsConfig = obj({
  ca: 'any',
  caFile: string,
  cert: 'any',
  certFile: string,
  insecureSkipVerify: boolean,
  keyFile: string,
  keySecret: secretKey,
  serverName: string,
  minVersion: string,
  maxVersion: string,
});

/** monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator v0.80). */
const serviceMonitor = kind(
  obj(
    {
      attachMetadata: obj({ node: boolean }),
      bodySizeLimit: string,
      endpoints: {
        array: obj({
          authorization: obj({ type: string, credentials: secretKey }),
          basicAuth: obj({ username: secretKey, password: secretKey }),
          bearerTokenFile: string,
          bearerTokenSecret: secretKey,
          enableHttp2: boolean,
          filterRunning: boolean,
          followRedirects: boolean,
          honorLabels: boolean,
          honorTimestamps: boolean,
          interval: string,
          metricRelabelings: { array: relabeling },
          oauth2: 'any',
          params: { map: strings },
          path: string,
          port: string,
          proxyUrl: string,
          relabelings: { array: relabeling },
          scheme: string,
          scrapeTimeout: string,
          targetPort: 'int-or-string',
          tlsConfig,
          trackTimestampsStaleness: boolean,
        }),
      },
      fallbackScrapeProtocol: string,
      jobLabel: string,
      keepDroppedTargets: integer,
      labelLimit: integer,
      labelNameLengthLimit: integer,
      labelValueLengthLimit: integer,
      namespaceSelector: obj({ any: boolean, matchNames: strings }),
      nativeHistogramBucketLimit: integer,
      nativeHistogramMinBucketFactor: 'int-or-string',
      podTargetLabels: strings,
      sampleLimit: integer,
      scrapeClass: string,
      scrapeClassicHistograms: boolean,
      scrapeProtocols: strings,
      selector: { model: 'V1LabelSelector' },
      selectorMechanism: string,
      targetLabels: strings,
      targetLimit: integer,
    },
    ['selector', 'endpoints'],
  ),
);

/** monitoring.coreos.com/v1 PrometheusRule (prometheus-operator v0.80). */
const prometheusRule = kind(
  obj(
    {
      groups: {
        array: obj(
          {
            interval: string,
            labels: stringMap,
            limit: integer,
            name: string,
            partial_response_strategy: string,
            query_offset: string,
            rules: {
              array: obj(
                {
                  alert: string,
                  annotations: stringMap,
                  expr: 'int-or-string',
                  for: string,
                  keep_firing_for: string,
                  labels: stringMap,
                  record: string,
                },
                ['expr'],
              ),
            },
          },
          ['name', 'rules'],
        ),
      },
    },
    ['groups'],
  ),
);

/** kustomize.config.k8s.io/v1beta1 Kustomization (kustomize v5). */
const generatorOptions = obj({ labels: stringMap, annotations: stringMap, disableNameSuffixHash: boolean, immutable: boolean });
const generator = (extra: Record<string, FieldType> = {}) =>
  obj(
    {
      name: string,
      namespace: string,
      behavior: string,
      files: strings,
      literals: strings,
      envs: strings,
      options: generatorOptions,
      ...extra,
    },
    ['name'],
  );
const selector = obj({
  group: string,
  version: string,
  kind: string,
  name: string,
  namespace: string,
  labelSelector: string,
  annotationSelector: string,
});
const kustomization: FieldType = obj(
  {
    apiVersion: string,
    kind: string,
    metadata,
    resources: strings,
    components: strings,
    crds: strings,
    namespace: string,
    namePrefix: string,
    nameSuffix: string,
    commonAnnotations: stringMap,
    labels: { array: obj({ pairs: stringMap, includeSelectors: boolean, includeTemplates: boolean, fields: 'any' }) },
    images: { array: obj({ name: string, newName: string, newTag: string, digest: string }, ['name']) },
    replicas: { array: obj({ name: string, count: integer }, ['name', 'count']) },
    patches: {
      array: obj({ path: string, patch: string, target: selector, options: obj({ allowNameChange: boolean, allowKindChange: boolean }) }),
    },
    configMapGenerator: { array: generator() },
    secretGenerator: { array: generator({ type: string }) },
    generatorOptions,
    buildMetadata: strings,
    sortOptions: 'any',
    transformers: strings,
    generators: strings,
    validators: strings,
  },
  ['apiVersion', 'kind'],
);

/** serving.kserve.io/v1alpha1 ServingRuntime (KServe v0.15 `ServingRuntimeSpec`, its pod fields inline). */
const servingRuntime = kind(
  obj(
    {
      supportedModelFormats: { array: obj({ name: string, version: string, autoSelect: boolean, priority: integer }, ['name']) },
      multiModel: boolean,
      disabled: boolean,
      protocolVersions: strings,
      workerSpec: 'any',
      containers: { array: { model: 'V1Container' } },
      volumes: { array: { model: 'V1Volume' } },
      nodeSelector: stringMap,
      affinity: { model: 'V1Affinity' },
      tolerations: { array: { model: 'V1Toleration' } },
      labels: stringMap,
      annotations: stringMap,
      imagePullSecrets: { array: { model: 'V1LocalObjectReference' } },
      hostIPC: boolean,
      grpcEndpoint: string,
      grpcDataEndpoint: string,
      httpDataEndpoint: string,
      replicas: integer,
      storageHelper: obj({ disabled: boolean }),
      builtInAdapter: 'any',
    },
    ['containers'],
  ),
);

/**
 * serving.kserve.io/v1beta1 InferenceService (KServe v0.15): `predictor` with its `model` (`ModelSpec`: the model
 * format, runtime, storage and protocol, then the fields of a container, by name only), the pod fields and
 * `ComponentExtensionSpec` inline. The framework shorthands (sklearn, triton, ...), explainer and transformer are
 * not used here and are checked by name only.
 */
const modelSpec = obj(
  {
    modelFormat: obj({ name: string, version: string }, ['name']),
    runtime: string,
    storageUri: string,
    storage: 'any',
    runtimeVersion: string,
    protocolVersion: string,
    ...Object.fromEntries(
      ['name', 'image', 'args', 'command', 'env', 'envFrom', 'ports', 'resources', 'volumeMounts'].map((f) => [f, 'any']),
    ),
  },
  ['modelFormat'],
);
const predictor = obj({
  model: modelSpec,
  ...Object.fromEntries(
    ['sklearn', 'xgboost', 'tensorflow', 'pytorch', 'triton', 'onnx', 'huggingface', 'pmml', 'lightgbm', 'paddle', 'workerSpec'].map(
      (f) => [f, 'any'],
    ),
  ),
  containers: { array: { model: 'V1Container' } },
  volumes: { array: { model: 'V1Volume' } },
  securityContext: { model: 'V1PodSecurityContext' },
  serviceAccountName: string,
  automountServiceAccountToken: boolean,
  enableServiceLinks: boolean,
  terminationGracePeriodSeconds: integer,
  nodeSelector: stringMap,
  affinity: { model: 'V1Affinity' },
  tolerations: { array: { model: 'V1Toleration' } },
  topologySpreadConstraints: { array: { model: 'V1TopologySpreadConstraint' } },
  imagePullSecrets: { array: { model: 'V1LocalObjectReference' } },
  priorityClassName: string,
  minReplicas: integer,
  maxReplicas: integer,
  scaleTarget: integer,
  scaleMetric: string,
  autoScaling: 'any',
  containerConcurrency: integer,
  timeout: integer,
  canaryTrafficPercent: integer,
  logger: 'any',
  batcher: 'any',
  labels: stringMap,
  annotations: stringMap,
  deploymentStrategy: { model: 'V1DeploymentStrategy' },
});
const inferenceService = kind(obj({ predictor, explainer: 'any', transformer: 'any' }, ['predictor']));

export const CUSTOM_KINDS: Record<string, FieldType> = {
  'monitoring.coreos.com/v1/ServiceMonitor': serviceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': prometheusRule,
  'kustomize.config.k8s.io/v1beta1/Kustomization': kustomization,
  // A kustomize Component (docker/k8s/components/) holds the fields of a Kustomization.
  'kustomize.config.k8s.io/v1alpha1/Component': kustomization,
  'serving.kserve.io/v1alpha1/ServingRuntime': servingRuntime,
  'serving.kserve.io/v1beta1/InferenceService': inferenceService,
};

/** prometheus-adapter's configuration file (v0.12, `rules`/`resourceRules`/`externalRules`), as the Helm chart's
 * `rules` value holds it: docker/k8s/monitoring/prometheus-adapter-rules.yaml. */
const adapterRule = obj(
  {
    seriesQuery: string,
    seriesFilters: { array: obj({ is: string, isNot: string }) },
    resources: obj({ overrides: { map: obj({ group: string, resource: string }) }, template: string, namespaced: boolean }),
    name: obj({ matches: string, as: string }),
    metricsQuery: string,
  },
  ['seriesQuery', 'metricsQuery'],
);
export const PROMETHEUS_ADAPTER_VALUES: FieldType = obj(
  {
    rules: obj({
      default: boolean,
      custom: { array: adapterRule },
      external: { array: adapterRule },
      resource: 'any',
    }),
  },
  ['rules'],
);
