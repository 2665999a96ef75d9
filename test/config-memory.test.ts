// The memory budget's variables (MAX_IMAGE_BYTES, MEMORY_BUDGET_BYTES, MEMORY_WAIT_MS) and its automatic size:
// the cgroup memory limit read from real cgroup files (v2 and v1 layouts, written to a temporary root), less the
// RSS and the margin; 1 GiB without a limit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';
import {
  BUDGET_MARGIN_BYTES,
  cgroupMemoryLimit,
  defaultMemoryBudget,
  MIN_AUTOMATIC_BUDGET_BYTES,
  UNLIMITED_HOST_BUDGET_BYTES,
} from '../src/config/memory.ts';

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
