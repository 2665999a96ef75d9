/**
 * External programs in tests. The rule: `npm test` needs only Node and `npm ci`, so a test that needs another
 * program skips, naming the program, when it is missing; under CI (`CI=true`) a missing program is a failure,
 * so that CI never passes by skipping.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Test } from 'tap';

/** The executable file `command` resolves to on PATH (or the path itself when it contains a slash), if any. */
export function findTool(command: string): string | undefined {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * The path of `command`, or `undefined` after marking the test: skipped outside CI, failed under `CI=true`.
 * Call it first in an async subtest, before any assertion (the skip is a plan of 0), and return when it gives
 * nothing.
 * `install` says how to get the program, e.g. 'apt-get install kubectl'.
 */
export function requireTool(t: Test, command: string, install: string): string | undefined {
  const path = findTool(command);
  if (path !== undefined) return path;
  const message = `${command} is not installed (${install})`;
  if (process.env.CI === 'true') t.fail(`${message}; CI=true, so a missing tool fails instead of skipping`);
  else t.plan(0, message);
  return undefined;
}

/** What a whole suite does when programs it needs are missing: the same rule as requireTool, for a runner. */
export function missingToolsVerdict(missing: { command: string; install: string }[]): { fail: boolean; message: string } | undefined {
  if (missing.length === 0) return undefined;
  const list = missing.map((m) => `${m.command} (${m.install})`).join(', ');
  const fail = process.env.CI === 'true';
  return {
    fail,
    message: `${fail ? 'FAIL' : 'SKIP'}: not installed: ${list}${fail ? '; CI=true, so a missing tool fails instead of skipping' : ''}`,
  };
}
