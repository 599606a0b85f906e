/**
 * What a RUN changed, as a layer: two differs that give the same changes, and containerd's
 * ChangeWriter that turns changes into tar entries.
 *
 * - `overlayChanges` (BuildKit util/overlay/overlay_linux.go `Changes`): walks only the overlay
 *   upper directory, so its cost follows what the step changed, not the image size. A 0/0
 *   device is a deletion (skipped when the base has no such path); an entry the base has is a
 *   modification unless `sameEntry` finds nothing changed (metadata-only copy-ups, parents
 *   copied up for a child); an opaque directory that the base has is diffed against the base
 *   with the walking differ. A directory with an overlay `redirect` xattr fails, as BuildKit's
 *   does (we mount with `redirect_dir=off`, so none should appear).
 * - `walkChanges` (continuity fs/diff.go double walk): compares two whole trees, for the
 *   copying snapshotter when overlayfs is not available.
 * - Both then pass through `collapseOpaque`: where a step deleted EVERY entry a base directory
 *   had (e.g. `rm -rf d && mkdir d`), one `.wh..wh..opq` replaces the per-entry whiteouts.
 *   This is where we differ from BuildKit, which writes one `.wh.<name>` per deleted entry:
 *   the unpacked trees are the same, the layer says it in one entry, and both differs agree.
 * - `changeEntries` (containerd pkg/archive ChangeWriter): a deletion becomes `.wh.<name>`
 *   (mode 0, owner 0:0, mtime 0); other changes are written from the new tree with their
 *   metadata (uid/gid numeric, mtime in seconds, `security.capability` as the only xattr);
 *   every parent directory of a written entry is included with its current metadata; a file
 *   with several links is written once and then as hard links to the first name in tar order;
 *   sockets are left out.
 *
 * `sameEntry` is continuity's `sameFile` / BuildKit's `sameDirent`: equal when mode, owner and
 * rdev match, `security.capability` matches, and — for non-directories — size and mtime match;
 * when both mtimes have no sub-second part (unpacked from a tar) the content (or link target)
 * decides.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, open } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { compareCodePoints } from '../../image/json.js';
import { basePath, parentPath } from '../../image/paths.js';
import { compareEntryPaths, opaqueWhiteoutEntry, whiteoutEntry, type TarEntry } from '../../image/tar.js';
import { isWhiteout, joinRel, type FsView, type ViewEntry } from './fsview.js';

export type ChangeKind = 'add' | 'modify' | 'delete' | 'opaque';

/** A layer entry with, for a regular file, the host path its content is read from. */
export type RunEntry = TarEntry & { readonly source?: string | undefined };

export interface Change {
  readonly kind: ChangeKind;
  /** Relative path; for `opaque`, the directory. */
  readonly path: string;
}

/** `security.capability` of an entry (undefined when it has none). */
export type CapabilityOf = (entry: ViewEntry, rel: string) => Buffer | undefined;

const noCaps: CapabilityOf = () => undefined;

async function sameContent(a: string, b: string): Promise<boolean> {
  const fa = await open(a, 'r');
  const fb = await open(b, 'r');
  try {
    const ba = Buffer.alloc(64 * 1024);
    const bb = Buffer.alloc(64 * 1024);
    for (;;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, null), fb.read(bb, 0, bb.length, null)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await fa.close();
    await fb.close();
  }
}

/** continuity `sameFile` / BuildKit `sameDirent` (see the module comment). */
export async function sameEntry(a: ViewEntry, b: ViewEntry, rel: string, capsA: CapabilityOf = noCaps, capsB: CapabilityOf = noCaps): Promise<boolean> {
  const sa = a.stat;
  const sb = b.stat;
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  if (sa.mode !== sb.mode || sa.uid !== sb.uid || sa.gid !== sb.gid || sa.rdev !== sb.rdev) return false;
  const ca = capsA(a, rel);
  const cb = capsB(b, rel);
  if ((ca === undefined) !== (cb === undefined) || (ca !== undefined && cb !== undefined && !ca.equals(cb))) return false;
  if (sa.isDirectory()) return true;
  if (sa.size !== sb.size) return false;
  const NS = 1_000_000_000n;
  if (sa.mtimeNs / NS !== sb.mtimeNs / NS) return false;
  const na = sa.mtimeNs % NS;
  const nb = sb.mtimeNs % NS;
  if (na === 0n && nb === 0n) {
    if (sa.isSymbolicLink()) return (await readlink(a.hostPath)) === (await readlink(b.hostPath));
    if (sa.size === 0n || !sa.isFile()) return true;
    return sameContent(a.hostPath, b.hostPath);
  }
  return na === nb;
}

