/**
 * The destination of a file step: a read-only view of the parent image with the step's
 * changes on top, and the diff those changes make — the layer.
 *
 * Writes never touch a real file system: each change is a pending node (metadata plus a way
 * to open its content), and `diff()` turns them into tar entries. Every path is an image path
 * resolved through `resolve`, confined to the root (or to a sub-root for archive extraction),
 * so nothing can be written outside the image.
 *
 * Which entries the layer holds (containerd archive/tar.go `ChangeWriter`, which BuildKit uses
 * for its layer diffs):
 * - every path the step created or changed;
 * - every parent directory of those paths up to (not including) the root — containerd's
 *   `includeParents` adds each missing parent with its current metadata; with overlayfs the
 *   copied-up parents are the same set;
 * - of extended attributes only `security.capability` (the only one containerd writes);
 * - no whiteouts: COPY, ADD and WORKDIR only add. Replacing a file by a file, or (ADD archives)
 *   a directory by a file, needs none — applying a layer replaces what is at a path.
 * A directory that existed before and in which the step created or replaced an entry gets the
 * kernel's "now" as mtime in BuildKit (clamped to SOURCE_DATE_EPOCH when rewrite-timestamp is
 * on); we write SOURCE_DATE_EPOCH when it is set and keep its old mtime otherwise, so the
 * layer does not depend on the clock. Other parents keep their metadata.
 */
import type { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import type { Digest } from '../image/digest.js';
import { basePath, confinePath, parentPath } from '../image/paths.js';
import { OPAQUE_WHITEOUT, compareEntryPaths, opaqueWhiteoutEntry, type TarEntry, type TarEntryType } from '../image/tar.js';
import { openNode, resolveWith, type FileMetadata, type FsNode, type FsType, type IndexEntry, type ResolveOptions, type RootView } from './rootfs.js';
import { LAYER_INDEX_VERSION, type LayerIndex } from './snapshots.js';

/** Something the step writes. */
export interface PendingNode extends Omit<FileMetadata, 'type'> {
  readonly type: FsType | 'hardlink';
  /** Files: opens the content (called when the layer is written). */
  readonly open?: (() => Promise<AsyncIterable<Uint8Array>>) | undefined;
  /** Hardlinks: the node linked to (must still be at `linkPath` when the layer is written). */
  readonly linkNode?: PendingNode | undefined;
  readonly linkPath?: string | undefined;
  /**
   * True when the path was created or replaced; false when only the metadata of an existing
   * directory changed (then its parent directory is not modified).
   */
  readonly fresh: boolean;
}

/** What `lookup` finds at a path: a pending node or one of the parent image. */
export type Found = { readonly pending: true; readonly node: PendingNode } | { readonly pending: false; readonly node: FsNode };

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : name === '' ? dir : `${dir}/${name}`;
}

function isBelow(p: string, dir: string): boolean {
  return dir === '' ? p !== '' : p.length > dir.length && p.startsWith(dir) && p.charCodeAt(dir.length) === 47;
}

export interface MkdirOptions {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
}

export class Overlay {
  /** The parent image (undefined: scratch, e.g. COPY --link). */
  readonly base: RootView | undefined;
  private readonly pending = new Map<string, PendingNode>();
  /** Paths whose parent-image subtree was replaced (hidden below them). */
  private readonly hidden = new Set<string>();

  constructor(base: RootView | undefined) {
    this.base = base;
  }

  /** True when the step has written nothing. */
  get empty(): boolean {
    return this.pending.size === 0;
  }

  private baseNode(path: string): FsNode | undefined {
    if (this.hidden.size > 0) {
      for (const h of this.hidden) if (h === path || isBelow(path, h)) return undefined;
    }
    if (this.base === undefined) return path === '' ? { type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0 } : undefined;
    return this.base.raw(path);
  }

  /** The node at an exact, resolved path. */
  lookup(path: string): Found | undefined {
    const p = this.pending.get(path);
    if (p !== undefined) return { pending: true, node: p };
    const b = this.baseNode(path);
    return b === undefined ? undefined : { pending: false, node: b };
  }

  /** The type at an exact path, hardlinks counted as files. */
  typeAt(path: string): FsType | undefined {
    const f = this.lookup(path);
    if (f === undefined) return undefined;
    return f.node.type === 'hardlink' ? 'file' : f.node.type;
  }

