import { selectBatch } from './batch-selection.ts';
import type { Selectable } from './batch-selection.ts';

/** A queued item as the queue sees it: its group (the submit() call it came from) and when it arrived. */
export interface Queued<G> extends Selectable {
  group: G;
  enqueuedAt: number;
}

/**
 * The batcher's queue: items in arrival order, with their total cost kept (the queue is bounded in units:
 * tokens for texts, images for images). `onChange` hears every change of depth (the queue-depth gauge).
 */
export class WorkQueue<G, I extends Queued<G>> {
  #items: I[] = [];
  #units = 0;
  readonly #grouped: boolean;
  readonly #onChange: (items: number) => void;

  constructor(grouped: boolean, onChange: (items: number) => void) {
    this.#grouped = grouped;
    this.#onChange = onChange;
    onChange(0);
  }

  get length(): number {
    return this.#items.length;
  }

  /** The cost of everything queued. */
  get units(): number {
    return this.#units;
  }

  get oldest(): I | undefined {
    return this.#items[0];
  }

  push(items: readonly I[]): void {
    for (const item of items) {
      this.#items.push(item);
      this.#units += item.units;
    }
    this.#onChange(this.#items.length);
  }

  /** Takes every queued item of `group` out (its request failed or left). */
  remove(group: G): void {
    const kept = this.#items.filter((item) => item.group !== group);
    if (kept.length === this.#items.length) return;
    this.#set(kept);
  }

  /** Takes the next batch out (batch-selection.ts: grouping, fair shares, oldest first). */
  take(max: number): I[] {
    const { batch, rest } = selectBatch(this.#items, max, this.#grouped);
    this.#set(rest);
    return batch;
  }

  #set(items: I[]): void {
    this.#items = items;
    this.#units = items.reduce((sum, item) => sum + item.units, 0);
    this.#onChange(items.length);
  }
}
