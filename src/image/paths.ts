/**
 * Path confinement: the only way a path from an archive or an image becomes a host path.
 *
 * - `confinePath(name)` cleans an entry name lexically as if it were rooted at `/`: a leading
 *   `/` or `./` is dropped and `..` never climbs above the root (`../../etc/x` → `etc/x`).
 *   containerd's archive.Apply clamps the same way (filepath.Clean of "/" + name) rather than
 *   refusing such entries; so do we.
 * - `resolveInRoot(root, path)` maps a confined path to a host path under `root`, following
 *   symlinks found in the tree as if `root` were `/` (an absolute target restarts at the root,
 *   `..` stops at the root), like containerd's continuity fs.RootPath and securejoin. The
 *   result is always inside `root`, whatever the tree contains.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join, resolve as resolveHost, sep } from 'node:path';
import { BuildImageError } from '../errors.js';

/**
 * The cleaned, root-relative form of a path: `/a/./b//c/../d/` → `a/b/d`; `..` above the root
 * is dropped; the root itself is `''`.
 */
export function confinePath(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

/** True when `name` would leave its root if taken literally (absolute, or `..` above the top). */
export function escapesRoot(name: string): boolean {
  if (name.startsWith('/')) return true;
  let depth = 0;
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}

/** The parent of a confined path (`a/b` → `a`, `a` → `''`). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last component of a confined path. */
export function basePath(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when host path `p` is `root` or inside it. */
export function isInside(root: string, p: string): boolean {
  const r = resolveHost(root);
  const q = resolveHost(p);
  return q === r || q.startsWith(r.endsWith(sep) ? r : r + sep);
}

const MAX_LINKS = 255;

/**
 * The host path of `path` inside `root`, with every symlink met on the way resolved inside
 * `root` (see the module comment). With `followFinal: false` the last component is not
 * followed (for lstat, unlink, creating the entry itself). Missing components are fine: the
 * rest of the path is appended as is. Throws `IMAGE_PATH_LOOP` after 255 symlinks.
 */
export async function resolveInRoot(root: string, path: string, options: { followFinal?: boolean } = {}): Promise<string> {
  const followFinal = options.followFinal ?? true;
  const hostRoot = resolveHost(root);
  let pending = confinePath(path).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    if (part === '.') continue;
    const candidate = join(hostRoot, ...done, part);
    const isLast = pending.length === 0;
    if (isLast && !followFinal) {
      done.push(part);
      break;
    }
    let target: string | undefined;
    try {
      const st = await lstat(candidate);
      if (st.isSymbolicLink()) target = await readlink(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new BuildImageError('IMAGE_PATH_LOOP', `too many levels of symbolic links resolving "${path}"`);
    }
    // The link target replaces this component: absolute targets restart at the root.
    const rest = target.split('/').filter((p) => p !== '' && p !== '.');
    if (target.startsWith('/')) done.length = 0;
    pending = [...rest, ...pending];
  }
  const result = join(hostRoot, ...done);
  if (!isInside(hostRoot, result)) {
    // Cannot happen: `..` pops within `done` only. Kept as a last line of defence.
    throw new BuildImageError('IMAGE_PATH_ESCAPE', `path "${path}" resolves outside of ${hostRoot}`);
  }
  return result;
}
