import { availableParallelism } from 'node:os';
import { systemFileText } from './config/env.ts';

/**
 * CPUs this process may really use: the cgroup quota when a container sets one (v2 `cpu.max`, v1
 * `cpu.cfs_quota_us`/`cpu.cfs_period_us`), otherwise the CPUs the scheduler gives us. A pod with a 2-CPU limit
 * on a 64-core node must size its thread pools for 2, not 64. The root argument exists for tests.
 */
export function cpuQuota(cgroupRoot = '/sys/fs/cgroup'): number {
  const cpus = availableParallelism();
  const v2 = systemFileText(`${cgroupRoot}/cpu.max`);
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    if (quota !== undefined && quota !== 'max' && period !== undefined) {
      const limit = Number(quota) / Number(period);
      if (Number.isFinite(limit) && limit > 0) return Math.max(1, Math.min(cpus, Math.floor(limit)));
    }
    return cpus;
  }
  const quota = Number(systemFileText(`${cgroupRoot}/cpu/cpu.cfs_quota_us`));
  const period = Number(systemFileText(`${cgroupRoot}/cpu/cpu.cfs_period_us`));
  if (quota > 0 && period > 0) return Math.max(1, Math.min(cpus, Math.floor(quota / period)));
  return cpus;
}
