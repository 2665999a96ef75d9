// test/helpers/tools.ts carries the rule for external programs: a missing one skips the test outside CI and fails
// it under CI=true. Checked on real tap runs of a small test in a child Node process.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/common.ts';
import { findTool } from '../helpers/tools.ts';

const HELPER = pathToFileURL(join(ROOT, 'test/helpers/tools.ts')).href;

/** Runs a one-subtest tap file that needs `command`, outside this runner's environment. */
function runNeeding(command: string, ci: boolean): { status: number | null; out: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TAP|_TAPJS|NODE_OPTIONS$|CI$)/.test(k)));
  if (ci) env.CI = 'true';
  const code = `
    import t from 'tap';
    import { requireTool } from ${JSON.stringify(HELPER)};
    t.test('needs ${command}', async (t) => {
      if (!requireTool(t, ${JSON.stringify(command)}, 'apt-get install it')) return;
      t.pass('ran with ${command}');
    });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const MISSING = 'unimed-no-such-tool';

t.test('findTool finds programs on PATH and nothing else', (t) => {
  t.type(findTool('node'), 'string', 'node is found on PATH');
  t.equal(findTool(process.execPath), process.execPath, 'a path is taken as it is');
  t.equal(findTool(MISSING), undefined, 'a missing program is not found');
  t.equal(findTool(ROOT), undefined, 'a directory is not a program');
  t.end();
});

t.test('a missing tool skips outside CI, naming the tool', (t) => {
  const r = runNeeding(MISSING, false);
  t.equal(r.status, 0, 'the run passes');
  t.match(r.out, `# SKIP ${MISSING} is not installed (apt-get install it)`, 'the subtest is skipped with the reason');
  t.end();
});

t.test('a missing tool fails under CI=true', (t) => {
  const r = runNeeding(MISSING, true);
  t.not(r.status, 0, 'the run fails');
  t.match(r.out, `not ok 1 - ${MISSING} is not installed`, 'the failure names the tool');
  t.end();
});

t.test('a present tool runs the test, in and outside CI', (t) => {
  for (const ci of [false, true]) {
    const r = runNeeding('node', ci);
    t.equal(r.status, 0, `CI=${ci}: the run passes`);
    t.match(r.out, 'ok 1 - ran with node', `CI=${ci}: the test body ran`);
  }
  t.end();
});
