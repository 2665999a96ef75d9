/** The decode memory budget's variables (README "Limits") and the default budget sized from the container. */
import { readFileSync } from 'node:fs';
import { ConfigError, type Env, integer, MAX_TIMEOUT_MS } from './env.ts';

export interface MemoryConfig {
  /** Worst-case bytes one image's decode may hold; an image over it is refused (413) before decoding. */
  maxImageBytes: number;
  /** Bytes all decodes together may hold; undefined: sized at ready from the cgroup limit (defaultMemoryBudget). */
  budgetBytes: number | undefined;
  /** How long a decode waits for room in the budget before 503 memory_busy. */
  waitMs: number;
  /** The decompression-bomb rule: an image decoding to over `exemptBytes` may decode to at most `ratio` x its size. */
  decompression: { ratio: number; exemptBytes: number };
}

const MIB = 1024 * 1024;
/** The budget without a container memory limit. */
export const UNLIMITED_HOST_BUDGET_BYTES = 1024 * MIB;
/** Left out of the budget for what it does not count: request bodies, tensors, responses, V8's own growth. */
export const BUDGET_MARGIN_BYTES = 512 * MIB;
/** The least automatic budget, so a tight container still decodes ordinary images one at a time. */
export const MIN_AUTOMATIC_BUDGET_BYTES = 64 * MIB;
/** cgroup v1 reports "no limit" as a huge number (about 2^63 rounded to the page size). */
const V1_UNLIMITED = 2 ** 60;

export function memoryConfig(env: Env): MemoryConfig {
  const budgetBytes =
    env.MEMORY_BUDGET_BYTES === undefined || env.MEMORY_BUDGET_BYTES.trim() === '' ? undefined : integer(env, 'MEMORY_BUDGET_BYTES', 0, 1);
  // Unset, the per-image cap follows a budget set below it; an automatic budget smaller than it refuses (413)
  // what it could never hold.
  const maxImageBytes = integer(env, 'MAX_IMAGE_BYTES', Math.min(512 * MIB, budgetBytes ?? Infinity), 1);
  if (budgetBytes !== undefined && maxImageBytes > budgetBytes) {
    throw new ConfigError(
      `MAX_IMAGE_BYTES (${maxImageBytes}) must not exceed MEMORY_BUDGET_BYTES (${budgetBytes}): no such image could ever be decoded`,
    );
  }
  return {
    maxImageBytes,
    budgetBytes,
    waitMs: integer(env, 'MEMORY_WAIT_MS', 5_000, 0, MAX_TIMEOUT_MS),
    // Blank PNG, TIFF and WebP bombs measure 500:1 to millions:1 (docs/decisions.md); JPEG is exempt (limits.ts).
    decompression: {
      ratio: integer(env, 'MAX_DECOMPRESSION_RATIO', 256, 1),
      exemptBytes: integer(env, 'DECOMPRESSION_EXEMPT_BYTES', 32 * MIB, 0),
    },
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The container's memory limit in bytes (cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`); undefined when none. */
export function cgroupMemoryLimit(cgroupRoot = '/sys/fs/cgroup'): number | undefined {
  const v2 = readText(`${cgroupRoot}/memory.max`);
  const raw = v2 ?? readText(`${cgroupRoot}/memory/memory.limit_in_bytes`);
  if (raw === undefined || raw === 'max') return undefined;
  const limit = Number(raw);
  return Number.isSafeInteger(limit) && limit > 0 && limit < V1_UNLIMITED ? limit : undefined;
}

/**
 * The budget when MEMORY_BUDGET_BYTES is unset: what the container allows beyond the process as it stands at
 * ready (models loaded and warmed), less a margin for what the budget does not count; without a limit, 1 GiB.
 */
export function defaultMemoryBudget(cgroupLimit: number | undefined, rssAtReady: number): number {
  if (cgroupLimit === undefined) return UNLIMITED_HOST_BUDGET_BYTES;
  return Math.max(MIN_AUTOMATIC_BUDGET_BYTES, cgroupLimit - rssAtReady - BUDGET_MARGIN_BYTES);
}
