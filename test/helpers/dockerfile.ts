/** The images' USER as their Dockerfiles say it (test/deploy-manifests.test.ts, test/integration/deploy-manifests.test.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './common.ts';

/** The image each Dockerfile builds, as its header comment says. */
export const DOCKERFILES: Record<string, string> = {
  'unimed-serve:cpu': 'docker/Dockerfile',
  'unimed-serve:gpu': 'docker/Dockerfile.gpu',
};

/** The argument of the final stage's last USER instruction, or undefined when that stage has none (root). */
export function finalUser(text: string): string | undefined {
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
export function imageUser(t: Test, dockerfile: string): { uid: number; gid: number } | undefined {
  const user = finalUser(readFileSync(join(ROOT, dockerfile), 'utf8'));
  const m = /^(\d+):(\d+)$/.exec(user ?? '');
  if (!m) {
    t.fail(`${dockerfile}: the final stage's USER must be a numeric uid:gid, not ${user === undefined ? 'missing (root)' : `"${user}"`}`);
    return undefined;
  }
  return { uid: Number(m[1]), gid: Number(m[2]) };
}
