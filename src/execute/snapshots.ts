/**
 * Per-layer state in the store: an index of each layer's tar headers and a snapshot
 * directory holding its files, each made once per diffID and reused by every later build.
 *
 * Layout (under the store root):
 *
 *     state/layer-index/<diffID hex>.json   {"diffID":…,"entries":[IndexEntry…],"version":1}
 *     state/snapshots/<diffID hex>/         the layer's tar extracted as is
 *
 * - The index lists every entry of the layer in tar order (see `IndexEntry` in rootfs.ts:
 *   path, type, mode, uid/gid, mtime, size, link target, device numbers, xattrs, and `h`, the
 *   place in the snapshot when a symlink of the same layer moved it). Merged views are built
 *   from indexes only, so a view of a cached image needs no layer to be read again.
 * - A snapshot directory is the layer extracted with `extractTar` (confined, owners set when
 *   running as root, modes and mtimes from the headers) WITHOUT applying whiteouts: OCI
 *   whiteouts stay as the empty regular files `.wh.<name>` / `.wh..wh..opq`. A snapshot is
 *   therefore the layer's own content, not a merged root — an overlayfs mount has to turn the
 *   whiteout files into overlay whiteouts (0/0 character devices, `trusted.overlay.opaque`)
 *   first. Entries the host cannot create (device nodes without root) are left out of the
 *   snapshot and the index.
 * - Both are written under a temporary name and renamed into place (the directory is
 *   extracted into `.tmp-<pid>-<random>-<hex>` beside it), under a store lock per layer, so two
 *   processes never unpack the same layer at once and nobody sees half a snapshot.
 * - Layers this executor makes itself get their index written directly from the entries it
 *   wrote (`recordIndex`); their snapshot is unpacked from the store only when a later step
 *   reads one of their files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BuildImageError } from '../errors.js';
import { digestHex, parseDigest, type Digest } from '../image/digest.js';
import { extractTar } from '../image/extract.js';
import { canonicalJsonBytes } from '../image/json.js';
import type { Layer } from '../image/layer.js';
import { confinePath } from '../image/paths.js';
import type { TarReadEntry } from '../image/tar.js';
import { processAlive, writeFileAtomic } from '../store/atomic.js';
import type { Store } from '../store/store.js';
import { RootView, directorySource, type ContentSource, type FsType, type IndexEntry } from './rootfs.js';

export const LAYER_INDEX_VERSION = 1;

/** The index of one layer (the JSON file's content). */
export interface LayerIndex {
  readonly version: typeof LAYER_INDEX_VERSION;
  readonly diffID: Digest;
  readonly entries: readonly IndexEntry[];
}

