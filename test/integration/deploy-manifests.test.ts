// The rendered Kubernetes manifests (`kubectl kustomize`: the CPU base, and the base plus gpu-patch.yaml) run
// each container as its image's numeric non-root uid:gid (test/helpers/dockerfile.ts reads the Dockerfiles; the
// Dockerfile checks themselves are in test/deploy-manifests.test.ts). Needs kubectl with its built-in kustomize.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/common.ts';
import { DOCKERFILES, imageUser } from '../helpers/dockerfile.ts';
import { requireTool } from '../helpers/tools.ts';

const execFileAsync = promisify(execFile);
const K8S = join(ROOT, 'docker/k8s');

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

/** A kustomization in a temp dir with the base and gpu-patch.yaml applied (kustomize loads patches only from
 * under its own root, so the patch is copied there; the base is referenced in place). `bases` and
 * `patchesStrategicMerge`: the spelling both Debian 12's kubectl 1.20 (kustomize v2) and current kubectl read. */
function gpuOverlay(): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-k8s-gpu-'));
  copyFileSync(join(K8S, 'gpu-patch.yaml'), join(dir, 'gpu-patch.yaml'));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases:\n  - ${relative(dir, K8S)}\npatchesStrategicMerge:\n  - gpu-patch.yaml\n`,
  );
  return dir;
}

for (const variant of [
  { name: 'CPU (docker/k8s)', image: 'unimed-serve:cpu', dir: () => K8S },
  { name: 'GPU (docker/k8s + gpu-patch.yaml)', image: 'unimed-serve:gpu', dir: gpuOverlay },
]) {
  t.test(`the ${variant.name} pod runs as its image's numeric non-root user`, async (t) => {
    const kubectl = requireTool(t, 'kubectl', 'apt-get install kubernetes-client, or kubectl from pkgs.k8s.io');
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
