/**
 * VOI functions (DICOM PS3.3 C.11.2.1.2) and the robust percentile window, shared by DICOM and by high-bit-depth
 * PNG/TIFF. Each maps a modality value to [0, 1]; callers scale to 8 bits once, at the end.
 */

export type VoiMap = (x: number) => number;

/** LINEAR, PS3.3 C.11.2.1.2.1: the -0.5 / -1 offsets make a width of N cover exactly N input values. */
export function linear(center: number, width: number): VoiMap {
  const c = center - 0.5;
  const w = width - 1;
  const low = c - w / 2;
  const high = c + w / 2;
  return (x) => (x <= low ? 0 : x > high ? 1 : (x - c) / w + 0.5);
}

/** LINEAR_EXACT, PS3.3 C.11.2.1.3.2. */
export function linearExact(center: number, width: number): VoiMap {
  const low = center - width / 2;
  const high = center + width / 2;
  return (x) => (x <= low ? 0 : x > high ? 1 : (x - center) / width + 0.5);
}

/** SIGMOID, PS3.3 C.11.2.1.3.1. */
export function sigmoid(center: number, width: number): VoiMap {
  return (x) => 1 / (1 + Math.exp((-4 * (x - center)) / width));
}

/** Lower and upper percentiles of the robust automatic window. */
export const AUTO_WINDOW_PERCENTILES = [0.005, 0.995] as const;

/**
 * The automatic window: from the 0.5th to the 99.5th percentile of the (non-padding) values, nearest rank
 * taken downwards (numpy's method='lower'), so a few hot or dead pixels do not flatten the contrast.
 * `values` are the distinct values in any order with their counts. Returns center/width for LINEAR_EXACT.
 */
export function percentileWindow(values: ArrayLike<number>, counts: ArrayLike<number>): { center: number; width: number } | null {
  // Indexes of the values present, in a typed array: one per distinct value, up to one per pixel.
  const present = new Uint32Array(values.length);
  let m = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0) {
      present[m++] = i;
      n += c;
    }
  }
  if (n === 0) return null;
  const order = present.subarray(0, m).sort((a, b) => (values[a] ?? 0) - (values[b] ?? 0));
  const [qLow, qHigh] = AUTO_WINDOW_PERCENTILES;
  const rankLow = Math.floor(qLow * (n - 1));
  const rankHigh = Math.floor(qHigh * (n - 1));
  let low = NaN;
  let high = NaN;
  let seen = 0;
  for (const i of order) {
    const next = seen + (counts[i] ?? 0);
    if (Number.isNaN(low) && rankLow < next) low = values[i] ?? 0;
    if (rankHigh < next) {
      high = values[i] ?? 0;
      break;
    }
    seen = next;
  }
  // A flat image gets a width of 1 around its one value: mid grey, not a division by zero.
  const width = high - low;
  return { center: (low + high) / 2, width: width > 0 ? width : 1 };
}

/** Distinct values and counts of an arbitrary numeric array (sorting a copy); for data too wide for a histogram. */
export function distinctCounts(
  data: ArrayLike<number>,
  include: (i: number) => boolean = () => true,
): { values: Float64Array; counts: Float64Array } {
  // Typed arrays sized up front (the memory budget counts them: cost.ts, image-cost.ts), sorted in place.
  const kept = new Float64Array(data.length);
  let n = 0;
  for (let i = 0; i < data.length; i++) if (include(i)) kept[n++] = data[i] ?? 0;
  const sorted = kept.subarray(0, n).sort();
  const values = new Float64Array(n);
  const counts = new Float64Array(n);
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i] ?? 0;
    if (distinct > 0 && values[distinct - 1] === v) counts[distinct - 1]! += 1;
    else {
      values[distinct] = v;
      counts[distinct++] = 1;
    }
  }
  return { values: values.subarray(0, distinct), counts: counts.subarray(0, distinct) };
}

export function to8bit(v: number): number {
  const y = Math.round(v * 255);
  return y < 0 ? 0 : y > 255 ? 255 : y;
}