  /** Resolves `path` through the merged tree (see `resolveWith`). */
  resolve(path: string, options: ResolveOptions = {}): string {
    return resolveWith((p) => {
      const f = this.lookup(p);
      if (f === undefined) return undefined;
      return f.node.type === 'symlink' ? ({ type: 'symlink', linkTarget: f.node.linkTarget } as FsNode) : ({ type: 'dir' } as FsNode);
    }, path, options);
  }

  /** The type of what `path` leads to, symlinks followed (os.Stat). */
  statType(path: string, options: Omit<ResolveOptions, 'followFinal'> = {}): FsType | undefined {
    return this.typeAt(this.resolve(path, { ...options, followFinal: true }));
  }

  /** Records a new node at a resolved path, replacing what was there. */
  set(path: string, node: PendingNode): void {
    if (path === '') throw new BuildImageError('EXEC_INTERNAL', 'cannot replace the root directory');
    const existing = this.lookup(path);
    if (existing !== undefined && existing.node.type === 'dir' && node.type !== 'dir') {
      // A directory is replaced: its subtree goes, pending nodes below it and the parent image's.
      // (A non-directory has nothing below it, and a pending node shadows the image's own.)
      for (const p of [...this.pending.keys()]) if (isBelow(p, path)) this.pending.delete(p);
      if (this.baseNode(path)?.type === 'dir') this.hidden.add(path);
    }
    this.pending.set(path, node);
  }

  /**
   * Creates the missing directories of the resolved path `dir` (fsutil's `MkdirAll` after
   * `fs.RootPath`); returns the paths created. A component that exists as something other
   * than a directory fails like mkdir(2) would.
   */
  mkdirAll(dir: string, options: MkdirOptions, what = 'mkdir'): string[] {
    const created: string[] = [];
    let sofar = '';
    for (const part of dir.split('/').filter(Boolean)) {
      sofar = joinRel(sofar, part);
      const t = this.typeAt(sofar);
      if (t === 'dir') continue;
      if (t !== undefined) {
        throw new BuildImageError('EXEC_NOT_A_DIRECTORY', `${what} /${dir}: /${sofar} exists and is not a directory`);
      }
      this.set(sofar, { type: 'dir', mode: options.mode, uid: options.uid, gid: options.gid, mtime: options.mtime, size: 0, fresh: true });
      created.push(sofar);
    }
    return created;
  }

  /** Changes the mtime of a pending node, or records an existing directory's new mtime. */
  touch(path: string, mtime: number): void {
    if (path === '') return; // the root is never part of a layer
    const f = this.lookup(path);
    if (f === undefined) return;
    if (f.pending) this.pending.set(path, { ...f.node, mtime });
    else if (f.node.type === 'dir') this.pending.set(path, { ...pendingFromBase(f.node), mtime, fresh: false });
  }

  /** Opens the content of what is at a resolved path (pending or from the parent image). */
  openAt(path: string): Promise<AsyncIterable<Uint8Array>> {
    const f = this.lookup(path);
    if (f === undefined) return Promise.reject(new BuildImageError('EXEC_PATH_NOT_FOUND', `"/${path}": no such file`));
    if (f.pending) {
      const n = f.node.type === 'hardlink' ? f.node.linkNode : f.node;
      if (n?.open === undefined) return Promise.reject(new BuildImageError('EXEC_INTERNAL', `no content for "/${path}"`));
      return n.open();
    }
    return openNode(f.node, path);
  }

