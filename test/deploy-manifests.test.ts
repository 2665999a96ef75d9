// The deployment files, checked with Node alone (the rendered overlays: test/integration/deploy-manifests.test.ts).
// - The images: numeric non-root user (with `runAsNonRoot: true` the kubelet refuses a container whose image names
//   its user and no `runAsUser` says the uid: CreateContainerConfigError), a lint of both Dockerfiles
//   (dockerfile-utils, the Docker language server's validator, plus the project's rules in
//   test/helpers/dockerfile.ts), and a build context (.dockerignore) that holds what they copy and nothing else.
// - Every YAML file under docker/k8s against the Kubernetes schemas, strictly (test/helpers/k8s-schema.ts): an
//   unknown field fails, as a misspelled one must.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseApiKeysFile, sha256 } from '../src/config/api-keys.ts';
import { ROOT } from './helpers/common.ts';
import { baseImages, DOCKERFILES, dockerfileProblems, finalUser, imageUser, instructions } from './helpers/dockerfile.ts';
import { PROMETHEUS_ADAPTER_VALUES } from './helpers/k8s-crd-schemas.ts';
import { kubernetesRelease, schemaOf, validateObject, validateValue } from './helpers/k8s-schema.ts';

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
  const readme = read('README.md');
  for (const image of new Set([...cpu, ...gpu]))
    t.ok(readme.includes(image), `README "Deployment" names ${image} (with the digest pinning command)`);
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

t.test('every pod template under docker/k8s (the service, its overlays, the Jobs) runs locked down', (t) => {
  const pods = k8sFiles().flatMap(({ path, docs }) =>
    docs.flatMap((doc) => {
      const object = doc as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: PodSpec } } };
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

interface PodSpec {
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
