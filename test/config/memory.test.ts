// The memory budget's variables (MAX_IMAGE_BYTES, MEMORY_BUDGET_BYTES, MEMORY_WAIT_MS) and its automatic size:
// the cgroup memory limit read from real cgroup files (v2 and v1 layouts, written to a temporary root), less the
// RSS and the margin; 1 GiB without a limit. Its two phases on a real budget: sized from the process at build,
// resized at ready from the process as it is then.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import {
  BUDGET_MARGIN_BYTES,
  cgroupMemoryLimit,
  defaultMemoryBudget,
  MIN_AUTOMATIC_BUDGET_BYTES,
  UNLIMITED_HOST_BUDGET_BYTES,
} from '../../src/config/memory.ts';
import { createMemoryBudget, sizeMemoryBudgetAtReady } from '../../src/inputs/memory-budget-size.ts';

const MIB = 1024 * 1024;

t.test('defaults: 512 MiB per image, the budget sized at ready, a 5 s wait, 256:1 past 32 MiB decoded', (t) => {
  const { memory, limits } = loadConfig({});
  t.same(memory, { budgetBytes: undefined, waitMs: 5000 });
  t.same([limits.imageBytes, limits.decompression], [512 * MIB, { ratio: 256, exemptBytes: 32 * MIB }]);
  t.end();
});

t.test('each variable is read, and bad values stop the start naming the variable', (t) => {
  const { memory, limits } = loadConfig({
    MAX_IMAGE_BYTES: '1000000',
    MEMORY_BUDGET_BYTES: '3000000',
    MEMORY_WAIT_MS: '0',
    MAX_DECOMPRESSION_RATIO: '10',
    DECOMPRESSION_EXEMPT_BYTES: '0',
  });
  t.same(memory, { budgetBytes: 3_000_000, waitMs: 0 });
  t.same([limits.imageBytes, limits.decompression], [1_000_000, { ratio: 10, exemptBytes: 0 }]);
  t.throws(() => loadConfig({ MAX_DECOMPRESSION_RATIO: '0' }), /MAX_DECOMPRESSION_RATIO/);
  t.throws(() => loadConfig({ DECOMPRESSION_EXEMPT_BYTES: '-1' }), /DECOMPRESSION_EXEMPT_BYTES/);
  t.throws(() => loadConfig({ MAX_IMAGE_BYTES: '0' }), /MAX_IMAGE_BYTES/);
  t.throws(() => loadConfig({ MAX_IMAGE_BYTES: 'lots' }), ConfigError);
  t.throws(() => loadConfig({ MEMORY_BUDGET_BYTES: '-1' }), /MEMORY_BUDGET_BYTES/);
  t.throws(() => loadConfig({ MEMORY_BUDGET_BYTES: '1.5' }), /MEMORY_BUDGET_BYTES/);
  t.throws(() => loadConfig({ MEMORY_WAIT_MS: '-5' }), /MEMORY_WAIT_MS/);
  t.throws(() => loadConfig({ MEMORY_WAIT_MS: String(10 * 86_400_000) }), /MEMORY_WAIT_MS/);
  t.throws(
    () => loadConfig({ MAX_IMAGE_BYTES: '2000', MEMORY_BUDGET_BYTES: '1000' }),
    /MAX_IMAGE_BYTES \(2000\) must not exceed MEMORY_BUDGET_BYTES \(1000\)/,
  );
  t.equal(
    loadConfig({ MEMORY_BUDGET_BYTES: String(100 * MIB) }).limits.imageBytes,
    100 * MIB,
    'unset, the per-image cap follows a smaller budget',
  );
  t.end();
});

/** A cgroup root holding `files` (path -> content), removed after the test. */
function cgroupRoot(t: Test, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'unimed-cgroup-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), `${content}\n`);
  }
  return root;
}

t.test('the cgroup memory limit: v2 memory.max, else v1 memory.limit_in_bytes; none when unlimited or absent', (t) => {
  t.equal(cgroupMemoryLimit(cgroupRoot(t, { 'memory.max': String(4 * 1024 * MIB) })), 4 * 1024 * MIB);
  t.equal(cgroupMemoryLimit(cgroupRoot(t, { 'memory.max': 'max' })), undefined, 'v2 without a limit');
  t.equal(cgroupMemoryLimit(cgroupRoot(t, { 'memory/memory.limit_in_bytes': String(2 * 1024 * MIB) })), 2 * 1024 * MIB);
  t.equal(
    cgroupMemoryLimit(cgroupRoot(t, { 'memory/memory.limit_in_bytes': '9223372036854771712' })),
    undefined,
    'v1 reports no limit as ~2^63',
  );
  t.equal(cgroupMemoryLimit(cgroupRoot(t, {})), undefined, 'no cgroup files at all');
  t.equal(cgroupMemoryLimit(cgroupRoot(t, { 'memory.max': 'garbage' })), undefined);
  t.end();
});

