// The deployment files: the images' Dockerfiles and every manifest under docker/k8s, in one place.
// With Node alone (these always run, kubectl or not):
// - The images: numeric non-root user (with `runAsNonRoot: true` the kubelet refuses a container whose image names
//   its user and no `runAsUser` says the uid: CreateContainerConfigError), a lint of both Dockerfiles
//   (dockerfile-utils, the Docker language server's validator, plus the project's rules in
//   test/helpers/dockerfile.ts), and a build context (.dockerignore) that holds what they copy and nothing else.
// - Every YAML file under docker/k8s against the Kubernetes schemas, strictly (test/helpers/k8s-schema.ts): an
//   unknown field fails, as a misspelled one must.
// With kubectl: each overlay under docker/k8s/overlays, rendered by `kubectl kustomize`, is what `kubectl apply -k`
// sends: every object is checked strictly against the Kubernetes schemas, and against what issue #9 asks of the
// deployment: the pod's security, probes that survive load, a drain the grace period covers, API keys required,
// metrics on their own port and out of the Service, probes and the Prometheus scrape let through by the service's
// own Host check (ALLOWED_HOSTS as rendered and as base/deployment.yaml suggests it), models read-only from a
// volume (the demo model only in `demo`), the GPU settings only in `gpu`, an HPA on queue wait with a CPU fallback;
// components/jobs-postgres on an overlay: the jobs in PostgreSQL, its URL from a Secret, no JOBS_DB. The pod runs as its image's
// numeric non-root user (test/helpers/dockerfile.ts reads the Dockerfiles). Needs kubectl with its built-in
// kustomize (v4.1 or newer reads these kustomizations); without it those tests skip (fail under CI=true).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import t from 'tap';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseApiKeysFile, sha256 } from '../../src/config/api-keys.ts';
import { allowedHosts, hostAllowed, listenHost } from '../../src/config/hosts.ts';
import { jobsConfig } from '../../src/config/jobs.ts';
import { ROOT } from '../helpers/common.ts';
import { baseImages, DOCKERFILES, dockerfileProblems, finalUser, imageEnv, imageUser, instructions } from '../helpers/dockerfile.ts';
import { PROMETHEUS_ADAPTER_VALUES } from '../helpers/k8s-crd-schemas.ts';
import { kubernetesRelease, schemaOf, validateObject, validateValue } from '../helpers/k8s-schema.ts';
import { requireTool } from '../helpers/tools.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

t.test('each image runs as a numeric, non-root uid:gid', (t) => {
  const users = Object.values(DOCKERFILES).map((dockerfile) => {
    const user = imageUser(t, dockerfile);
    if (user) {
      t.not(user.uid, 0, `${dockerfile}: uid ${user.uid} is not root`);
      t.not(user.gid, 0, `${dockerfile}: gid ${user.gid} is not root's group`);
    }
    return user;
  });
  if (users.every((user) => user !== undefined)) t.same(users[1], users[0], 'both images use the same uid:gid, so one pod spec fits both');
  t.end();
});

t.test('the Dockerfile parser reads the final stage only', (t) => {
  t.equal(
    finalUser('FROM a AS build\nUSER 1:1\nFROM b\nRUN x \\\n  USER 5\n'),
    undefined,
    'a build stage user and a continued RUN do not count',
  );
  t.equal(finalUser('FROM a\n# USER 2:2\nuser 3:3\nUSER 4:4\n'), '4:4', 'the last USER, comments skipped, any case');
  t.end();
});

const ALL_RULES = Object.fromEntries(
  [
    'deprecatedMaintainer',
    'directiveCasing',
    'emptyContinuationLine',
    'instructionCasing',
    'instructionCmdMultiple',
    'instructionEntrypointMultiple',
    'instructionHealthcheckMultiple',
    'instructionJSONInSingleQuotes',
    'instructionWorkdirRelative',
  ].map((rule) => [rule, ValidationSeverity.ERROR]),
);