/** The index entry of a tar header (`host`: where it landed in the snapshot, if elsewhere). */
export function indexEntryFromHeader(entry: Pick<TarReadEntry, 'path' | 'type' | 'mode' | 'uid' | 'gid' | 'mtime' | 'size' | 'linkname' | 'devmajor' | 'devminor' | 'xattrs'>, host?: string): IndexEntry {
  const p = confinePath(entry.path);
  const xattrs = Object.entries(entry.xattrs);
  return {
    p,
    t: entry.type as FsType | 'hardlink',
    m: entry.mode & 0o7777,
    u: entry.uid,
    g: entry.gid,
    mt: Math.floor(entry.mtime),
    s: entry.type === 'file' ? entry.size : 0,
    ...(entry.type === 'symlink' || entry.type === 'hardlink' ? { l: entry.linkname } : {}),
    ...(entry.type === 'char' || entry.type === 'block' ? { dM: entry.devmajor, dm: entry.devminor } : {}),
    ...(host !== undefined && host !== p ? { h: host } : {}),
    ...(xattrs.length > 0 ? { x: Object.fromEntries(xattrs.map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } : {}),
  };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Keeps at most `max` entries, dropping the least recently used. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  delete(key: K): void {
    this.map.delete(key);
  }
}

export interface LayerSnapshotsOptions {
  /** How many merged views to keep in memory (default 16). */
  readonly cachedViews?: number;
}

/** Layer indexes, snapshot directories and merged views over a store. */
export class LayerSnapshots {
  readonly store: Store;
  private readonly indexes = new Map<string, Promise<LayerIndex>>();
  private readonly snapshots = new Map<string, Promise<string>>();
  private readonly views: Lru<string, Promise<RootView>>;

  constructor(store: Store, options: LayerSnapshotsOptions = {}) {
    this.store = store;
    this.views = new Lru(options.cachedViews ?? 16);
  }

  private async indexPath(diffID: Digest): Promise<string> {
    return join(await this.store.stateDir('layer-index'), `${digestHex(parseDigest(diffID))}.json`);
  }

  /** Where the snapshot of a layer is (or will be). */
  async snapshotPath(diffID: Digest): Promise<string> {
    return join(await this.store.stateDir('snapshots'), digestHex(parseDigest(diffID)));
  }

  private async readIndex(diffID: Digest): Promise<LayerIndex | undefined> {
    let text: string;
    try {
      text = await readFile(await this.indexPath(diffID), 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as LayerIndex;
      if (parsed.version === LAYER_INDEX_VERSION && parsed.diffID === diffID && Array.isArray(parsed.entries)) return parsed;
    } catch {
      // unreadable: rebuilt below
    }
    return undefined;
  }

  /** Stores the index of a layer this process wrote (its snapshot is made when needed). */
  async recordIndex(index: LayerIndex): Promise<void> {
    await writeFileAtomic(await this.indexPath(index.diffID), canonicalJsonBytes(index));
    this.indexes.set(index.diffID, Promise.resolve(index));
  }

  /** The index of a layer: from the store, or made by unpacking the layer once. */
  index(layer: Layer): Promise<LayerIndex> {
    let p = this.indexes.get(layer.diffID);
    if (p === undefined) {
      p = (async () => (await this.readIndex(layer.diffID)) ?? (await this.unpack(layer, true)).index!)();
      this.indexes.set(layer.diffID, p);
      p.catch(() => this.indexes.delete(layer.diffID));
    }
    return p;
  }

  /** The snapshot directory of a layer, unpacked from the layer the first time. */
  snapshotDir(layer: Layer): Promise<string> {
    let p = this.snapshots.get(layer.diffID);
    if (p === undefined) {
      p = (async () => {
        const dir = await this.snapshotPath(layer.diffID);
        if (await exists(dir)) return dir;
        return (await this.unpack(layer, false)).dir;
      })();
      this.snapshots.set(layer.diffID, p);
      p.catch(() => this.snapshots.delete(layer.diffID));
    }
    return p;
  }

  /** Reads the files of a layer from its snapshot. */
  contentSource(layer: Layer): ContentSource {
    return directorySource(() => this.snapshotDir(layer));
  }

  /**
   * Extracts a layer into its snapshot directory (unless another process did meanwhile) and,
   * with `wantIndex`, writes its index from the headers seen on the way: one pass over the
   * layer for both.
   */
  private async unpack(layer: Layer, wantIndex: boolean): Promise<{ dir: string; index?: LayerIndex }> {
    const hex = digestHex(parseDigest(layer.diffID));
    const dir = await this.snapshotPath(layer.diffID);
    // Unpacking a big layer takes a while: wait for another process doing it for up to an hour.
    return this.store.withLock(`snapshot-${hex}`, async () => {
      const known = wantIndex ? await this.readIndex(layer.diffID) : undefined;
      const haveDir = await exists(dir);
      if (haveDir && (!wantIndex || known !== undefined)) return { dir, index: known };
      const parent = join(dir, '..');
      await removeStaleTemps(parent, hex);
      const tmp = join(parent, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}-${hex}`);
      await mkdir(tmp, { recursive: true });
      const entries: IndexEntry[] = [];
      try {
        await extractTar(tmp, await layer.openUncompressed(), {
          whiteouts: 'keep',
          onEntry: (entry, host) => {
            entries.push(indexEntryFromHeader(entry, relative(tmp, host).split('\\').join('/')));
          },
        });
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        if (err instanceof BuildImageError) {
          throw new BuildImageError('EXEC_LAYER_UNPACK', `cannot unpack layer ${layer.diffID}: ${err.message}`, { cause: err });
        }
        throw err;
      }
      if (haveDir) await rm(tmp, { recursive: true, force: true });
      else {
        try {
          await rename(tmp, dir);
        } catch (err) {
          await rm(tmp, { recursive: true, force: true });
          if (!(await exists(dir))) throw err;
        }
      }
      const index: LayerIndex = { version: LAYER_INDEX_VERSION, diffID: layer.diffID, entries };
      if (wantIndex) await writeFileAtomic(await this.indexPath(layer.diffID), canonicalJsonBytes(index));
      return { dir, index };
    }, { timeoutMs: 60 * 60 * 1000 });
  }

  /**
   * The merged view of `layers` (bottom to top). Views are built incrementally from the
   * longest prefix already in memory and the indexes of the layers above it.
   */
  view(layers: readonly Layer[]): Promise<RootView> {
    const key = layers.map((l) => l.diffID).join(',');
    const known = this.views.get(key);
    if (known !== undefined) return known;
    const p = (async () => {
      let start = layers.length;
      let view: RootView | undefined;
      while (start > 0) {
        const prefix = this.views.get(layers.slice(0, start - 1).map((l) => l.diffID).join(','));
        start--;
        if (prefix !== undefined) {
          view = await prefix;
          break;
        }
      }
      if (view === undefined) {
        view = RootView.empty();
        start = 0;
      }
      // Index all missing layers first (in parallel), then merge in order.
      const indexes = await Promise.all(layers.slice(start).map((l) => this.index(l)));
      indexes.forEach((index, i) => {
        const layer = layers[start + i]!;
        view = view!.applyLayer(index.entries, this.contentSource(layer));
      });
      return view;
    })();
    this.views.set(key, p);
    p.catch(() => this.views.delete(key));
    return p;
  }
}

/** Removes temp directories of dead writers for this layer. */
async function removeStaleTemps(parent: string, hex: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith('.tmp-') || !name.endsWith(`-${hex}`)) continue;
    const pid = Number(name.slice('.tmp-'.length).split('-')[0]);
    if (!processAlive(pid)) await rm(join(parent, name), { recursive: true, force: true });
  }
}
