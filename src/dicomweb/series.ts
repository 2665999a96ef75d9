/**
 * A series as slices: ordered by Instance Number (when every instance has one), else by the z of Image Position
 * (Patient) (when every instance has one), else as listed; then `count` of them sampled evenly, first and last
 * included. Pure functions of what was listed or uploaded.
 */

export interface OrderKey {
  instanceNumber: number | undefined;
  position: [number, number, number] | undefined;
}

/** Indices of `items` in slice order (stable: equal keys keep their listed order). */
export function sliceOrder(items: readonly OrderKey[]): number[] {
  const indices = items.map((_, i) => i);
  if (items.every((item) => item.instanceNumber !== undefined)) {
    return indices.sort((a, b) => items[a]!.instanceNumber! - items[b]!.instanceNumber! || a - b);
  }
  if (items.every((item) => item.position !== undefined)) {
    return indices.sort((a, b) => items[a]!.position![2] - items[b]!.position![2] || a - b);
  }
  return indices;
}

/** `count` positions out of `total`, evenly spread with the first and the last (the middle one for a count of 1). */
export function evenSample(total: number, count: number): number[] {
  if (count >= total) return Array.from({ length: total }, (_, i) => i);
  if (count === 1) return [Math.floor((total - 1) / 2)];
  return Array.from({ length: count }, (_, i) => Math.round((i * (total - 1)) / (count - 1)));
}
