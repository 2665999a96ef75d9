/**
 * Runs `work` on every item with at most `limit` running at once, in item order. A thrown error is fatal: no
 * new item starts, the running ones finish, and the first error is rethrown. (Per-item failures that should
 * not stop the run are the caller's to catch and record.)
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runner = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, runner));
  if (failure !== undefined) throw failure.error;
}
