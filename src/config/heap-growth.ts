/**
 * V8's old generation, grown 3x past what survives a full collection (`--heap-growing-percent=200`) unless the
 * node command line sets it. With the small heap of this service (about 30 MB live) and the 16 MB young
 * generation it runs with (`--max-semi-space-size=16`), V8's own factor left less room above the live heap
 * than the young generation holds, and it then started the next full marking as soon as the last one ended:
 * under load a full collection every 0.2 s, the GC helpers' CPU 0.8-1.2 ms per image and 10-25 ms pauses of the
 * HTTP thread. At 3x, 8 full collections in 12 s where there were 35-50, and 0.18 ms per image
 * (docs/performance.md, "The front end's own limit"). The flag is read each time V8 sets the limit, so setting
 * it here, before the service allocates, applies it however node was started.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 200;

/** Sets the flag unless node's command line (`execArgv`) names it; returns whether it did. */
export function growOldGeneration(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

growOldGeneration();
