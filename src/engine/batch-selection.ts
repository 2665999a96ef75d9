/** What the selection needs of a queued item: whose it is, and (for grouping) what it costs. */
export interface Selectable {
  /** The request (or API key) the item belongs to: an opaque key compared by identity. */
  owner: unknown;
  /** Its cost in the encoder's unit (a text's tokens); 1 for an image. */
  units: number;
}

/**
 * Which queued items form the next batch. The oldest item always goes (no starvation). With `grouped` (texts),
 * its companions are the items closest to it in cost, so a batch pads little; otherwise they are the next oldest.
 * Within that order no owner gets more than its fair share, ceil(max / owners waiting), while others wait; the
 * rest of the batch is filled, in the same order, only when no one else has anything left to give. A grouped
 * batch is then ordered by cost. Returns the batch and what stays queued, in queue order.
 */
export function selectBatch<T extends Selectable>(queue: T[], max: number, grouped: boolean): { batch: T[]; rest: T[] } {
  let batch: T[];
  let rest: T[];
  if (queue.length <= max) {
    batch = queue;
    rest = [];
  } else {
    const order = preference(queue, grouped);
    const share = Math.ceil(max / new Set(queue.map((item) => item.owner)).size);
    const taken = new Map<unknown, number>();
    const chosen = new Set<number>();
    for (const position of order) {
      if (chosen.size === max) break;
      const owner = queue[position]!.owner;
      const count = taken.get(owner) ?? 0;
      if (count < share) {
        chosen.add(position);
        taken.set(owner, count + 1);
      }
    }
    for (const position of order) {
      if (chosen.size === max) break;
      chosen.add(position);
    }
    batch = queue.filter((_, position) => chosen.has(position));
    rest = queue.filter((_, position) => !chosen.has(position));
  }
  if (grouped) batch.sort((a, b) => a.units - b.units);
  return { batch, rest };
}

/** Queue positions in the order they should join the oldest item's batch. */
function preference(queue: readonly Selectable[], grouped: boolean): number[] {
  if (!grouped) return queue.map((_, position) => position);
  const anchor = queue[0]!.units;
  const ranked = queue.map((item, position) => ({ position, distance: Math.abs(item.units - anchor) }));
  ranked.sort((a, b) => a.distance - b.distance || a.position - b.position);
  return ranked.map((r) => r.position);
}