t.test('both Dockerfiles pass dockerfile-utils (every rule an error) and the project rules', (t) => {
  for (const dockerfile of Object.values(DOCKERFILES)) {
    const text = read(dockerfile);
    const diagnostics = validate(text, ALL_RULES).map(
      (d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
    );
    t.same(diagnostics, [], `${dockerfile}: dockerfile-utils finds nothing`);
    t.same(dockerfileProblems(text), [], `${dockerfile}: the project's rules hold`);
  }
  t.end();
});

t.test('the lint catches what it is for', (t) => {
  const good = read('docker/Dockerfile');
  t.match(
    validate(good.replace('WORKDIR /app', 'workdir app'), ALL_RULES).map((d) => d.message),
    [/uppercase/, /absolute/],
    'dockerfile-utils: casing, relative WORKDIR',
  );
  t.match(
    validate(good.replace('--interval=15s', '--interval=15x'), ALL_RULES).map((d) => d.message),
    [/unknown unit/],
    'dockerfile-utils: a bad HEALTHCHECK duration',
  );
  const planted: [string, string, RegExp][] = [
    ['node:24.22.3-bookworm-slim', 'node:24-bookworm-slim', /exact version tag/],
    ['node:24.22.3-bookworm-slim', 'node:latest', /exact version tag/],
    ['COPY package.json openapi.yaml ./', 'ADD package.json openapi.yaml ./', /use COPY/],
    ['HEALTHCHECK', 'HEALTHCHECK NONE\n# ', /one HEALTHCHECK run by node/],
    ['ENTRYPOINT ["/app/docker/entrypoint.sh"]', 'ENTRYPOINT /app/docker/entrypoint.sh', /exec-form ENTRYPOINT/],
    ['|| command -v gcc ', '', /does not check that/],
    [
      'WORKDIR /app\n# npm',
      'RUN apt-get update && apt-get install -y curl\nWORKDIR /app\n# npm',
      /no-install-recommends[\s\S]*var\/lib\/apt\/lists[\s\S]*installs curl/,
    ],
  ];
  for (const [from, to, expected] of planted) {
    const at = good.lastIndexOf(from);
    t.ok(at >= 0, `the planted text "${from}" is in docker/Dockerfile`);
    const bad = good.slice(0, at) + to + good.slice(at + from.length);
    t.match(dockerfileProblems(bad).join('\n'), expected, `${from} -> ${to.split('\n')[0]}: caught`);
  }
  t.end();
});

t.test('base images: one pinned Node for both images, the major the project runs on, Node copied not downloaded', (t) => {
  const cpu = baseImages(read('docker/Dockerfile'));
  const gpu = baseImages(read('docker/Dockerfile.gpu'));
  const node = cpu.find((image) => image.startsWith('node:'));
  t.ok(node, 'docker/Dockerfile builds on the official node image');
  t.ok(gpu.includes(node!), `docker/Dockerfile.gpu uses the same ${node}`);
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  t.equal(/node:(\d+)\./.exec(node!)?.[1], /\d+/.exec(engines)?.[0], `${node}: the major of package.json engines (${engines})`);
  const gpuFinal = instructions(read('docker/Dockerfile.gpu')).filter((i, _, all) => i.stage === Math.max(...all.map((x) => x.stage)));
  t.ok(
    gpuFinal.some((i) => i.keyword === 'COPY' && /--from=\S+ \/usr\/local\/bin\/node /.test(i.args)),
    'the CUDA image gets node from the node image stage',
  );
  const deployment = read('docs/deployment.md');
  for (const image of new Set([...cpu, ...gpu]))
    t.ok(deployment.includes(image), `docs/deployment.md names ${image} (with the digest pinning command)`);
  t.end();
});

/** The files a Docker build context from the repository root holds, per .dockerignore (Docker's rules: the last
 * matching pattern wins, `!` re-includes, a pattern matches a path or any folder above it). */
function inContext(path: string, patterns: string[]): boolean {
  let included = true;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/\/$/, '');
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\/?/g, '@GLOBSTAR@')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')
      .replace(/@GLOBSTAR@/g, '(.*/)?');
    const regex = new RegExp(`^${source}(/.*)?$`);
    if (regex.test(path)) included = negated;
  }
  return included;
}

