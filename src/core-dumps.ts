import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** This process's core-file size limit (RLIMIT_CORE) as /proc/self/limits shows it; undefined where there is no /proc. */
export function coreFileLimit(limitsText?: string): { soft: string; hard: string } | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(text);
  return match === null ? undefined : { soft: match[1]!, hard: match[2]! };
}

export type CoreDumps = { state: 'off' } | { state: 'on'; soft: string; reason: string } | { state: 'unknown' };

/**
 * Turns core dumps off for this process (a core file would hold the images and texts in memory: patient data on
 * disk). Node has no setrlimit, so util-linux's prlimit(1) lowers this process's RLIMIT_CORE to 0 (soft and
 * hard, so nothing started later raises it again); then /proc/self/limits is read back to verify. Where prlimit
 * is missing or refused, `ulimit -c 0` before starting does the same.
 */
export function disableCoreDumps(): CoreDumps {
  const before = coreFileLimit();
  if (before === undefined) return { state: 'unknown' };
  let reason = '';
  if (before.soft !== '0' || before.hard !== '0') {
    try {
      execFileSync('prlimit', [`--pid=${process.pid}`, '--core=0:0'], { stdio: 'pipe', timeout: 10_000 });
    } catch (err) {
      reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'prlimit (util-linux) is not installed'
          : `prlimit failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
    }
  }
  const after = coreFileLimit();
  if (after?.soft === '0') return { state: 'off' };
  return { state: 'on', soft: after?.soft ?? before.soft, reason: reason || 'the limit did not change' };
}
