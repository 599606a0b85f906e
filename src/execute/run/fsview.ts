/**
 * Read-only lookups in a root filesystem that exists on disk, either as one directory
 * (`DirView`) or as the stack of overlay-format layer directories an overlay mount would merge
 * (`StackView`) — the same answers the mounted overlay gives, without mounting it:
 *
 * - layers are searched from the top; a 0/0 character device deletes the path (and whatever
 *   lower layers have below it), a non-directory hides lower layers' entries below its path,
 *   and an opaque directory hides lower layers' content of that directory;
 * - every component is checked in turn, so a symlink in a parent is never followed by the
 *   host: paths given here are already resolved (see `resolvePath`, which follows symlinks
 *   confined to the root like continuity's `fs.RootPath`).
 *
 * Paths are relative, `/`-separated, without `.`/`..` (`''` is the root).
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { compareCodePoints } from '../../image/json.js';
import type { LayerDir } from './layerdirs.js';

/** An entry found in a view: its stat and the host path that holds it. */
export interface ViewEntry {
  readonly hostPath: string;
  readonly stat: BigIntStats;
}

export interface FsView {
  /** The entry at `rel` (no symlink followed), or undefined. */
  get(rel: string): Promise<ViewEntry | undefined>;
  /** The names in directory `rel`, in byte order ([] when it is not a directory). */
  list(rel: string): Promise<string[]>;
}

export function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatOrUndefined(p: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(p, { bigint: true });
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function prefixes(rel: string): string[] {
  const parts = rel.split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** A root filesystem that is one directory. */
export class DirView implements FsView {
  private readonly cache = new Map<string, Promise<BigIntStats | undefined>>();

  constructor(
    readonly root: string,
    /** Treat 0/0 character devices as absent (an upper directory's whiteouts). */
    private readonly hideWhiteouts = false,
  ) {}

  private stat(rel: string): Promise<BigIntStats | undefined> {
    let p = this.cache.get(rel);
    if (p === undefined) {
      p = lstatOrUndefined(rel === '' ? this.root : join(this.root, rel));
      this.cache.set(rel, p);
    }
    return p;
  }

  async get(rel: string): Promise<ViewEntry | undefined> {
    const all = prefixes(rel);
    for (let i = 0; i < all.length; i++) {
      const st = await this.stat(all[i]!);
      if (st === undefined || (this.hideWhiteouts && isWhiteout(st))) return undefined;
      if (i < all.length - 1 && !st.isDirectory()) return undefined;
    }
    const st = await this.stat(rel);
    return st === undefined ? undefined : { hostPath: rel === '' ? this.root : join(this.root, rel), stat: st };
  }

  async list(rel: string): Promise<string[]> {
    const e = await this.get(rel);
    if (!e?.stat.isDirectory()) return [];
    let names = await readdir(e.hostPath);
    if (this.hideWhiteouts) {
      const keep: string[] = [];
      for (const n of names) {
        const st = await this.stat(joinRel(rel, n));
        if (st !== undefined && !isWhiteout(st)) keep.push(n);
      }
      names = keep;
    }
    return names.sort(compareCodePoints);
  }
}

/**
 * The merged view of overlay-format layer directories, `layers[0]` on TOP (the order of an
 * overlay `lowerdir=` option).
 */
export class StackView implements FsView {
  private readonly cache = new Map<string, Promise<BigIntStats | undefined>>();

  constructor(readonly layers: readonly LayerDir[]) {}

  private stat(layer: number, rel: string): Promise<BigIntStats | undefined> {
    const key = `${layer}\0${rel}`;
    let p = this.cache.get(key);
    if (p === undefined) {
      const dir = this.layers[layer]!.dir;
      p = lstatOrUndefined(rel === '' ? dir : join(dir, rel));
      this.cache.set(key, p);
    }
    return p;
  }

  /**
   * The layers that contribute to `rel`, top first, each with its stat there: the first is the
   * visible entry; more follow only while all are non-opaque directories.
   */
  private async providers(rel: string): Promise<{ layer: number; stat: BigIntStats }[]> {
    const all = prefixes(rel);
    const out: { layer: number; stat: BigIntStats }[] = [];
    if (all.length === 0) {
      // The root: every layer's root directory merges.
      for (let i = 0; i < this.layers.length; i++) {
        const st = await this.stat(i, '');
        if (st !== undefined) out.push({ layer: i, stat: st });
      }
      return out;
    }
    for (let i = 0; i < this.layers.length; i++) {
      let hiddenBelow = false;
      let found: BigIntStats | undefined;
      for (let k = 0; k < all.length; k++) {
        const p = all[k]!;
        const st = await this.stat(i, p);
        if (st === undefined) break;
        if (isWhiteout(st)) return out; // deleted here: nothing lower shows
        if (k === all.length - 1) {
          found = st;
          break;
        }
        if (!st.isDirectory()) return out; // a file hides everything below its path
        if (this.layers[i]!.opaque.has(p)) hiddenBelow = true;
      }
      if (found !== undefined) {
        if (out.length > 0 && !found.isDirectory()) return out; // a lower non-dir under a dir: hidden
        out.push({ layer: i, stat: found });
        if (!found.isDirectory() || this.layers[i]!.opaque.has(rel)) return out;
      }
      if (hiddenBelow) return out;
    }
    return out;
  }

  async get(rel: string): Promise<ViewEntry | undefined> {
    const top = (await this.providers(rel))[0];
    if (top === undefined) return undefined;
    const dir = this.layers[top.layer]!.dir;
    return { hostPath: rel === '' ? dir : join(dir, rel), stat: top.stat };
  }

  async list(rel: string): Promise<string[]> {
    const providers = await this.providers(rel);
    if (providers.length === 0 || !providers[0]!.stat.isDirectory()) return [];
    const seen = new Set<string>();
    const names: string[] = [];
    for (const p of providers) {
      const dir = this.layers[p.layer]!.dir;
      for (const n of await readdir(rel === '' ? dir : join(dir, rel))) {
        if (seen.has(n)) continue;
        seen.add(n);
        const st = await this.stat(p.layer, joinRel(rel, n));
        if (st !== undefined && !isWhiteout(st)) names.push(n);
      }
    }
    return names.sort(compareCodePoints);
  }
}

const MAX_LINKS = 255;

/**
 * `path` with its symlinks followed inside the view, as if its root were `/` (continuity's
 * `fs.RootPath`): `..` stops at the root, absolute targets restart there; missing components
 * are kept as written. `followFinal: false` leaves a final symlink alone.
 */
export async function resolvePath(view: FsView, path: string, options: { followFinal?: boolean } = {}): Promise<string> {
  const followFinal = options.followFinal ?? true;
  let pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, part].join('/');
    if (pending.length === 0 && !followFinal) {
      done.push(part);
      break;
    }
    const e = await view.get(candidate);
    if (!e?.stat.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new BuildImageError('RUN_SYMLINK_LOOP', `too many levels of symbolic links resolving "${path}"`);
    }
    const target = await readlink(e.hostPath);
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
  }
  return done.join('/');
}

/** A small regular file of the view (symlinks followed), or undefined. */
export async function readViewFile(view: FsView, path: string, maxBytes = 10 << 20): Promise<Buffer | undefined> {
  const rel = await resolvePath(view, path);
  const e = await view.get(rel);
  if (!e?.stat.isFile()) return undefined;
  if (e.stat.size > BigInt(maxBytes)) {
    throw new BuildImageError('RUN_USER_FILE_TOO_LARGE', `"/${rel}" exceeds ${maxBytes} bytes`);
  }
  return readFile(e.hostPath);
}
