/**
 * The size of the service's decode memory budget, in both its phases. MEMORY_BUDGET_BYTES, when set, is the size
 * throughout. Unset, the budget is what the container allows beyond the process (config/memory.ts,
 * defaultMemoryBudget): provisional when the app is built, from the RSS then, and resized at ready, when the RSS
 * counts the loaded and warmed models.
 */
import { cgroupMemoryLimit, defaultMemoryBudget, type MemoryConfig } from '../config/memory.ts';
import { MemoryBudget, type MemoryBudgetOptions } from './memory-budget.ts';

/** `cgroupRoot`: where the container's memory limit is read (config/memory.ts, cgroupMemoryLimit). */
function automaticSize(cgroupRoot: string | undefined): number {
  return defaultMemoryBudget(cgroupMemoryLimit(cgroupRoot), process.memoryUsage.rss());
}

/** At build: the budget at MEMORY_BUDGET_BYTES, or provisionally sized from the process as it is now. */
export function createMemoryBudget(memory: MemoryConfig, onChange?: MemoryBudgetOptions['onChange'], cgroupRoot?: string): MemoryBudget {
  return new MemoryBudget({ limitBytes: memory.budgetBytes ?? automaticSize(cgroupRoot), maxWaitMs: memory.waitMs, onChange });
}

/** At ready (models loaded and warmed): an automatic budget is resized from the process as it is now; a set one stays. */
export function sizeMemoryBudgetAtReady(budget: MemoryBudget, memory: MemoryConfig, cgroupRoot?: string): void {
  if (memory.budgetBytes === undefined) budget.setLimit(automaticSize(cgroupRoot));
}
