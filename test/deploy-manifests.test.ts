// The images and the Kubernetes pod spec must agree on a numeric, non-root user: with `runAsNonRoot: true` the
// kubelet refuses a container whose image names its user (`USER node`) and no `runAsUser` says the uid
// (CreateContainerConfigError, "cannot verify user is non-root"). The Dockerfile checks need no tool; the
// manifests are rendered by `kubectl kustomize` (the CPU base, and the base plus gpu-patch.yaml).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './helpers/http.ts';
import { requireTool } from './helpers/tools.ts';

const execFileAsync = promisify(execFile);
const K8S = join(ROOT, 'docker/k8s');
/** The image each Dockerfile builds, as its header comment says. */
const DOCKERFILES: Record<string, string> = {
  'unimed-serve:cpu': 'docker/Dockerfile',
  'unimed-serve:gpu': 'docker/Dockerfile.gpu',
};

/** The argument of the final stage's last USER instruction, or undefined when that stage has none (root). */
function finalUser(text: string): string | undefined {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const lastFrom = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
  const user = instructions.slice(lastFrom + 1).findLast((line) => /^USER\s/i.test(line));
  return user?.replace(/^USER\s+/i, '').trim();
}

/** The numeric uid:gid an image runs as; fails the test (and returns undefined) on anything else. */
function imageUser(t: Test, dockerfile: string): { uid: number; gid: number } | undefined {
  const user = finalUser(readFileSync(join(ROOT, dockerfile), 'utf8'));
  const m = /^(\d+):(\d+)$/.exec(user ?? '');
  if (!m) {
    t.fail(`${dockerfile}: the final stage's USER must be a numeric uid:gid, not ${user === undefined ? 'missing (root)' : `"${user}"`}`);
    return undefined;
  }
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

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
  t.equal(finalUser('FROM a AS build\nUSER 1:1\nFROM b\nRUN x \\\n  USER 5\n'), undefined, 'a build stage user and a continued RUN do not count');
  t.equal(finalUser('FROM a\n# USER 2:2\nuser 3:3\nUSER 4:4\n'), '4:4', 'the last USER, comments skipped, any case');
  t.end();
});

interface SecurityContext {
  runAsNonRoot?: unknown;
  runAsUser?: unknown;
  runAsGroup?: unknown;
  fsGroup?: unknown;
}
interface Container {
  name: string;
  image: string;
  securityContext?: SecurityContext;
}
interface Workload {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec: { securityContext?: SecurityContext; containers: Container[]; initContainers?: Container[] } } };
}

/** A kustomization in a temp dir with the base as its resource and gpu-patch.yaml applied (kustomize loads
 * patches only from under its own root, so the patch is copied there; the base is referenced in place). */
function gpuOverlay(): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-k8s-gpu-'));
  copyFileSync(join(K8S, 'gpu-patch.yaml'), join(dir, 'gpu-patch.yaml'));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(dir, K8S)}\npatches:\n  - path: gpu-patch.yaml\n`,
  );
  return dir;
}

for (const variant of [
  { name: 'CPU (docker/k8s)', image: 'unimed-serve:cpu', dir: () => K8S },
  { name: 'GPU (docker/k8s + gpu-patch.yaml)', image: 'unimed-serve:gpu', dir: gpuOverlay },
]) {
  t.test(`the ${variant.name} pod runs as its image's numeric non-root user`, async (t) => {
    const kubectl = requireTool(t, 'kubectl', 'kubectl with its built-in kustomize, e.g. from pkgs.k8s.io');
    if (!kubectl) return;
    const dir = variant.dir();
    if (dir !== K8S) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const { stdout: rendered } = await execFileAsync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
    const docs = parseAllDocuments(rendered).map((doc) => doc.toJS() as Workload);
    const workloads = docs.filter((doc) => doc.spec?.template !== undefined);
    t.same(workloads.map((w) => `${w.kind}/${w.metadata.name}`), ['Deployment/unimed-serve'], 'one workload');
    for (const workload of workloads) {
      const pod = workload.spec!.template!.spec;
      const containers = [...(pod.initContainers ?? []), ...pod.containers];
      t.same(pod.containers.map((c) => c.image), [variant.image], `runs ${variant.image}`);
      if (pod.securityContext?.fsGroup !== undefined) {
        t.ok(Number.isInteger(pod.securityContext.fsGroup) && pod.securityContext.fsGroup !== 0, `fsGroup ${JSON.stringify(pod.securityContext.fsGroup)} is a non-root gid`);
      }
      for (const container of containers) {
        // A container's own securityContext overrides the pod's, field by field.
        const effective = { ...pod.securityContext, ...container.securityContext };
        const what = `${container.name} (${container.image})`;
        t.equal(effective.runAsNonRoot, true, `${what}: runAsNonRoot is true`);
        for (const field of ['runAsUser', 'runAsGroup'] as const) {
          const id = effective[field];
          t.ok(Number.isInteger(id) && id !== 0, `${what}: ${field} is set to a non-root numeric id (${JSON.stringify(id) ?? 'missing'})`);
        }
        const dockerfile = DOCKERFILES[container.image];
        if (!dockerfile) {
          t.fail(`${what}: no Dockerfile here builds ${container.image}`);
          continue;
        }
        const user = imageUser(t, dockerfile);
        if (!user) continue;
        t.equal(effective.runAsUser, user.uid, `${what}: runAsUser equals ${dockerfile}'s USER uid ${user.uid}`);
        t.equal(effective.runAsGroup, user.gid, `${what}: runAsGroup equals ${dockerfile}'s USER gid ${user.gid}`);
      }
    }
  });
}
