/**
 * Path helpers with Go's semantics, for slash-separated paths relative to a build context.
 * BuildKit, fsutil and patternmatcher are written in Go; where they call `filepath.Clean` or
 * `strings.TrimSpace` we must do exactly the same, or patterns and paths stop agreeing.
 */

/**
 * Go's `filepath.Clean` for `/`-separated paths: collapses `//`, drops `.` elements, resolves
 * `..` lexically (a rooted path cannot climb above `/`), drops a trailing `/`, and returns `.`
 * for an empty result. `foo/` → `foo`, `./a` → `a`, `a/../b` → `b`, `/..` → `/`, `a/../..` → `..`.
 */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.charCodeAt(0) === 47;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/**
 * A path given relative to the context root, clamped inside it as BuildKit does for COPY/ADD
 * sources (`system.NormalizePath("/", src)` = `path.Join("/", src)`): `..` cannot leave the root
 * and a leading `/` means the root. Returns the relative form: `''` for the root itself.
 */
export function clampToRoot(p: string): string {
  const cleaned = cleanPath('/' + p);
  return cleaned === '/' ? '' : cleaned.slice(1);
}

/** Go's `unicode.IsSpace`, which `strings.TrimSpace` uses (JS `trim()` differs: it trims U+FEFF but not U+0085). */
function isGoSpace(c: number): boolean {
  switch (c) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

/** Go's `strings.TrimSpace`. */
export function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/** Code-unit → a key that orders like the code point (and so like UTF-8 bytes). */
function orderKey(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/**
 * The order of entries in a context: component by component, each compared by its UTF-8 bytes —
 * i.e. byte order of the path with `/` sorting before every other byte. This is the order of Go's
 * `filepath.WalkDir` (which fsutil uses to send a context) and of BuildKit's contenthash keys
 * (which replace `/` by NUL), so a directory always comes right before its own contents:
 * `a`, `a/b`, `a-b` (plain byte order would put `a-b` before `a/b`).
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 47) return -1;
    if (cb === 47) return 1;
    return orderKey(ca) - orderKey(cb);
  }
  return a.length - b.length;
}

/** `a/b` joined, treating `''` as the context root. */
export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** The parent of a relative path (`''` for a top-level entry). */
export function parentRel(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? '' : p.slice(0, i);
}

/** True when `p` is `dir` itself or inside it (`dir` = `''` is the root, which holds everything). */
export function isWithin(p: string, dir: string): boolean {
  return dir === '' || p === dir || (p.startsWith(dir) && p.charCodeAt(dir.length) === 47);
}