t.test('.dockerignore: the build context holds every file the Dockerfiles copy, and no repository clutter', (t) => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const sources = new Set<string>();
  for (const dockerfile of Object.values(DOCKERFILES)) {
    for (const i of instructions(read(dockerfile))) {
      if (i.keyword !== 'COPY' || i.args.includes('--from=')) continue;
      for (const source of i.args.split(/\s+/).slice(0, -1)) sources.add(source);
    }
  }
  t.ok(sources.size >= 6, `the Dockerfiles copy ${[...sources].join(', ')}`);
  for (const source of sources) {
    const files = statSync(join(ROOT, source)).isFile()
      ? [source]
      : readdirSync(join(ROOT, source), { recursive: true, withFileTypes: true })
          .filter((d) => d.isFile())
          .map((d) => relative(ROOT, join(d.parentPath, d.name)));
    t.ok(files.length > 0, `${source} exists`);
    const left = files.filter((f) => !f.includes('node_modules/') && !inContext(f, patterns));
    t.same(left, [], `${source}: every file is in the context`);
  }
  for (const clutter of [
    '.git/HEAD',
    '.tools/prometheus/usr/bin/promtool',
    'bench/.cache/x',
    'node_modules/fastify/package.json',
    'dist/server.js',
    'models/unimed-b16/model.json',
    'test/fixtures/x.dcm',
    'coverage/x',
    'docker/k8s/base/deployment.yaml',
  ]) {
    t.notOk(inContext(clutter, patterns), `${clutter} stays out`);
  }
  t.notOk(inContext('packages/cli/node_modules/x/index.js', patterns), 'a workspace node_modules stays out');
  t.end();
});

/** Every YAML file under docker/k8s, with each document parsed. */
function k8sFiles(): { path: string; docs: unknown[] }[] {
  const dir = join(ROOT, 'docker/k8s');
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)))
    .sort()
    .map((path) => ({ path, docs: parseAllDocuments(read(path)).map((doc) => doc.toJS() as unknown) }));
}

t.test('client-node models come from Kubernetes >= 1.30, the release whose preStop sleep the manifests use', (t) => {
  const release = kubernetesRelease();
  t.ok(release.major > 1 || release.minor >= 30, `@kubernetes/client-node's models are of Kubernetes ${release.major}.${release.minor}`);
  t.same(
    validateValue({ preStop: { sleep: { seconds: 5 } } }, { model: 'V1Lifecycle' }, 'lifecycle'),
    [],
    'its Lifecycle knows the sleep action',
  );
  t.end();
});

t.test('every YAML file under docker/k8s passes the strict schema check', (t) => {
  const files = k8sFiles();
  t.ok(files.length >= 15, `${files.length} files`);
  for (const { path, docs } of files) {
    for (const [i, doc] of docs.entries()) {
      const where = `${path}#${i}`;
      // prometheus-adapter's rules are Helm values for the adapter, not a Kubernetes object.
      const errors = path.endsWith('prometheus-adapter-rules.yaml')
        ? validateValue(doc, PROMETHEUS_ADAPTER_VALUES, where)
        : validateObject(doc, where);
      t.same(errors, [], `${where} is valid`);
    }
  }
  const kinds = new Set(files.flatMap((f) => f.docs.map((d) => `${(d as { kind?: string }).kind}`)));
  for (const kind of [
    'Deployment',
    'Service',
    'HorizontalPodAutoscaler',
    'PodDisruptionBudget',
    'NetworkPolicy',
    'PersistentVolumeClaim',
    'Job',
    'ServiceMonitor',
    'PrometheusRule',
    'Kustomization',
    'ServingRuntime',
    'InferenceService',
  ]) {
    t.ok(kinds.has(kind), `a ${kind} is among them`);
  }
  t.end();
});

