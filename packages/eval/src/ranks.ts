/**
 * Midranks: 1-based ranks where tied values share the mean of the ranks they span (`[10, 20, 20, 30]`
 * gives `[1, 2.5, 2.5, 4]`). The basis of the tie-correct AUROC and Spearman correlation.
 * Throws a RangeError on NaN.
 */
export function midranks(values: ArrayLike<number>): Float64Array {
  const count = values.length;
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    if (Number.isNaN(values[i])) throw new RangeError(`midranks: value ${i} is NaN`);
  }
  order.sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Float64Array(count);
  let start = 0;
  while (start < count) {
    let end = start + 1;
    while (end < count && values[order[end]!] === values[order[start]!]) end++;
    // Positions start..end-1 (0-based) hold equal values: 1-based ranks start+1..end, mean below.
    const shared = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!] = shared;
    start = end;
  }
  return ranks;
}
