// Each overlay under docker/k8s/overlays, rendered by `kubectl kustomize`, is what `kubectl apply -k` sends: every
// object is checked strictly against the Kubernetes schemas (test/helpers/k8s-schema.ts; unknown fields fail),
// and against what issue #9 asks of the deployment: the pod's security, probes that survive load, a drain the
// grace period covers, API keys required, metrics on their own port and out of the Service, models read-only
// from a volume (the demo model only in `demo`), the GPU settings only in `gpu`, an HPA on queue wait with a CPU
// fallback. The pod runs as its image's numeric non-root user (test/helpers/dockerfile.ts reads the Dockerfiles).
// Needs kubectl with its built-in kustomize (v4.1 or newer reads these kustomizations).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/common.ts';
import { DOCKERFILES, imageUser } from '../helpers/dockerfile.ts';
import { validateObject } from '../helpers/k8s-schema.ts';
import { requireTool } from '../helpers/tools.ts';

const execFileAsync = promisify(execFile);
const OVERLAYS = join(ROOT, 'docker/k8s/overlays');
const INSTALL = 'kubectl >= 1.22 from pkgs.k8s.io (Debian 12 kubernetes-client 1.20 has kustomize v2, too old for these kustomizations)';

type Labels = Record<string, string>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Labels };
  spec?: unknown;
}
interface Probe {
  httpGet: { path: string };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
  ports: { name?: string; containerPort: number }[];
  securityContext?: SecurityContext & Record<string, unknown>;
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe: Probe;
  lifecycle: { preStop: { sleep: { seconds: number } } };
  resources: { requests: Record<string, string | number>; limits: Record<string, string | number> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}
interface PodSpec {
  automountServiceAccountToken?: boolean;
  securityContext: SecurityContext;
  containers: Container[];
  initContainers?: Container[];
  volumes: {
    name: string;
    emptyDir?: { medium?: string };
    secret?: { secretName: string };
    persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  }[];
  terminationGracePeriodSeconds: number;
  topologySpreadConstraints: { topologyKey: string; labelSelector: { matchLabels: Labels } }[];
  tolerations?: { key?: string }[];
  nodeSelector?: Labels;
}
interface DeploymentSpec {
  replicas?: number;
  template: { metadata: { labels: Labels }; spec: PodSpec };
}
interface ServiceSpec {
  selector?: Labels;
  clusterIP?: string;
  ports: { targetPort?: string | number }[];
}
interface HpaSpec {
  scaleTargetRef: { kind: string; name: string };
  metrics: { type: string; pods?: { metric: { name: string } } }[];
  behavior?: { scaleUp?: unknown; scaleDown?: unknown };
}
interface NetworkPolicySpec {
  podSelector: { matchLabels: Labels };
  policyTypes: string[];
  ingress: { ports: { port: string | number }[] }[];
}
interface ServiceMonitorSpec {
  selector: { matchLabels: Labels };
  endpoints: { port: string }[];
}

async function render(t: Test, dir: string): Promise<K8sObject[] | undefined> {
  const kubectl = requireTool(t, 'kubectl', INSTALL);
  if (!kubectl) return undefined;
  const { stdout } = await execFileAsync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 }).catch(
    async (err: Error & { stderr?: string }) => {
      const { stdout: version } = await execFileAsync(kubectl, ['version', '--client'], { encoding: 'utf8' }).catch(() => ({
        stdout: 'unknown version',
      }));
      throw new Error(
        `kubectl kustomize ${relative(ROOT, dir)} failed (${version.trim().replace(/\n/g, ', ')}; needs ${INSTALL}): ${err.stderr ?? err.message}`,
      );
    },
  );
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as K8sObject);
}

const one = (objects: K8sObject[], kind: string, name?: string) =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const specOf = <T>(objects: K8sObject[], kind: string, name?: string): T | undefined => one(objects, kind, name)[0]?.spec as T | undefined;
const envOf = (container: Container): Record<string, string | undefined> =>
  Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));

const VARIANTS = [
  { overlay: 'cpu', image: 'unimed-serve:cpu', gpu: false, demo: false },
  { overlay: 'gpu', image: 'unimed-serve:gpu', gpu: true, demo: false },
  { overlay: 'demo', image: 'unimed-serve:cpu', gpu: false, demo: true },
];