t.test('a misspelled field, a wrong type, an unknown kind: each fails the check, saying where', (t) => {
  const deployment = read('docker/k8s/base/deployment.yaml');
  const validDoc = (text: string) => validateObject(parseAllDocuments(text)[0]!.toJS(), 'deployment.yaml');
  t.same(validDoc(deployment), [], 'the deployment as committed is valid');
  t.same(
    validDoc(deployment.replace('readinessProbe:', 'readinesProbe:')),
    ['deployment.yaml Deployment/unimed-serve.spec.template.spec.containers[0].readinesProbe: unknown field (not in V1Container)'],
    'a misspelled container field',
  );
  t.match(
    validDoc(
      deployment.replace(
        'periodSeconds: 5\n            timeoutSeconds: 3\n            failureThreshold: 3',
        'periodSeconds: 5\n            timeoutSecond: 3\n            failureThreshold: 3',
      ),
    ),
    [/readinessProbe\.timeoutSecond: unknown field \(not in V1Probe\)/],
    'a misspelled probe field',
  );
  t.match(
    validDoc(deployment.replace('terminationGracePeriodSeconds: 45', 'terminationGracePeriodSeconds: "45"')),
    [/terminationGracePeriodSeconds: expected integer, got string/],
    'a string for an integer',
  );
  t.match(validDoc(deployment.replace('memory: 6Gi', 'memory: 6 GB')), [/limits\.memory: expected quantity/], 'a malformed quantity');
  t.match(validDoc(deployment.replace('kind: Deployment', 'kind: Deployent')), [/unknown kind apps\/v1 Deployent/], 'an unknown kind');
  const rule = parseAllDocuments(read('docker/k8s/monitoring/prometheus-rule.yaml'))[0]!.toJS() as {
    spec: { groups: { rules: Record<string, unknown>[] }[] };
  };
  const first = rule.spec.groups[0]!.rules[0]!;
  first.exp = first.expr;
  delete first.expr;
  t.same(
    validateObject(rule, 'rule'),
    [
      'rule PrometheusRule/unimed-serve.spec.groups[0].rules[0].exp: unknown field',
      'rule PrometheusRule/unimed-serve.spec.groups[0].rules[0].expr: required field missing',
    ],
    'a PrometheusRule rule with `exp` for `expr`',
  );
  t.match(
    validateObject(
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'x' },
        spec: { selector: {}, endpoints: [{ prot: 'metrics' }] },
      },
      'sm',
    ),
    [/endpoints\[0\]\.prot: unknown field/],
    'a ServiceMonitor endpoint field',
  );
  t.match(
    validateValue(
      { rules: { custom: [{ seriesQuery: 'x', metricsQuery: 'y', name: { match: 'x' } }] } },
      PROMETHEUS_ADAPTER_VALUES,
      'adapter',
    ),
    [/name\.match: unknown field/],
    'a prometheus-adapter rule field',
  );
  t.ok(schemaOf('autoscaling/v2', 'HorizontalPodAutoscaler'), 'autoscaling/v2 is known');
  t.end();
});

t.test('KServe: an InferenceService of the unimed-serve runtime over the Open Inference Protocol v2, locked down', (t) => {
  const [runtime] = parseAllDocuments(read('docker/k8s/kserve/serving-runtime.yaml')).map((d) => d.toJS() as Record<string, never>);
  const [service] = parseAllDocuments(read('docker/k8s/kserve/inference-service.yaml')).map((d) => d.toJS() as Record<string, never>);
  const rt = runtime as unknown as {
    metadata: { name: string };
    spec: { protocolVersions: string[]; supportedModelFormats: { name: string }[]; containers: V1ContainerLike[] };
  };
  const isvc = service as unknown as {
    spec: {
      predictor: {
        model: { modelFormat: { name: string }; runtime: string; protocolVersion: string; storageUri: string };
        securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } };
        automountServiceAccountToken: boolean;
      };
    };
  };
  const { model, securityContext, automountServiceAccountToken } = isvc.spec.predictor;
  t.equal(model.protocolVersion, 'v2', 'the InferenceService asks for protocol v2');
  t.equal(model.runtime, rt.metadata.name, 'of the unimed-serve runtime');
  t.ok(rt.spec.protocolVersions.includes('v2'), 'which speaks v2');
  t.ok(
    rt.spec.supportedModelFormats.some((f) => f.name === model.modelFormat.name),
    `and serves the model format ${model.modelFormat.name}`,
  );
  t.match(model.storageUri, /^pvc:\/\/unimed-models\//, 'the model from the model volume');
  const [container] = rt.spec.containers;
  t.equal(container?.name, 'kserve-container', 'the container KServe merges the model into');
  t.ok(
    container?.env?.some((e) => e.name === 'MODEL_DIRS' && e.value === '/mnt/models'),
    'MODEL_DIRS is where KServe puts the model',
  );
  t.ok(
    container?.env?.some((e) => e.name === 'REQUIRE_AUTH' && e.value === 'true'),
    'API keys required',
  );
  t.equal(container?.readinessProbe?.httpGet?.path, '/v2/health/ready', 'readiness: the protocol probe (public)');
  t.equal(container?.livenessProbe?.httpGet?.path, '/v2/health/live', 'liveness: the protocol probe (public)');
  t.equal(container?.securityContext?.readOnlyRootFilesystem, true, 'read-only root');
  t.same(container?.securityContext?.capabilities?.drop, ['ALL'], 'no capabilities');
  t.equal(securityContext.runAsNonRoot, true, 'runAsNonRoot');
  t.ok(Number.isInteger(securityContext.runAsUser) && securityContext.runAsUser !== 0, 'numeric non-root user');
  t.equal(securityContext.seccompProfile.type, 'RuntimeDefault', 'seccomp RuntimeDefault');
  t.equal(automountServiceAccountToken, false, 'no service account token');
  const text = read('docker/k8s/kserve/inference-service.yaml');
  t.match(
    validateObject(parseAllDocuments(text.replace('protocolVersion: v2', 'protocolVerison: v2'))[0]!.toJS(), 'isvc'),
    [/predictor\.model\.protocolVerison: unknown field/],
    'a misspelled InferenceService field fails the check',
  );
  t.end();
});

