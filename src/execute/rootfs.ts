/**
 * Read-only views of an image's root filesystem, merged from its layers (bottom to top) the
 * way containerd's `archive.Apply` lays them onto a directory, but kept in memory: a map from
 * path to metadata built from each layer's tar headers (its `LayerIndex`, see snapshots.ts),
 * with file contents read from the layer's snapshot directory.
 *
 * Merge rules (OCI image-spec layer.md, containerd archive/tar.go):
 * - entries apply in tar order; `.wh.<name>` removes `<name>` (and everything below it) from
 *   lower layers, `.wh..wh..opq` hides everything lower layers put in its directory — neither
 *   removes what the same layer created;
 * - an entry's parent directories are resolved through the view (symlinks followed, confined
 *   to the root), and missing ones are created implicitly (0755, 0:0, mtime 0 — containerd's
 *   mkparent);
 * - a non-directory replacing a directory (or anything replacing a non-directory) removes the
 *   old subtree; a directory over a directory only takes the new metadata;
 * - a hardlink becomes the same node as its target (content and metadata shared).
 *
 * Paths given to the API are image paths (`/etc/passwd`, `etc/passwd`, `/a/../b`); they are
 * confined lexically (`..` stops at the root) and resolved with `resolve`, which follows
 * symlinks as if the root were `/`: an absolute target restarts at the root and `..` never
 * climbs above it, so nothing can lead outside (continuity's `fs.RootPath`).
 */
import { closeSync, constants as fsc, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { compareCodePoints } from '../image/json.js';
import { basePath, confinePath, parentPath } from '../image/paths.js';
import { readAll } from '../image/stream.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../image/tar.js';

export type FsType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

/** Where the bytes of a file are: a path inside some directory that `open` knows. */
export interface ContentSource {
  /** Opens the file at `host`, a path relative to the source's directory (`size`: a hint). */
  open(host: string, size?: number): Promise<Readable>;
}

/** The metadata every file-like node has (view nodes, COPY sources, pending writes). */
export interface FileMetadata {
  readonly type: FsType;
  /** Permission bits with setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch (fractions allowed). */
  readonly mtime: number;
  /** Content size of a file (0 otherwise). */
  readonly size: number;
  readonly linkTarget?: string | undefined;
  readonly devMajor?: number | undefined;
  readonly devMinor?: number | undefined;
  readonly xattrs?: Readonly<Record<string, Buffer>> | undefined;
}

/** One node of a view (a path's metadata; hardlinked paths share one node). */
export interface FsNode extends FileMetadata {
  /** Files: where the content is. */
  readonly content?: { readonly source: ContentSource; readonly host: string } | undefined;
}

/** A node with the path it was found at (`''` is the root). */
export interface FsEntry extends FsNode {
  readonly path: string;
}

/** One entry of a layer as its tar header describes it (see snapshots.ts for the file format). */
export interface IndexEntry {
  /** The entry name, confined (`confinePath`). */
  readonly p: string;
  readonly t: FsType | 'hardlink';
  readonly m: number;
  readonly u: number;
  readonly g: number;
  /** mtime in seconds, as stored in the tar header. */
  readonly mt: number;
  /** Content size of a regular file. */
  readonly s: number;
  /** Symlink target or hardlink target (a layer path). */
  readonly l?: string | undefined;
  readonly dM?: number | undefined;
  readonly dm?: number | undefined;
  /** Where the entry landed in the layer's snapshot directory, when not at `p`. */
  readonly h?: string | undefined;
  /** xattrs, base64. */
  readonly x?: Readonly<Record<string, string>> | undefined;
}

const MAX_LINKS = 255;

/** The root directory of an image with no layers. */
export const DEFAULT_ROOT: FsNode = Object.freeze({ type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0 });

/** Directories containerd creates for entries whose parents are missing. */
const IMPLICIT_DIR: FsNode = DEFAULT_ROOT;

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : name === '' ? dir : `${dir}/${name}`;
}

function isBelow(p: string, dir: string): boolean {
  return dir === '' ? p !== '' : p.length > dir.length && p.startsWith(dir) && p.charCodeAt(dir.length) === 47;
}

