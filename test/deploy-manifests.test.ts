// The images and the Kubernetes pod spec must agree on a numeric, non-root user: with `runAsNonRoot: true` the
// kubelet refuses a container whose image names its user (`USER node`) and no `runAsUser` says the uid
// (CreateContainerConfigError, "cannot verify user is non-root"). These Dockerfile checks need no tool; the
// rendered manifests are checked against them by test/integration/deploy-manifests.test.ts (kubectl kustomize).
import t from 'tap';
import { DOCKERFILES, finalUser, imageUser } from './helpers/dockerfile.ts';

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