interface V1ContainerLike {
  name: string;
  env?: { name: string; value?: string }[];
  readinessProbe?: { httpGet?: { path?: string } };
  livenessProbe?: { httpGet?: { path?: string } };
  securityContext?: { readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}

t.test('every pod template under docker/k8s (the service, its overlays, the Jobs) runs locked down', (t) => {
  const pods = k8sFiles().flatMap(({ path, docs }) =>
    docs.flatMap((doc) => {
      const object = doc as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: TemplatePodSpec } } };
      const pod = object.spec?.template?.spec;
      // Overlay patches hold only what they change; the base they patch is checked here.
      return pod?.containers?.every((c) => c.image !== undefined)
        ? [{ where: `${path} ${object.kind}/${object.metadata?.name}`, pod }]
        : [];
    }),
  );
  t.ok(pods.length >= 2, `${pods.map((p) => p.where).join(', ')}`);
  for (const { where, pod } of pods) {
    t.equal(pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
    t.ok(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext?.runAsUser !== 0, `${where}: numeric non-root runAsUser`);
    t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
    t.equal(pod.automountServiceAccountToken, false, `${where}: no service account token`);
    for (const c of pod.containers ?? []) {
      t.match(
        c.securityContext,
        { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        `${where} ${c.name}: read-only root, no escalation, no capabilities`,
      );
      t.ok(
        c.resources?.requests?.['ephemeral-storage'] !== undefined && c.resources.limits?.memory !== undefined,
        `${where} ${c.name}: ephemeral-storage requested, memory limited`,
      );
    }
  }
  t.end();
});

interface TemplatePodSpec {
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  containers?: {
    name: string;
    image?: string;
    securityContext?: unknown;
    resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  }[];
}

t.test("the demo overlay's API key file is one the service reads, holding the documented demo key's hash", (t) => {
  const path = 'docker/k8s/overlays/demo/demo-api-keys';
  const keys = parseApiKeysFile(read(path), path);
  t.equal(keys.length, 1, 'one key');
  const documented = /`(demo-key-not-secret)`/.exec(read('docker/k8s/overlays/demo/kustomization.yaml'))?.[1] ?? '';
  t.ok(documented, 'the overlay names its demo key');
  t.ok(keys[0]?.sha256.equals(sha256(documented)), 'the file holds its sha256, not the key');
  t.notOk(read(path).includes(documented), 'and not the key itself');
  t.end();
});