  /**
   * The layer: tar entries (unsorted; the tar writer sorts them) and the matching index
   * entries. `epoch` (SOURCE_DATE_EPOCH) clamps mtimes and dates modified parents.
   */
  diff(diffEpoch: number | undefined): { entries: TarEntry[]; index: IndexEntry[] } {
    const out = new Map<string, PendingNode>();
    for (const [path, node] of this.pending) out.set(path, node);
    // Parents, with the modified-directory rule of the module comment.
    const modified = new Set<string>();
    for (const [path, node] of this.pending) {
      if (node.fresh) modified.add(parentPath(path));
    }
    for (const path of [...this.pending.keys()]) {
      for (let dir = parentPath(path); dir !== ''; dir = parentPath(dir)) {
        if (out.has(dir)) continue;
        const f = this.lookup(dir);
        if (f === undefined || f.node.type !== 'dir') {
          throw new BuildImageError('EXEC_INTERNAL', `parent "/${dir}" of "/${path}" is not a directory`);
        }
        const node = f.pending ? f.node : pendingFromBase(f.node);
        out.set(dir, node);
      }
    }
    // Hard links: a link whose target was replaced meanwhile becomes a copy; in each group of
    // names of one file, the name that comes first in the tar holds the content and the others
    // link to it (a tar reader needs the target before the link).
    const groups = new Map<PendingNode, string[]>();
    for (const [path, node] of out) {
      if (node.type !== 'hardlink') continue;
      const target = node.linkPath !== undefined ? this.pending.get(node.linkPath) : undefined;
      if (target === undefined || target !== node.linkNode) {
        out.set(path, { ...node.linkNode!, type: 'file', fresh: true });
        continue;
      }
      let names = groups.get(target);
      if (names === undefined) groups.set(target, (names = [node.linkPath!]));
      names.push(path);
    }
    for (const [target, names] of groups) {
      names.sort(compareEntryPaths);
      const [first, ...rest] = names as [string, ...string[]];
      out.set(first, target);
      for (const name of rest) out.set(name, { ...target, type: 'hardlink', linkNode: target, linkPath: first });
    }
    const entries: TarEntry[] = [];
    const index: IndexEntry[] = [];
    for (const [path, node0] of out) {
      let node = node0;
      // A directory of the parent image that gained or lost an entry (not one the step set).
      if (modified.has(path) && !this.pending.has(path)) {
        node = { ...node, mtime: diffEpoch ?? node.mtime };
      }
      const mtime = Math.floor(diffEpoch !== undefined && node.mtime > diffEpoch ? diffEpoch : node.mtime);
      // containerd's ChangeWriter puts only security.capability into a layer.
      const xattrs = Object.entries(node.xattrs ?? {}).filter(([k]) => k === 'security.capability');
      const type: TarEntryType = node.type;
      const mode = node.type === 'symlink' ? 0o777 : node.mode & 0o7777;
      const e: TarEntry = {
        path,
        type,
        mode,
        uid: node.uid,
        gid: node.gid,
        mtime,
        ...(type === 'file' ? { size: node.size, open: node.open } : {}),
        ...(type === 'symlink' ? { linkname: node.linkTarget ?? '' } : {}),
        ...(type === 'hardlink' ? { linkname: node.linkPath! } : {}),
        ...(type === 'char' || type === 'block' ? { devmajor: node.devMajor ?? 0, devminor: node.devMinor ?? 0 } : {}),
        ...(xattrs.length > 0 ? { xattrs: Object.fromEntries(xattrs) } : {}),
      };
      entries.push(e);
      if (type === 'dir' && this.hidden.has(path) && this.base?.raw(path)?.type === 'dir') {
        // A directory of the parent image was replaced and made again (ADD archives only):
        // what it held must not show through, as an overlayfs opaque directory.
        entries.push(opaqueWhiteoutEntry(path));
        index.push({ p: `${path}/${OPAQUE_WHITEOUT}`, t: 'file', m: 0, u: 0, g: 0, mt: 0, s: 0 });
      }
      index.push({
        p: path,
        t: type,
        m: mode,
        u: node.uid,
        g: node.gid,
        mt: mtime,
        s: type === 'file' ? node.size : 0,
        ...(type === 'symlink' ? { l: node.linkTarget ?? '' } : {}),
        ...(type === 'hardlink' ? { l: node.linkPath! } : {}),
        ...(type === 'char' || type === 'block' ? { dM: node.devMajor ?? 0, dm: node.devMinor ?? 0 } : {}),
        ...(xattrs.length > 0 ? { x: Object.fromEntries(xattrs.map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } : {}),
      });
    }
    return { entries, index };
  }
}

/** A pending copy of a node of the parent image (metadata only). */
export function pendingFromBase(node: FsNode): PendingNode {
  return {
    type: node.type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    mtime: node.mtime,
    size: node.size,
    linkTarget: node.linkTarget,
    devMajor: node.devMajor,
    devMinor: node.devMinor,
    xattrs: node.xattrs,
    fresh: false,
  };
}

/** The index of a layer made from `diff().index`, sorted as the tar is. */
export function layerIndexOf(diffID: Digest, index: readonly IndexEntry[], order: (a: string, b: string) => number): LayerIndex {
  return { version: LAYER_INDEX_VERSION, diffID, entries: [...index].sort((a, b) => order(a.p, b.p)) };
}

/** `a/b` → name `b` (for `filepath.Base` of a source). */
export function baseName(path: string): string {
  const c = confinePath(path);
  return c === '' ? '' : basePath(c);
}
