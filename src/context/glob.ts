/**
 * Go's `path/filepath.Match` on Linux, written anew in TypeScript: COPY/ADD source wildcards
 * are matched with it (fsutil copy and BuildKit contenthash), and patternmatcher uses it to
 * validate .dockerignore patterns.
 *
 *     pattern: { term }
 *     term:    '*'  any sequence of non-`/` characters
 *              '?'  any single non-`/` character
 *              '[' [ '^' ] { range } ']'  a character class (must be non-empty)
 *              c    matches character c (c != '*', '?', '\\', '[')
 *              '\\' c  matches character c
 *     range:   c | c '-' c   (c != '\\', '-', ']' unless escaped)
 *
 * Only `^` negates a class: `[!a]` is the class of `!` and `a`, as in Go (not as in shells).
 * Like Go ≥ 1.16 the whole pattern is validated, even when an early part fails to match.
 */

/** A syntax error in a wildcard pattern (Go's `filepath.ErrBadPattern`). */
export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
  constructor(readonly pattern: string, readonly reason: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

type CodePoints = readonly string[];

interface ChunkResult {
  rest: CodePoints | undefined; // undefined: no match
}

/** Splits off the next chunk: leading stars, then everything up to the next star outside a class. */
function scanChunk(pattern: CodePoints): { star: boolean; chunk: CodePoints; rest: CodePoints } {
  let i = 0;
  let star = false;
  while (i < pattern.length && pattern[i] === '*') {
    i++;
    star = true;
  }
  const p = pattern.slice(i);
  let inRange = false;
  let j = 0;
  scan: for (; j < p.length; j++) {
    switch (p[j]) {
      case '\\':
        if (j + 1 < p.length) j++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, j), rest: p.slice(j) };
}

/** Reads one possibly escaped character of a class; throws on `-`, `]`, or a dangling end. */
function getEsc(pattern: string, chunk: CodePoints, i: number): { c: string; next: number } {
  let k = i;
  if (k >= chunk.length) throw new BadPatternError(pattern, 'unterminated character class');
  if (chunk[k] === '-' || chunk[k] === ']') throw new BadPatternError(pattern, 'bad character class');
  if (chunk[k] === '\\') {
    k++;
    if (k >= chunk.length) throw new BadPatternError(pattern, 'trailing backslash in character class');
  }
  const c = chunk[k]!;
  k++;
  if (k >= chunk.length) throw new BadPatternError(pattern, 'unterminated character class');
  return { c, next: k };
}

function cp(c: string): number {
  return c.codePointAt(0)!;
}

/**
 * Matches `chunk` (no unbracketed stars) at the start of `s`. Returns the rest of `s` on a match.
 * Keeps scanning the chunk after a failure so that syntax errors are always reported.
 */
function matchChunk(pattern: string, chunk: CodePoints, s: CodePoints): ChunkResult {
  let failed = false;
  let si = 0;
  let ci = 0;
  while (ci < chunk.length) {
    if (!failed && si >= s.length) failed = true;
    const c = chunk[ci]!;
    if (c === '[') {
      let r = -1;
      if (!failed) r = cp(s[si++]!);
      ci++;
      let negated = false;
      if (ci < chunk.length && chunk[ci] === '^') {
        negated = true;
        ci++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (ci < chunk.length && chunk[ci] === ']' && nrange > 0) {
          ci++;
          break;
        }
        const lo = getEsc(pattern, chunk, ci);
        ci = lo.next;
        let hi = lo.c;
        if (chunk[ci] === '-') {
          const h = getEsc(pattern, chunk, ci + 1);
          ci = h.next;
          hi = h.c;
        }
        if (cp(lo.c) <= r && r <= cp(hi)) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[si] === '/') failed = true;
        si++;
      }
      ci++;
    } else {
      let lit = c;
      if (c === '\\') {
        ci++;
        if (ci >= chunk.length) throw new BadPatternError(pattern, 'trailing backslash');
        lit = chunk[ci]!;
      }
      if (!failed) {
        if (lit !== s[si]) failed = true;
        si++;
      }
      ci++;
    }
  }
  return { rest: failed ? undefined : s.slice(si) };
}

/**
 * Go's `filepath.Match(pattern, name)`: true when the whole `name` matches. Throws
 * `BadPatternError` for a malformed pattern.
 */
export function matchGlob(pattern: string, name: string): boolean {
  let pat: CodePoints = Array.from(pattern);
  let s: CodePoints = Array.from(name);
  outer: while (pat.length > 0) {
    const { star, chunk, rest } = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) {
      // A trailing star matches the rest of the name if it holds no separator.
      return !s.includes('/');
    }
    const m = matchChunk(pattern, chunk, s);
    if (m.rest !== undefined && (m.rest.length === 0 || pat.length > 0)) {
      s = m.rest;
      continue;
    }
    if (star) {
      // Try letting the star eat more characters (never a separator).
      for (let i = 0; i < s.length && s[i] !== '/'; i++) {
        const t = matchChunk(pattern, chunk, s.slice(i + 1));
        if (t.rest !== undefined) {
          if (pat.length === 0 && t.rest.length > 0) continue;
          s = t.rest;
          continue outer;
        }
      }
    }
    // Report syntax errors in the rest of the pattern before answering "no match".
    while (pat.length > 0) {
      const next = scanChunk(pat);
      pat = next.rest;
      matchChunk(pattern, next.chunk, []);
    }
    return false;
  }
  return s.length === 0;
}

/** Throws `BadPatternError` when `pattern` is not a valid `filepath.Match` pattern. */
export function validateGlob(pattern: string): void {
  matchGlob(pattern, '.');
}

/**
 * BuildKit's `containsWildcards` (fsutil copy, contenthash, llbsolver): `*`, `?` or `[`
 * outside a backslash escape. A source without one is a literal path — looked up as written,
 * backslashes included.
 */
export function hasWildcards(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 42 /* * */ || c === 63 /* ? */ || c === 91 /* [ */) return true;
  }
  return false;
}

/**
 * fsutil/contenthash `splitWildcards` on a relative path: the components before the first one
 * holding a wildcard (a literal directory, resolved through symlinks), and the rest (matched
 * against paths below it). `a/b/*.go/c` → [`a/b`, `*.go/c`].
 */
export function splitWildcards(p: string): [literal: string, pattern: string] {
  const parts = p === '' ? [] : p.split('/');
  const i = parts.findIndex((part) => hasWildcards(part));
  if (i === -1) return [parts.join('/'), ''];
  return [parts.slice(0, i).join('/'), parts.slice(i).join('/')];
}