// The overlays as kubectl renders them.

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
  httpGet: { path: string; port: string | number; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
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
  env?: EnvVar[];
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
  endpoints: { port: string; path?: string; scheme?: string }[];
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
    // The audit log's hash key from a Secret too, so hashes agree across pods and restarts.
    const hashMount = container.volumeMounts.find((m) => env.AUDIT_HASH_SECRET_FILE?.startsWith(`${m.mountPath}/`));
    t.ok(hashMount, `AUDIT_HASH_SECRET_FILE ${env.AUDIT_HASH_SECRET_FILE} lies in a mounted directory`);
    const hashVolume = pod.volumes.find((v) => v.name === hashMount?.name);
    t.ok(hashVolume?.secret?.secretName, `from the Secret ${hashVolume?.secret?.secretName}`);
    if (variant.demo) t.ok(one(objects, 'Secret', hashVolume?.secret?.secretName).length === 1, 'the demo overlay generates that Secret');

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

    checkHosts(t, objects, container, { ...imageEnv(read(DOCKERFILES[variant.image] ?? 'missing')), ...env });

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

/** A container's env entry as rendered: a value, or one taken from a Secret. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

for (const overlay of ['cpu', 'gpu']) {
  t.test(`components/jobs-postgres on overlays/${overlay}: the jobs in PostgreSQL from Secrets, as the service parses them`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'unimed-k8s-jobs-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const component = join(ROOT, 'docker/k8s/components/jobs-postgres');
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `resources:\n  - ${relative(dir, join(OVERLAYS, overlay))}\ncomponents:\n  - ${relative(dir, component)}\n`,
    );
    const objects = await render(t, dir);
    if (!objects) return;
    for (const [i, object] of objects.entries())
      t.same(validateObject(object, `#${i}`), [], `${object.kind}/${object.metadata.name} passes the strict schema check`);
    const pod = specOf<DeploymentSpec>(objects, 'Deployment', 'unimed-serve')!.template.spec;
    const container = pod.containers[0]!;
    const env = container.env ?? [];
    const url = env.find((e) => e.name === 'JOBS_DATABASE_URL');
    t.same(url?.valueFrom, { secretKeyRef: { name: 'unimed-jobs-db', key: 'url' } }, 'JOBS_DATABASE_URL from the Secret unimed-jobs-db');
    t.equal(url?.value, undefined, 'and from nowhere else');
    t.notOk(
      env.some((e) => e.name === 'JOBS_DB'),
      'no JOBS_DB: no SQLite file on a read-only root shared by several pods',
    );
    t.equal(container.securityContext?.readOnlyRootFilesystem, true, 'the root filesystem stays read-only');
    const hpa = specOf<{ minReplicas?: number }>(objects, 'HorizontalPodAutoscaler');
    t.ok((hpa?.minReplicas ?? 1) >= 2, `at least ${hpa?.minReplicas} replicas share the queue`);
    const keyFile = env.find((e) => e.name === 'JOBS_KEY_FILE')?.value ?? '';
    const keyMount = container.volumeMounts.find((m) => keyFile.startsWith(`${m.mountPath}/`));
    t.ok(keyMount?.readOnly && !keyMount.subPath, `JOBS_KEY_FILE ${keyFile} lies in a read-only mounted directory`);
    t.equal(pod.volumes.find((v) => v.name === keyMount?.name)?.secret?.secretName, 'unimed-jobs-key', 'from the Secret unimed-jobs-key');
    t.same(one(objects, 'Secret'), [], 'no Secret in the manifests: the platform team creates both');

    // What the service would read: the Secrets' values in place of the references, the key file where it is mounted.
    const secretUrl = 'postgres://unimed:not-a-real-password@postgres.unimed.svc:5432/unimed';
    const secretKey = 'k'.repeat(48);
    writeFileSync(join(dir, 'key'), `${secretKey}\n`);
    const parsed = Object.fromEntries(env.map((e) => [e.name, e.valueFrom?.secretKeyRef?.name === 'unimed-jobs-db' ? secretUrl : e.value]));
    parsed.JOBS_KEY_FILE = join(dir, relative(keyMount?.mountPath ?? '/', keyFile));
    t.match(
      jobsConfig(parsed, ROOT),
      { db: undefined, databaseUrl: secretUrl, keySecret: secretKey },
      'the jobs config is valid: PostgreSQL, sealed',
    );
  });
}

/** The ALLOWED_HOSTS the comment in base/deployment.yaml offers operators (their ingress name, the Service, port-forward). */
const SUGGESTED_HOSTS = /^\s*# - \{ name: ALLOWED_HOSTS, value: "([^"]+)" \}$/m.exec(read('docker/k8s/base/deployment.yaml'))?.[1];
/** A pod IP, as kubelet and Prometheus call the pod: the Host they send is `<pod IP>:<port>`. */
const POD_IP = '10.244.1.17';

/**
 * The Host check (src/config/hosts.ts, the service's own functions) against what the rendered overlay makes kubelet
 * and Prometheus send: every probe and the scrape pass, with ALLOWED_HOSTS as rendered and as the comment suggests
 * operators set it; the service listens where they reach it (HOST from the image with the keys REQUIRE_AUTH demands).
 */
function checkHosts(t: Test, objects: K8sObject[], container: Container, env: Record<string, string | undefined>): void {
  t.equal(env.REQUIRE_AUTH, 'true', 'keys at start (REQUIRE_AUTH): the defaults for keys apply');
  t.equal(listenHost(env, true), '0.0.0.0', 'the image listens on the pod IP');
  t.equal(env.ALLOW_UNAUTHENTICATED_NETWORK, undefined, 'no opt-in to serving without keys');
  t.ok(SUGGESTED_HOSTS, `base/deployment.yaml suggests ALLOWED_HOSTS="${SUGGESTED_HOSTS}"`);
  const policies = { rendered: allowedHosts(env, true), suggested: allowedHosts({ ...env, ALLOWED_HOSTS: SUGGESTED_HOSTS }, true) };
  t.equal(policies.suggested.source, 'ALLOWED_HOSTS');
  const portOf = (port: string | number) => (typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort);

  for (const [kind, probe] of Object.entries({
    startup: container.startupProbe,
    readiness: container.readinessProbe,
    liveness: container.livenessProbe,
  })) {
    const { path, port, host, scheme, httpHeaders } = probe.httpGet;
    t.equal(portOf(port), Number(env.PORT), `${kind} probe: the API port ${env.PORT}`);
    t.equal(host, undefined, `${kind} probe: no host, so kubelet calls the pod IP`);
    t.equal(scheme ?? 'HTTP', 'HTTP', `${kind} probe: plain HTTP`);
    const sent = httpHeaders?.find((h) => h.name.toLowerCase() === 'host')?.value ?? `${host ?? POD_IP}:${portOf(port)}`;
    for (const [which, policy] of Object.entries(policies))
      t.ok(hostAllowed(policy, sent, path), `${kind} probe GET ${path} with Host ${sent}: allowed (ALLOWED_HOSTS ${which})`);
  }
  t.notOk(hostAllowed(policies.suggested, `${POD_IP}:${env.PORT}`, '/classify'), 'while the pod IP on an API route is not');

  // Prometheus scrapes the endpoints of the Service the ServiceMonitor selects: the pod IP and the container port.
  const metricsPort = Number(env.METRICS_PORT);
  const monitor = specOf<ServiceMonitorSpec>(objects, 'ServiceMonitor');
  const scrapes = monitor?.endpoints ?? [{ port: 'metrics', path: '/metrics' }];
  for (const endpoint of scrapes) {
    const service = one(objects, 'Service').find((s) =>
      (s.spec as ServiceSpec).ports.some((p) => (p as { name?: string }).name === endpoint.port),
    );
    const target = (service?.spec as ServiceSpec | undefined)?.ports.find(
      (p) => (p as { name?: string }).name === endpoint.port,
    )?.targetPort;
    t.equal(portOf(target ?? endpoint.port), metricsPort, `scrape of port ${endpoint.port}: the metrics listener ${metricsPort}`);
    t.equal(endpoint.scheme ?? 'http', 'http', 'plain HTTP');
    const path = endpoint.path ?? '/metrics';
    for (const [which, policy] of Object.entries(policies))
      t.ok(hostAllowed(policy, `${POD_IP}:${metricsPort}`, path), `scrape GET ${path} by the pod IP: allowed (ALLOWED_HOSTS ${which})`);
  }
}

t.test('the embed Job calls the Service by a name the suggested ALLOWED_HOSTS lists', (t) => {
  const job = k8sFiles()
    .find((f) => f.path.endsWith('jobs/embed-archive.yaml'))
    ?.docs.find((d) => (d as { kind?: string }).kind === 'Job') as
    { spec: { template: { spec: { containers: Container[] } } } } | undefined;
  const url = job?.spec.template.spec.containers.flatMap((c) => c.env ?? []).find((e) => e.name === 'UNIMED_URL')?.value;
  t.ok(url, `UNIMED_URL=${url}`);
  const policy = allowedHosts({ ALLOWED_HOSTS: SUGGESTED_HOSTS }, true);
  t.ok(hostAllowed(policy, new URL(url ?? 'http://missing').host, '/embed/image'), 'allowed');
  t.notOk(hostAllowed(policy, 'evil.example', '/embed/image'), 'another name is not');
  t.end();
});

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
