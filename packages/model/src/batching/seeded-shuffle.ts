// Batching needs only a reproducible shuffle from (seed, epoch), with no generator state to save:
// @pqm/core's generator gives the stream, seeded by its `deriveSeed` from the run's seed and the epoch.

/** Fisher-Yates shuffle of a copy of `items`, reproducible from `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let index = out.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [out[index], out[other]] = [out[other]!, out[index]!];
  }
  return out;
}