t.test('the automatic budget: limit less RSS at ready less the margin, at least the floor; 1 GiB without a limit', (t) => {
  const limit = 4 * 1024 * MIB;
  const rss = 1300 * MIB;
  t.equal(defaultMemoryBudget(limit, rss), limit - rss - BUDGET_MARGIN_BYTES);
  t.equal(
    defaultMemoryBudget(limit, limit),
    MIN_AUTOMATIC_BUDGET_BYTES,
    'a container already full still decodes one ordinary image at a time',
  );
  t.equal(defaultMemoryBudget(undefined, rss), UNLIMITED_HOST_BUDGET_BYTES);
  t.equal(UNLIMITED_HOST_BUDGET_BYTES, 1024 * MIB);
  t.end();
});

/** `work` run between two readings of the RSS, so that what it measured lies between them. */
function bracketed<T>(work: () => T): { result: T; rssBefore: number; rssAfter: number } {
  const rssBefore = process.memoryUsage.rss();
  const result = work();
  return { result, rssBefore, rssAfter: process.memoryUsage.rss() };
}

t.test('the budget in its two phases: provisional at build, resized from the RSS at ready (inputs/memory-budget-size.ts)', (t) => {
  const limit = 64 * 1024 * MIB;
  const root = cgroupRoot(t, { 'memory.max': String(limit) });
  const gauge: number[] = [];
  const memory = loadConfig({ MEMORY_WAIT_MS: '0' }).memory;
  const built = bracketed(() => createMemoryBudget(memory, (_reserved, limitBytes) => gauge.push(limitBytes), root));
  const budget = built.result;
  t.ok(
    budget.limitBytes <= defaultMemoryBudget(limit, built.rssBefore) && budget.limitBytes >= defaultMemoryBudget(limit, built.rssAfter),
    'at build: the container limit less the RSS then, less the margin',
  );
  const provisional = budget.limitBytes;
  // The models, as far as the RSS can tell: 256 MiB written, so the pages are resident.
  const models = Buffer.alloc(256 * MIB).fill(1);
  const ready = bracketed(() => sizeMemoryBudgetAtReady(budget, memory, root));
  t.ok(
    budget.limitBytes <= defaultMemoryBudget(limit, ready.rssBefore) && budget.limitBytes >= defaultMemoryBudget(limit, ready.rssAfter),
    'at ready: the container limit less the RSS now',
  );
  t.ok(
    provisional - budget.limitBytes >= 200 * MIB,
    `at ready the budget leaves the loaded models out (${(provisional - budget.limitBytes) / MIB} MiB less)`,
  );
  t.same(gauge, [provisional, budget.limitBytes], 'the gauge follows both phases');
  t.equal(models[models.length - 1], 1);
  t.end();
});

t.test('the budget in its two phases: MEMORY_BUDGET_BYTES throughout; 1 GiB on a host without a limit', (t) => {
  const root = cgroupRoot(t, { 'memory.max': String(64 * 1024 * MIB) });
  const set = loadConfig({ MEMORY_BUDGET_BYTES: String(300 * MIB) }).memory;
  const fixed = createMemoryBudget(set, undefined, root);
  t.equal(fixed.limitBytes, 300 * MIB, 'at build');
  sizeMemoryBudgetAtReady(fixed, set, root);
  t.equal(fixed.limitBytes, 300 * MIB, 'at ready: a set budget is not resized');
  const unlimited = cgroupRoot(t, { 'memory.max': 'max' });
  const automatic = loadConfig({}).memory;
  const host = createMemoryBudget(automatic, undefined, unlimited);
  t.equal(host.limitBytes, UNLIMITED_HOST_BUDGET_BYTES, 'at build');
  sizeMemoryBudgetAtReady(host, automatic, unlimited);
  t.equal(host.limitBytes, UNLIMITED_HOST_BUDGET_BYTES, 'at ready');
  t.end();
});