/** Changes between two whole trees below `rel` (a directory in both). */
export async function walkChanges(
  base: FsView,
  next: FsView,
  options: { rel?: string; capsBase?: CapabilityOf; capsNext?: CapabilityOf; signal?: AbortSignal } = {},
): Promise<Change[]> {
  const out: Change[] = [];
  await walkDir(base, next, options.rel ?? '', out, options.capsBase ?? noCaps, options.capsNext ?? noCaps, options.signal);
  return out;
}

async function addAll(next: FsView, rel: string, out: Change[], signal?: AbortSignal): Promise<void> {
  for (const name of await next.list(rel)) {
    signal?.throwIfAborted();
    const p = joinRel(rel, name);
    out.push({ kind: 'add', path: p });
    const e = await next.get(p);
    if (e?.stat.isDirectory()) await addAll(next, p, out, signal);
  }
}

async function walkDir(base: FsView, next: FsView, rel: string, out: Change[], capsBase: CapabilityOf, capsNext: CapabilityOf, signal?: AbortSignal): Promise<void> {
  const bn = await base.list(rel);
  const nn = await next.list(rel);
  let i = 0;
  let j = 0;
  while (i < bn.length || j < nn.length) {
    signal?.throwIfAborted();
    const c = i >= bn.length ? 1 : j >= nn.length ? -1 : compareCodePoints(bn[i]!, nn[j]!);
    if (c < 0) {
      out.push({ kind: 'delete', path: joinRel(rel, bn[i++]!) });
      continue;
    }
    const p = joinRel(rel, nn[j++]!);
    if (c > 0) {
      out.push({ kind: 'add', path: p });
      const e = await next.get(p);
      if (e?.stat.isDirectory()) await addAll(next, p, out, signal);
      continue;
    }
    i++;
    const b = (await base.get(p))!;
    const n = (await next.get(p))!;
    if (!(await sameEntry(b, n, p, capsBase, capsNext))) out.push({ kind: 'modify', path: p });
    if (n.stat.isDirectory()) {
      if (b.stat.isDirectory()) await walkDir(base, next, p, out, capsBase, capsNext, signal);
      else await addAll(next, p, out, signal);
    }
  }
}

export interface OverlayDiffOptions {
  /** Directories of the upper dir (relative) carrying the overlay opaque xattr. */
  readonly opaque: ReadonlySet<string>;
  /** Directories of the upper dir carrying an overlay redirect xattr. */
  readonly redirects?: ReadonlySet<string>;
  readonly capsBase?: CapabilityOf;
  readonly capsUpper?: CapabilityOf;
  readonly signal?: AbortSignal;
}

/** The changes recorded in an overlay upper directory over `base` (see the module comment). */
export async function overlayChanges(upper: string, base: FsView, upperView: FsView, options: OverlayDiffOptions): Promise<Change[]> {
  const out: Change[] = [];
  const capsBase = options.capsBase ?? noCaps;
  const capsUpper = options.capsUpper ?? noCaps;
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? upper : join(upper, rel);
    const names = (await readdir(dir)).sort(compareCodePoints);
    for (const name of names) {
      options.signal?.throwIfAborted();
      const p = joinRel(rel, name);
      const host = join(upper, p);
      const st: BigIntStats = await lstat(host, { bigint: true });
      if (st.isDirectory() && options.redirects?.has(p)) {
        throw new BuildImageError('RUN_OVERLAY_REDIRECT', `overlayfs redirect_dir is in use at "/${p}"; the overlay differ cannot read such an upper directory`, {
          suggestion: 'use the copying snapshotter (--snapshotter copy)',
        });
      }
      const b = await base.get(p);
      if (isWhiteout(st)) {
        if (b !== undefined) out.push({ kind: 'delete', path: p });
        continue;
      }
      const entry: ViewEntry = { hostPath: host, stat: st };
      if (b === undefined) out.push({ kind: 'add', path: p });
      else if (!(await sameEntry(b, entry, p, capsBase, capsUpper))) out.push({ kind: 'modify', path: p });
      if (!st.isDirectory()) continue;
      if (options.opaque.has(p) && b !== undefined) {
        if (b.stat.isDirectory()) out.push(...(await walkChanges(base, upperView, { rel: p, capsBase, capsNext: capsUpper, signal: options.signal })));
        else await addAll(upperView, p, out, options.signal);
        continue;
      }
      await walk(p);
    }
  };
  await walk('');
  return out;
}

/**
 * Replaces the deletions of every entry of a base directory by one opaque whiteout of that
 * directory (see the module comment).
 */