function loop(path: string): BuildImageError {
  return new BuildImageError('EXEC_SYMLINK_LOOP', `too many levels of symbolic links resolving "/${path}"`);
}

/** Looks up a node by its exact (already resolved) path. */
export type RawLookup = (path: string) => FsNode | undefined;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true). */
  readonly followFinal?: boolean | undefined;
  /**
   * Resolve as if this directory (a resolved path) were `/`: absolute targets restart there
   * and `..` stops there (a chroot). Default `''`, the image root.
   */
  readonly root?: string | undefined;
}

/**
 * Resolves `path` against a tree given by `raw`, following symlinks confined to `root` (see
 * the module comment). Missing components are kept as written. Returns a confined path.
 */
export function resolveWith(raw: RawLookup, path: string, options: ResolveOptions = {}): string {
  const followFinal = options.followFinal ?? true;
  const root = options.root ?? '';
  let pending = confinePath(path).split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const isLast = pending.length === 0;
    const candidate = joinRel(root, [...done, part].join('/'));
    if (isLast && !followFinal) {
      done.push(part);
      break;
    }
    const node = raw(candidate);
    if (node?.type !== 'symlink') {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw loop(joinRel(root, confinePath(path)));
    const target = node.linkTarget ?? '';
    if (target.startsWith('/')) done.length = 0;
    pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
  }
  return joinRel(root, done.join('/'));
}

/**
 * An immutable merged view of a root filesystem. Make one with `RootView.empty()` and
 * `applyLayer`, or through `LayerSnapshots.view(layers)`.
 */
export class RootView {
  readonly #nodes: ReadonlyMap<string, FsNode>;
  readonly #children: ReadonlyMap<string, readonly string[]>;

  private constructor(nodes: ReadonlyMap<string, FsNode>, children: ReadonlyMap<string, readonly string[]>) {
    this.#nodes = nodes;
    this.#children = children;
  }

  /** A view holding only the root directory. */
  static empty(root: FsNode = DEFAULT_ROOT): RootView {
    return new RootView(new Map([['', root]]), new Map([['', []]]));
  }

  /** Number of paths, the root included. */
  get size(): number {
    return this.#nodes.size;
  }

  /** The node at an exact, already resolved path (no symlink is followed). */
  raw(path: string): FsNode | undefined {
    return this.#nodes.get(path);
  }

