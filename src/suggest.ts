/**
 * "did you mean X?" by edit distance, as BuildKit's util/suggest does: the closest candidate
 * (case-insensitive Levenshtein distance) wins when it is close enough to be a typo.
 */

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `value`, mirroring BuildKit's util/suggest.Search: distances are
 * compared case-insensitively unless `caseSensitive`; a candidate qualifies below distance 3
 * (the first of equally close ones wins); an exact match means there is nothing to suggest;
 * the suggestion takes the case of what the user wrote (all lower or all upper).
 */
export function closest(value: string, candidates: Iterable<string>, caseSensitive = false): string | undefined {
  const v = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let minDistance = 3;
  for (const candidate of candidates) {
    const c = caseSensitive ? candidate : candidate.toLowerCase();
    if (c === v) return undefined;
    const d = editDistance(v, c);
    if (d < minDistance) {
      match = caseSensitive ? candidate : matchCase(c, value);
      minDistance = d;
    }
  }
  return match;
}

function matchCase(lower: string, original: string): string {
  if (original === original.toLowerCase()) return lower;
  if (original === original.toUpperCase()) return lower.toUpperCase();
  return lower;
}

/** "did you mean COPY?" or undefined. */
export function didYouMean(value: string, candidates: Iterable<string>, caseSensitive = false): string | undefined {
  const match = closest(value, candidates, caseSensitive);
  return match === undefined ? undefined : `did you mean ${match}?`;
}