for (const variant of VARIANTS) {
  t.test(`overlays/${variant.overlay}: rendered, strictly valid, and deployable as the issue asks`, async (t) => {
    const objects = await render(t, join(OVERLAYS, variant.overlay));
    if (!objects) return;
    for (const [i, object] of objects.entries())
      t.same(validateObject(object, `#${i}`), [], `${object.kind}/${object.metadata.name} passes the strict schema check`);

    const deployment = specOf<DeploymentSpec>(objects, 'Deployment', 'unimed-serve');
    t.equal(one(objects, 'Deployment').length, 1, 'one Deployment');
    if (!deployment) return;
    t.equal(deployment.replicas, undefined, 'no replicas in the Deployment (the HPA owns the count)');
    const pod = deployment.template.spec;
    const podLabels = deployment.template.metadata.labels;
    const container = pod.containers[0]!;
    const env = envOf(container);
    const selects = (selector: Record<string, string> | undefined) =>
      selector !== undefined && Object.entries(selector).every(([k, v]) => podLabels[k] === v);

    // Pod security.
    t.equal(pod.automountServiceAccountToken, false, 'no service account token in the pod');
    t.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault', 'seccomp RuntimeDefault');
    t.match(
      container.securityContext,
      { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      'read-only root, no privilege escalation, every capability dropped',
    );
    checkUser(t, pod, variant.image);

    // Probes, drain, spread, storage.
    const { readinessProbe: readiness, startupProbe: startup, livenessProbe: liveness } = container;
    t.ok(
      readiness.timeoutSeconds >= 3 && readiness.failureThreshold >= 3,
      `readiness survives load (timeout ${readiness.timeoutSeconds} s, ${readiness.failureThreshold} failures)`,
    );
    t.ok(liveness.timeoutSeconds >= 3 && liveness.failureThreshold >= 3, 'so does liveness');
    t.equal(startup.httpGet.path, '/readyz', 'the startup probe waits for the models to be ready');
    t.ok(
      startup.periodSeconds * startup.failureThreshold >= 300,
      `the startup probe allows ${startup.periodSeconds * startup.failureThreshold} s for a model load`,
    );
    const preStop = container.lifecycle.preStop.sleep.seconds;
    const drain = Number(env.SHUTDOWN_GRACE_MS) / 1000;
    t.ok(
      pod.terminationGracePeriodSeconds > preStop + drain,
      `grace ${pod.terminationGracePeriodSeconds} s > preStop ${preStop} s + drain ${drain} s`,
    );
    t.ok(
      pod.topologySpreadConstraints.some((c) => c.topologyKey === 'kubernetes.io/hostname' && selects(c.labelSelector.matchLabels)),
      'spread across nodes',
    );
    t.ok(container.resources.requests['ephemeral-storage'], 'ephemeral-storage requested');
    const tmp = pod.volumes.find((v) => v.name === 'tmp');
    t.equal(tmp?.emptyDir?.medium, 'Memory', '/tmp is in memory: no request data on the node disk');

    // API keys from a Secret, re-readable (a directory mount, no subPath).
    t.equal(env.REQUIRE_AUTH, 'true', 'REQUIRE_AUTH=true');
    const keysMount = container.volumeMounts.find((m) => env.API_KEYS_FILE?.startsWith(`${m.mountPath}/`));
    t.ok(keysMount && !keysMount.subPath, `API_KEYS_FILE ${env.API_KEYS_FILE} lies in a mounted directory`);
    const keysVolume = pod.volumes.find((v) => v.name === keysMount?.name);
    t.ok(keysVolume?.secret?.secretName, `from the Secret ${keysVolume?.secret?.secretName}`);
    if (variant.demo) t.ok(one(objects, 'Secret', keysVolume?.secret?.secretName).length === 1, 'the demo overlay generates that Secret');
    else t.same(one(objects, 'Secret'), [], 'no Secret in the overlay: the platform team creates the keys');

    // Metrics on their own port, out of the API Service, scraped by the ServiceMonitor.
    const metricsPort = container.ports.find((p) => p.name === 'metrics');
    t.equal(String(metricsPort?.containerPort), env.METRICS_PORT, `METRICS_PORT ${env.METRICS_PORT} is the container port named metrics`);
    const api = specOf<ServiceSpec>(objects, 'Service', 'unimed-serve');
    t.same(
      api?.ports.map((p) => p.targetPort),
      ['http'],
      'the API Service exposes the http port only',
    );
    const metricsServices = one(objects, 'Service').filter((s) => {
      const spec = s.spec as ServiceSpec;
      return selects(spec.selector) && spec.ports.some((p) => p.targetPort === 'metrics');
    });
    t.equal(metricsServices.length, 1, 'one Service for metrics');
    t.equal((metricsServices[0]?.spec as ServiceSpec | undefined)?.clusterIP, 'None', 'headless: no balancer in front of it');

    // Autoscaling, disruption budget, network policy.
    const hpa = specOf<HpaSpec>(objects, 'HorizontalPodAutoscaler');
    t.match(hpa?.scaleTargetRef, { kind: 'Deployment', name: 'unimed-serve' }, 'the HPA scales the Deployment');
    t.same(
      hpa?.metrics.map((m) => m.type),
      ['Pods', 'Resource'],
      'on a per-pod metric, with CPU as the fallback',
    );
    t.equal(hpa?.metrics[0]?.pods?.metric.name, 'unimed_queue_wait_seconds_p90', 'the per-pod metric is queue wait p90');
    t.ok(hpa?.behavior?.scaleUp && hpa.behavior.scaleDown, 'with a behavior block');
    const pdb = specOf<{ selector: { matchLabels: Labels } }>(objects, 'PodDisruptionBudget');
    t.ok(pdb && selects(pdb.selector.matchLabels), 'a PodDisruptionBudget for the pods');
    const policy = specOf<NetworkPolicySpec>(objects, 'NetworkPolicy');
    t.ok(policy && selects(policy.podSelector.matchLabels), 'a NetworkPolicy for the pods');
    t.same(policy?.policyTypes, ['Ingress'], 'restricting ingress');
    t.same(
      policy?.ingress.map((rule) => rule.ports.map((p) => p.port)),
      [['http'], ['metrics']],
      'API port from the ingress namespace, metrics port from Prometheus',
    );

    // Models.
    const modelDirs = env.MODEL_DIRS!.split(',');
    const modelsMount = container.volumeMounts.find((m) => m.mountPath === '/models');
    if (variant.demo) {
      t.same(modelDirs, ['models/demo'], 'the demo overlay serves the demo model from the image');
      t.equal(modelsMount, undefined, 'and mounts no model volume');
      t.same(one(objects, 'PersistentVolumeClaim'), [], 'nor creates one');
    } else {
      t.ok(
        modelDirs.every((d) => d.startsWith('/models/')),
        `MODEL_DIRS ${env.MODEL_DIRS} all on the model volume`,
      );
      t.equal(modelsMount?.readOnly, true, 'mounted read-only at /models');
      const volume = pod.volumes.find((v) => v.name === modelsMount?.name);
      t.equal(volume?.persistentVolumeClaim?.readOnly, true, 'from a PVC, read-only');
      t.equal(
        one(objects, 'PersistentVolumeClaim', volume?.persistentVolumeClaim?.claimName).length,
        1,
        `the PVC ${volume?.persistentVolumeClaim?.claimName} is part of the overlay`,
      );
      t.notOk(
        modelDirs.some((d) => d.includes('demo')),
        'no demo model',
      );
      const monitor = specOf<ServiceMonitorSpec>(objects, 'ServiceMonitor');
      t.same(
        monitor?.endpoints.map((e) => e.port),
        ['metrics'],
        'a ServiceMonitor on the metrics port',
      );
      t.ok(
        monitor && Object.entries(monitor.selector.matchLabels).every(([k, v]) => metricsServices[0]?.metadata.labels?.[k] === v),
        'selecting the metrics Service',
      );
      t.equal(one(objects, 'PrometheusRule').length, 1, 'the alerts');
      t.equal(one(objects, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1').length, 1, 'the Grafana dashboard');
    }

    // GPU.
    const gpus = container.resources.limits['nvidia.com/gpu'];
    if (variant.gpu) {
      t.equal(Number(gpus), 1, 'one GPU');
      t.equal(env.EXECUTION_PROVIDERS, 'cuda,cpu', 'CUDA first, CPU as the fallback');
      t.ok(
        pod.tolerations?.some((x) => x.key === 'nvidia.com/gpu'),
        'tolerates the GPU nodes taint',
      );
      t.ok(pod.nodeSelector && Object.keys(pod.nodeSelector).some((k) => k.startsWith('nvidia.com/')), 'selects GPU nodes');
    } else {
      t.equal(gpus, undefined, 'no GPU');
      t.equal(env.EXECUTION_PROVIDERS, 'cpu', 'CPU provider');
    }
  });
}

/** The pod runs as the image's numeric user: with runAsNonRoot the kubelet checks only a numeric runAsUser. */
function checkUser(t: Test, pod: PodSpec, image: string): void {
  t.same(
    pod.containers.map((c) => c.image),
    [image],
    `runs ${image}`,
  );
  const user = imageUser(t, DOCKERFILES[image] ?? 'missing');
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    // A container's own securityContext overrides the pod's, field by field.
    const effective = { ...pod.securityContext, ...container.securityContext };
    t.equal(effective.runAsNonRoot, true, `${container.name}: runAsNonRoot`);
    t.equal(effective.runAsUser, user?.uid, `${container.name}: runAsUser is the image's uid ${user?.uid}`);
    t.equal(effective.runAsGroup, user?.gid, `${container.name}: runAsGroup is the image's gid ${user?.gid}`);
  }
  t.ok(Number.isInteger(pod.securityContext.fsGroup) && pod.securityContext.fsGroup !== 0, 'fsGroup is a non-root gid');
}

t.test('a misspelled field in an overlay passes kustomize and fails the strict check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-k8s-broken-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `resources:\n  - ${relative(dir, join(OVERLAYS, 'cpu'))}\npatches:\n  - path: typo.yaml\n`,
  );
  writeFileSync(
    join(dir, 'typo.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: unimed-serve }\nspec:\n  template:\n    spec:\n      containers:\n        - name: unimed-serve\n          readinessProbe: { failureTreshold: 5 }\n',
  );
  const objects = await render(t, dir);
  if (!objects) return;
  const errors = objects.flatMap((o, i) => validateObject(o, `#${i}`));
  t.match(
    errors,
    [/Deployment\/unimed-serve\.spec\.template\.spec\.containers\[0\]\.readinessProbe\.failureTreshold: unknown field \(not in V1Probe\)/],
    'the typo is reported, with its path',
  );
  t.equal(errors.length, 1, 'and nothing else');
});