  /**
   * `path` with its symlinks followed, confined to the root (or to `options.root`); see
   * `resolveWith`. Throws `EXEC_SYMLINK_LOOP` after 255 links.
   */
  resolve(path: string, options: ResolveOptions = {}): string {
    return resolveWith((p) => this.#nodes.get(p), path, options);
  }

  /** The entry at `path` without following a final symlink (parents are followed). */
  lstat(path: string): FsEntry | undefined {
    const p = this.resolve(path, { followFinal: false });
    const node = this.#nodes.get(p);
    return node === undefined ? undefined : { ...node, path: p };
  }

  /** The entry `path` leads to, symlinks followed. */
  stat(path: string): FsEntry | undefined {
    const p = this.resolve(path);
    const node = this.#nodes.get(p);
    return node === undefined ? undefined : { ...node, path: p };
  }

  /** The names in a directory (symlinks followed), in byte order. */
  readdir(path: string): string[] {
    const p = this.resolve(path);
    const node = this.#nodes.get(p);
    if (node === undefined) throw notFound(path);
    if (node.type !== 'dir') throw new BuildImageError('EXEC_NOT_A_DIRECTORY', `"/${p}" is not a directory`);
    return [...(this.#children.get(p) ?? [])];
  }

  /** The target of the symlink at `path` (parents followed). */
  readlink(path: string): string {
    const e = this.lstat(path);
    if (e === undefined) throw notFound(path);
    if (e.type !== 'symlink') throw new BuildImageError('EXEC_NOT_A_SYMLINK', `"/${e.path}" is not a symbolic link`);
    return e.linkTarget ?? '';
  }

  /** Opens the file `path` leads to. */
  async open(path: string): Promise<Readable> {
    const e = this.stat(path);
    if (e === undefined) throw notFound(path);
    return openNode(e, e.path);
  }

  /** A whole (small) file; throws `EXEC_FILE_TOO_LARGE` above `maxBytes`. */
  async readFile(path: string, maxBytes = 10 << 20): Promise<Buffer> {
    const e = this.stat(path);
    if (e === undefined) throw notFound(path);
    if (e.type !== 'file') throw new BuildImageError('EXEC_NOT_A_FILE', `"/${e.path}" is not a regular file`);
    if (e.size > maxBytes) throw new BuildImageError('EXEC_FILE_TOO_LARGE', `"/${e.path}" exceeds ${maxBytes} bytes`);
    return readAll(await openNode(e, e.path));
  }

  /**
   * The entry at the resolved path `start` and everything below it, parents before children,
   * siblings in byte order (the order of Go's filepath.Walk). Symlinks inside are not followed.
   */
  *walk(start: string): Generator<FsEntry> {
    const node = this.#nodes.get(start);
    if (node === undefined) return;
    yield { ...node, path: start };
    if (node.type !== 'dir') return;
    for (const name of this.#children.get(start) ?? []) yield* this.walk(joinRel(start, name));
  }

  /** A new view with one more layer on top (see the module comment for the rules). */
  applyLayer(entries: Iterable<IndexEntry>, source: ContentSource | undefined): RootView {
    const tree = new MutableTree(this.#nodes, this.#children);
    tree.apply(entries, source);
    return new RootView(tree.nodes, tree.children);
  }
}

function notFound(path: string): BuildImageError {
  return new BuildImageError('EXEC_PATH_NOT_FOUND', `"/${confinePath(path)}": no such file or directory`);
}

/** Opens a file node's content. */
export function openNode(node: FsNode, path: string): Promise<Readable> {
  if (node.type !== 'file') {
    return Promise.reject(new BuildImageError('EXEC_NOT_A_FILE', `"/${path}" is not a regular file`));
  }
  if (node.content === undefined) {
    return Promise.reject(new BuildImageError('EXEC_INTERNAL', `no content known for "/${path}"`));
  }
  return node.content.source.open(node.content.host, node.size);
}

/** A ContentSource reading files below a directory (never following a final symlink). */
export function directorySource(dir: string | (() => Promise<string>)): ContentSource {
  return {
    async open(host: string, size?: number): Promise<Readable> {
      const base = typeof dir === 'string' ? dir : await dir();
      const path = join(base, confinePath(host));
      if (size !== undefined && size <= 256 * 1024) {
        // One synchronous read: much cheaper than a stream for the many small files of a tree.
        const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        try {
          return Readable.from([readFileSync(fd)], { objectMode: false });
        } finally {
          closeSync(fd);
        }
      }
      const fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      return fh.createReadStream();
    },
  };
}

/** Node metadata from an index entry (xattrs decoded). */
export function nodeFromIndex(e: IndexEntry, source: ContentSource | undefined): FsNode {
  const type = e.t === 'hardlink' ? 'file' : e.t;
  const node: FsNode = {
    type,
    mode: e.m & 0o7777,
    uid: e.u,
    gid: e.g,
    mtime: e.mt,
    size: type === 'file' ? e.s : 0,
    ...(e.l !== undefined && e.t === 'symlink' ? { linkTarget: e.l } : {}),
    ...(e.t === 'char' || e.t === 'block' ? { devMajor: e.dM ?? 0, devMinor: e.dm ?? 0 } : {}),
    ...(e.x !== undefined && Object.keys(e.x).length > 0
      ? { xattrs: Object.fromEntries(Object.entries(e.x).map(([k, v]) => [k, Buffer.from(v, 'base64')])) }
      : {}),
    ...(type === 'file' && source !== undefined ? { content: { source, host: e.h ?? e.p } } : {}),
  };
  return node;
}

/** A copy-on-write tree used while merging a layer. */
class MutableTree {
  readonly nodes: Map<string, FsNode>;
  readonly children: Map<string, readonly string[]>;
  /** Directories whose child list this tree already copied. */
  private readonly owned = new Set<string>();

  constructor(nodes: ReadonlyMap<string, FsNode>, children: ReadonlyMap<string, readonly string[]>) {
    this.nodes = new Map(nodes);
    this.children = new Map(children);
  }

  private kids(dir: string): string[] {
    if (!this.owned.has(dir)) {
      this.children.set(dir, [...(this.children.get(dir) ?? [])]);
      this.owned.add(dir);
    }
    return this.children.get(dir) as string[];
  }

  private addChild(dir: string, name: string): void {
    const list = this.children.get(dir) ?? [];
    // Binary search: lists are kept in byte order.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = compareCodePoints(list[mid]!, name);
      if (c === 0) return;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    this.kids(dir).splice(lo, 0, name);
  }

  private removeChild(dir: string, name: string): void {
    const list = this.children.get(dir);
    if (list === undefined) return;
    const i = list.indexOf(name);
    if (i >= 0) this.kids(dir).splice(i, 1);
  }

  /** Removes `path` and everything below it, except paths in `keep` (and their parents). */
  removeTree(path: string, keep?: ReadonlySet<string>): void {
    const node = this.nodes.get(path);
    if (node === undefined) return;
    if (keep !== undefined && [...keep].some((k) => k === path || isBelow(k, path))) {
      if (node.type === 'dir') {
        for (const name of [...(this.children.get(path) ?? [])]) this.removeTree(joinRel(path, name), keep);
      }
      return;
    }
    if (node.type === 'dir') {
      for (const name of this.children.get(path) ?? []) this.removeTree(joinRel(path, name));
      this.children.delete(path);
      this.owned.delete(path);
    }
    this.nodes.delete(path);
    if (path !== '') this.removeChild(parentPath(path), basePath(path));
  }

  private set(path: string, node: FsNode): void {
    const existing = this.nodes.get(path);
    if (existing !== undefined && !(existing.type === 'dir' && node.type === 'dir')) this.removeTree(path);
    this.nodes.set(path, node);
    if (node.type === 'dir' && !this.children.has(path)) {
      this.children.set(path, []);
      this.owned.add(path);
    }
    if (path !== '') this.addChild(parentPath(path), basePath(path));
  }

  private resolve(path: string, followFinal: boolean): string {
    return resolveWith((p) => this.nodes.get(p), path, { followFinal });
  }

  /** Makes sure every component of the resolved `dir` exists as a directory. */
  private mkparents(dir: string, name: string): void {
    let sofar = '';
    for (const part of dir.split('/').filter(Boolean)) {
      sofar = joinRel(sofar, part);
      const node = this.nodes.get(sofar);
      if (node === undefined) this.set(sofar, IMPLICIT_DIR);
      else if (node.type !== 'dir') {
        throw new BuildImageError('EXEC_LAYER_INVALID', `layer entry "${name}" is below "/${sofar}", which is not a directory`);
      }
    }
  }

  apply(entries: Iterable<IndexEntry>, source: ContentSource | undefined): void {
    const created = new Set<string>();
    for (const e of entries) {
      const name = confinePath(e.p);
      const base = basePath(name);
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const dir = this.resolve(parentPath(name), true);
        if (base === OPAQUE_WHITEOUT) {
          for (const kid of [...(this.children.get(dir) ?? [])]) {
            const kidPath = joinRel(dir, kid);
            if (!created.has(kidPath)) this.removeTree(kidPath, created);
          }
        } else {
          const target = joinRel(dir, base.slice(WHITEOUT_PREFIX.length));
          if (!created.has(target)) this.removeTree(target, created);
        }
        continue;
      }
      if (name === '') {
        if (e.t === 'dir') this.nodes.set('', nodeFromIndex(e, source));
        continue;
      }
      const dir = this.resolve(parentPath(name), true);
      this.mkparents(dir, name);
      const path = joinRel(dir, base);
      let node: FsNode;
      if (e.t === 'hardlink') {
        const target = this.resolve(confinePath(e.l ?? ''), false);
        const t = this.nodes.get(target);
        if (t === undefined || t.type === 'dir') {
          throw new BuildImageError('EXEC_LAYER_INVALID', `layer hardlink "${name}" points at "${e.l ?? ''}", which is not a file in the image`);
        }
        node = t;
      } else {
        node = nodeFromIndex(e, source);
      }
      this.set(path, node);
      created.add(path);
    }
  }
}