export async function collapseOpaque(changes: readonly Change[], base: FsView): Promise<Change[]> {
  const deleted = new Map<string, Set<string>>();
  for (const c of changes) {
    if (c.kind !== 'delete') continue;
    const dir = parentPath(c.path);
    let s = deleted.get(dir);
    if (s === undefined) deleted.set(dir, (s = new Set()));
    s.add(basePath(c.path));
  }
  const collapsed = new Set<string>();
  for (const [dir, names] of deleted) {
    if (dir === '') continue; // the root cannot be opaque in a layer
    const lower = await base.list(dir);
    if (lower.length > 0 && lower.every((n) => names.has(n))) collapsed.add(dir);
  }
  if (collapsed.size === 0) return [...changes];
  const out: Change[] = [];
  for (const c of changes) {
    if (c.kind === 'delete' && collapsed.has(parentPath(c.path))) continue;
    out.push(c);
  }
  for (const d of collapsed) out.push({ kind: 'opaque', path: d });
  return out;
}

const SMALL_FILE = 1n << 20n;

/** A small file in one synchronous read (thousands of them are common; the pool hop is not). */
async function* readWhole(path: string): AsyncGenerator<Buffer> {
  yield readFileSync(path);
}

function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { devmajor: major, devminor: minor };
}

/** A tar entry from a stat (undefined for sockets, which layers never hold). */
async function entryFromStat(rel: string, e: ViewEntry, caps: CapabilityOf): Promise<(RunEntry & { linkKey?: string }) | undefined> {
  const st = e.stat;
  const base = {
    path: rel,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: Number(st.mtimeNs / 1_000_000_000n),
  };
  const cap = caps(e, rel);
  const xattrs = cap !== undefined ? { xattrs: { 'security.capability': cap } } : {};
  if (st.isDirectory()) return { ...base, type: 'dir', ...xattrs };
  if (st.isSymbolicLink()) return { ...base, type: 'symlink', linkname: await readlink(e.hostPath), ...xattrs };
  if (st.isFile()) {
    const host = e.hostPath;
    return {
      ...base,
      type: 'file',
      size: Number(st.size),
      // Small files in one read: cheaper than a stream per file when a step writes thousands.
      open: st.size <= SMALL_FILE ? () => readWhole(host) : () => createReadStream(host),
      source: host,
      ...xattrs,
      ...(st.nlink > 1n ? { linkKey: `${st.dev}:${st.ino}` } : {}),
    };
  }
  if (st.isCharacterDevice()) return { ...base, type: 'char', ...devNumbers(st.rdev), ...xattrs };
  if (st.isBlockDevice()) return { ...base, type: 'block', ...devNumbers(st.rdev), ...xattrs };
  if (st.isFIFO()) return { ...base, type: 'fifo', ...xattrs };
  return undefined;
}

/** containerd's ChangeWriter: the tar entries of `changes`, read from `next` (sorted). */
export async function changeEntries(changes: readonly Change[], next: FsView, options: { caps?: CapabilityOf; signal?: AbortSignal } = {}): Promise<RunEntry[]> {
  const caps = options.caps ?? noCaps;
  const out = new Map<string, RunEntry & { linkKey?: string }>();
  const includeParents = async (rel: string): Promise<void> => {
    for (let dir = parentPath(rel); dir !== ''; dir = parentPath(dir)) {
      if (out.has(dir)) continue;
      const e = await next.get(dir);
      if (!e?.stat.isDirectory()) {
        throw new BuildImageError('RUN_INTERNAL', `parent "/${dir}" of changed "/${rel}" is not a directory in the new tree`);
      }
      out.set(dir, (await entryFromStat(dir, e, caps))!);
    }
  };
  for (const c of changes) {
    options.signal?.throwIfAborted();
    if (c.kind === 'delete') {
      const w = whiteoutEntry(c.path);
      out.set(w.path, w);
      await includeParents(w.path);
      continue;
    }
    if (c.kind === 'opaque') {
      const w = opaqueWhiteoutEntry(c.path);
      out.set(w.path, w);
      await includeParents(w.path);
      continue;
    }
    const e = await next.get(c.path);
    if (e === undefined) throw new BuildImageError('RUN_INTERNAL', `changed "/${c.path}" is missing from the new tree`);
    const entry = await entryFromStat(c.path, e, caps);
    if (entry === undefined) continue;
    out.set(c.path, entry);
    await includeParents(c.path);
  }
  const sorted = [...out.values()].sort((a, b) => compareEntryPaths(a.path, b.path));
  const firstOf = new Map<string, string>();
  return sorted.map((e) => {
    const { linkKey, ...entry } = e;
    if (linkKey === undefined) return entry;
    const first = firstOf.get(linkKey);
    if (first === undefined) {
      firstOf.set(linkKey, e.path);
      return entry;
    }
    const { open: _o, size: _s, source: _src, ...rest } = entry;
    return { ...rest, type: 'hardlink', linkname: first };
  });
}
