/**
 * Which queued items form the next batch. The oldest item always goes (no starvation); with a cost (a text's
 * token count), its companions are the items closest to it in cost, so a batch pads little; the batch is then
 * ordered by cost. Returns the batch and what stays queued, in queue order.
 */
export function selectBatch<T>(queue: T[], max: number, cost?: (item: T) => number): { batch: T[]; rest: T[] } {
  let batch: T[];
  let rest: T[];
  if (queue.length <= max) {
    batch = queue;
    rest = [];
  } else if (cost === undefined) {
    batch = queue.slice(0, max);
    rest = queue.slice(max);
  } else {
    const anchor = cost(queue[0]!);
    const ranked = queue.map((item, position) => ({ position, distance: Math.abs(cost(item) - anchor) }));
    ranked.sort((a, b) => a.distance - b.distance || a.position - b.position);
    const chosen = new Set(ranked.slice(0, max).map((r) => r.position));
    batch = queue.filter((_, position) => chosen.has(position));
    rest = queue.filter((_, position) => !chosen.has(position));
  }
  if (cost !== undefined) batch.sort((a, b) => cost(a) - cost(b));
  return { batch, rest };
}
