/**
 * The text between and around `pieces` in `text`, when the pieces occur in it in order: `text`
 * equals `separators[0] + pieces[0] + separators[1] + ... + pieces[n-1] + separators[n]`.
 * Returns null when a piece is not found. Used to write a parsed row back byte for byte.
 */
export function captureSeparators(text: string, pieces: readonly string[]): string[] | null {
  const separators: string[] = [];
  let position = 0;
  for (const piece of pieces) {
    const found = text.indexOf(piece, position);
    if (found === -1) return null;
    separators.push(text.slice(position, found));
    position = found + piece.length;
  }
  separators.push(text.slice(position));
  return separators;
}

/** Interleaves `pieces` with `separators` (one more separator than pieces), the inverse of {@link captureSeparators}. */
export function applySeparators(pieces: readonly string[], separators: readonly string[]): string {
  let text = separators[0] ?? "";
  pieces.forEach((piece, index) => {
    text += piece + (separators[index + 1] ?? "");
  });
  return text;
}
