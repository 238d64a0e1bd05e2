/**
 * Character error rate: the edit distance (insertions, deletions, substitutions) between what was
 * read and the known text, over the known text's length. Runs of whitespace count as one space.
 */
export function characterErrorRate(read: string, truth: string): number {
  const a = [...normalise(read)];
  const b = [...normalise(truth)];
  if (b.length === 0) return a.length === 0 ? 0 : 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(
        substitution,
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
      );
    }
    previous = current;
  }
  return (previous[b.length] as number) / b.length;
}

function normalise(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
