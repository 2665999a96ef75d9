/** The decode memory budget's variables (docs/configuration.md "Limits") and the default budget sized from the container. */
import { duration, type Env, optionalInteger, systemFileText } from './env.ts';

export interface MemoryConfig {
  /** Bytes all decodes together may hold; undefined: sized from the cgroup limit (defaultMemoryBudget; inputs/memory-budget-size.ts). */
  budgetBytes: number | undefined;
  /** How long a decode waits for room in the budget before 503 memory_busy. */
  waitMs: number;
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
  return {
    budgetBytes: optionalInteger(env, 'MEMORY_BUDGET_BYTES', 1),
    waitMs: duration(env, 'MEMORY_WAIT_MS', 5_000, 0),
  };
}

/** The container's memory limit in bytes (cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`); undefined when none. */
export function cgroupMemoryLimit(cgroupRoot = '/sys/fs/cgroup'): number | undefined {
  const v2 = systemFileText(`${cgroupRoot}/memory.max`);
  const raw = v2 ?? systemFileText(`${cgroupRoot}/memory/memory.limit_in_bytes`);
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
