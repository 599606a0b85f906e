/**
 * Layer directories in overlayfs format, the lower directories of RUN's overlay mounts: each
 * layer is unpacked once per store (and xattr namespace) and reused by every later step.
 *
 *     state/run-layers/<ns>/<diffID hex>/fs          the layer's files, overlay format
 *     state/run-layers/<ns>/<diffID hex>/meta.json   {"diffID":…,"opaque":[dirs…],"version":1}
 *     state/run-layers/<ns>/chain-<chainID hex>/…    several layers flattened (see `chain`)
 *
 * `<ns>` is the xattr namespace overlayfs reads its markers from: `trusted` as real root,
 * `user` in a user namespace (mounted with `userxattr`). containerd's overlay snapshotter keeps
 * the same format: a deleted path is a 0/0 character device (the OCI `.wh.<name>` file
 * becomes one named `<name>`) and an opaque directory (`.wh..wh..opq`) carries the
 * `<ns>.overlay.opaque=y` attribute. Other xattrs of the tar (security.capability …) are set.
 * `meta.json` lists the opaque directories so that lookups through a stack of layers
 * (fsview.ts) need no getfattr.
 *
 * A layer is extracted standalone, as containerd's overlay applier does: a path below a
 * symlink of a LOWER layer is not resolved through it.
 *
 * Directories are made under `.tmp-<pid>-<random>` and renamed into place under a store lock,
 * so concurrent builds never unpack a layer twice nor see half of one.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lchownSync, linkSync, lutimesSync, mkdirSync, renameSync, symlinkSync, utimesSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { DigestHasher, digestHex, parseDigest, type Digest } from '../../image/digest.js';
import { applyLayer, extractTar } from '../../image/extract.js';
import type { Layer } from '../../image/layer.js';
import { basePath, parentPath } from '../../image/paths.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../../image/tar.js';
import { processAlive } from '../../store/atomic.js';
import type { Store } from '../../store/store.js';
import { mustRun, requireProgram, shq } from './host.js';
import type { RunEntry } from './differ.js';
import { writeXattrs } from './xattr.js';

export type XattrNamespace = 'trusted' | 'user';

export const LAYER_DIR_VERSION = 1;

/** One layer directory: its files and which directories are opaque. */
export interface LayerDir {
  /** The directory holding the files (a lowerdir). */
  readonly dir: string;
  /** Opaque directories, relative paths (`''` never). */
  readonly opaque: ReadonlySet<string>;
  /** `security.capability` of the files that have one, by relative path. */
  readonly caps: ReadonlyMap<string, Buffer>;
}

interface Meta {
  version: number;
  diffID?: string;
  chainID?: string;
  opaque: string[];
  /** security.capability values, base64, by relative path. */
  caps?: Record<string, string>;
}

/** chainID per the OCI image spec: sha256 of "<parent chainID> <diffID>". */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    if (prev === undefined) out.push(d);
    else {
      const h = new DigestHasher();
      h.update(Buffer.from(`${prev} ${d}`));
      out.push(h.digest());
    }
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The overlay-format layer directories of one store. */
export class LayerDirs {
  private readonly memo = new Map<string, Promise<LayerDir>>();

  constructor(
    readonly store: Store,
    readonly xattr: XattrNamespace,
  ) {}

  /** The base directory (created). */
  async root(): Promise<string> {
    const dir = join(await this.store.stateDir('run-layers'), this.xattr);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** The overlay-format directory of one layer, unpacked on first use. */
  layer(layer: Layer, signal?: AbortSignal): Promise<LayerDir> {
    const hex = digestHex(parseDigest(layer.diffID));
    return this.once(hex, () => this.make(hex, { diffID: layer.diffID }, (fs) => this.unpack(layer, fs, signal)));
  }

  /**
   * `layers` (bottom first) flattened into one directory: the layers applied in order, as a
   * root filesystem (no whiteouts left). For stacks longer than one overlay mount can name.
   */
  chain(layers: readonly Layer[], signal?: AbortSignal): Promise<LayerDir> {
    const id = chainIDs(layers.map((l) => l.diffID)).at(-1);
    if (id === undefined) throw new BuildImageError('RUN_INTERNAL', 'cannot flatten an empty layer chain');
    const name = `chain-${digestHex(id)}`;
    return this.once(name, () =>
      this.make(name, { chainID: id }, async (fs) => {
        const caps: Record<string, string> = {};
        for (const l of layers) {
          signal?.throwIfAborted();
          await applyLayer(fs, await l.openUncompressed(), {
            onEntry: (entry, host) => {
              const cap = entry.xattrs['security.capability'];
              if (cap !== undefined) caps[host.slice(fs.length + 1)] = cap.toString('base64');
            },
          });
        }
        // applyLayer cannot set xattrs: capabilities are set here.
        await writeXattrs(new Map(Object.entries(caps).map(([rel, v]) => [join(fs, rel), new Map([['security.capability', Buffer.from(v, 'base64')]])])));
        return { opaque: [], caps };
      }),
    );
  }

  /**
   * Makes the directory of a layer this process just wrote from the files it was written
   * from (an overlay upper directory), instead of unpacking it again: files are moved (renamed)
   * out of `entries[].source`, everything else is created, and every entry gets the metadata
   * its tar header has (mtimes clamped to `epoch`) — the same directory an unpack would make,
   * at the cost of what changed. containerd's overlay snapshotter commits the upper directory
   * itself; we rebuild it from the layer's entries so that metadata-only copy-ups the differ
   * left out, and unclamped mtimes, do not reach later steps. Returns false (and leaves the
   * layer to be unpacked when needed) if the files cannot be moved.
   */
  async adopt(layer: Layer, entries: readonly RunEntry[], epoch: number | undefined): Promise<boolean> {
    const hex = digestHex(parseDigest(layer.diffID));
    if (this.memo.has(hex)) return true;
    try {
      await this.once(hex, () => this.make(hex, { diffID: layer.diffID }, (fs) => this.fromEntries(fs, entries, epoch)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EXDEV' || (err as { cause?: NodeJS.ErrnoException }).cause?.code === 'EXDEV') return false;
      throw err;
    }
  }

  private async fromEntries(fs: string, entries: readonly RunEntry[], epoch: number | undefined): Promise<{ opaque: string[]; caps: Record<string, string> }> {
    const clamp = (t: number) => Math.floor(epoch !== undefined && t > epoch ? epoch : t);
    const opaque: string[] = [];
    const caps: Record<string, string> = {};
    const xattrs = new Map<string, Map<string, Buffer>>();
    const nodes: string[] = ['set -e'];
    const mknod = requireProgram('mknod', 'making a layer directory');
    const dirs: { host: string; mtime: number }[] = [];
    const times: { host: string; mtime: number }[] = [];
    const owners: { host: string; uid: number; gid: number; mode?: number }[] = [];
    for (const e of entries) {
      const rel = e.path.replace(/\/+$/, '');
      const host = join(fs, rel);
      const base = basePath(rel);
      const dir = parentPath(rel);
      if (base === OPAQUE_WHITEOUT) {
        opaque.push(dir);
        xattrs.set(dir === '' ? fs : join(fs, dir), new Map([[`${this.xattr}.overlay.opaque`, Buffer.from('y')]]));
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        nodes.push(`${shq(mknod)} -m 0 ${shq(join(fs, dir, base.slice(WHITEOUT_PREFIX.length)))} c 0 0`);
        continue;
      }
      // Synchronous calls: thousands of small file operations, each far cheaper than a trip
      // through the thread pool.
      switch (e.type) {
        case 'dir':
          mkdirSync(host, { mode: 0o700 });
          dirs.push({ host, mtime: clamp(e.mtime) });
          owners.push({ host, uid: e.uid, gid: e.gid, mode: e.mode });
          break;
        case 'file':
          if (e.source === undefined) throw new BuildImageError('RUN_INTERNAL', `no source for "${rel}"`);
          // Owner and mode are the source's already (the entry was made from its stat).
          renameSync(e.source, host);
          times.push({ host, mtime: clamp(e.mtime) });
          break;
        case 'hardlink':
          linkSync(join(fs, e.linkname!), host);
          break;
        case 'symlink':
          symlinkSync(e.linkname!, host);
          owners.push({ host, uid: e.uid, gid: e.gid });
          times.push({ host, mtime: clamp(e.mtime) });
          break;
        default: {
          const kind = e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : 'p';
          nodes.push(`${shq(mknod)} -m ${(e.mode & 0o7777).toString(8)} ${shq(host)} ${kind}${kind === 'p' ? '' : ` ${e.devmajor ?? 0} ${e.devminor ?? 0}`}`);
          owners.push({ host, uid: e.uid, gid: e.gid });
          times.push({ host, mtime: clamp(e.mtime) });
        }
      }
      const cap = e.xattrs?.['security.capability'];
      if (cap !== undefined) {
        const b = Buffer.from(cap);
        caps[rel] = b.toString('base64');
        xattrs.set(host, new Map([['security.capability', b]]));
      }
    }
    if (nodes.length > 1) {
      await mustRun('RUN_LAYER_UNPACK', 'making whiteouts and devices', requireProgram('sh', 'making a layer directory'), ['-s'], { input: nodes.join('\n') + '\n' });
    }
    // Owners before modes (chown clears setuid bits), then xattrs, then times, directories last.
    for (const o of owners) {
      lchownSync(o.host, o.uid, o.gid);
      if (o.mode !== undefined) chmodSync(o.host, o.mode & 0o7777);
    }
    await writeXattrs(xattrs);
    for (const t of times) lutimesSync(t.host, t.mtime, t.mtime);
    for (const d of dirs.reverse()) utimesSync(d.host, d.mtime, d.mtime);
    return { opaque: opaque.filter((d) => d !== ''), caps };
  }

  private once(name: string, make: () => Promise<LayerDir>): Promise<LayerDir> {
    let p = this.memo.get(name);
    if (p === undefined) {
      p = make();
      this.memo.set(name, p);
      p.catch(() => this.memo.delete(name));
    }
    return p;
  }

  private async read(dir: string): Promise<LayerDir | undefined> {
    try {
      const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta;
      if (meta.version !== LAYER_DIR_VERSION || !Array.isArray(meta.opaque)) return undefined;
      const caps = new Map(Object.entries(meta.caps ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
      return { dir: join(dir, 'fs'), opaque: new Set(meta.opaque), caps };
    } catch {
      return undefined;
    }
  }

  private async make(
    name: string,
    id: Omit<Meta, 'version' | 'opaque' | 'caps'>,
    fill: (fs: string) => Promise<{ opaque: string[]; caps?: Record<string, string> }>,
  ): Promise<LayerDir> {
    const root = await this.root();
    const final = join(root, name);
    const known = await this.read(final);
    if (known) return known;
    return this.store.withLock(`run-layer-${name.slice(0, 40)}`, async () => {
      const again = await this.read(final);
      if (again) return again;
      await removeStale(root, name);
      if (await exists(final)) await rm(final, { recursive: true, force: true }); // no meta: unfinished
      const tmp = join(root, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}-${name}`);
      await mkdir(join(tmp, 'fs'), { recursive: true, mode: 0o755 });
      try {
        const { opaque, caps } = await fill(join(tmp, 'fs'));
        const meta: Meta = { version: LAYER_DIR_VERSION, ...id, opaque: [...opaque].sort(), ...(caps && Object.keys(caps).length > 0 ? { caps } : {}) };
        await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
        await rename(tmp, final);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true }).catch(() => {});
        if (err instanceof BuildImageError && err.code.startsWith('RUN_')) throw err;
        throw new BuildImageError('RUN_LAYER_UNPACK', `cannot unpack ${name} for overlayfs: ${(err as Error).message}`, { cause: err });
      }
      const made = await this.read(final);
      if (!made) throw new BuildImageError('RUN_LAYER_UNPACK', `layer directory ${final} is unreadable after unpacking`);
      return made;
    });
  }

  /**
   * Extracts the tar keeping whiteout files, then converts them to overlay format: `.wh.x`
   * becomes the 0/0 device `x`, `.wh..wh..opq` the opaque xattr. Returns the opaque dirs.
   */
  private async unpack(layer: Layer, fs: string, signal?: AbortSignal): Promise<{ opaque: string[]; caps: Record<string, string> }> {
    const whiteouts: string[] = [];
    const opaque: string[] = [];
    const xattrs = new Map<string, Map<string, Buffer>>();
    const dirTimes = new Map<string, number>();
    const caps: Record<string, string> = {};
    await extractTar(fs, await layer.openUncompressed(), {
      whiteouts: 'keep',
      onEntry: (entry, host) => {
        signal?.throwIfAborted();
        const rel = host.slice(fs.length + 1);
        const base = basePath(rel);
        if (base === OPAQUE_WHITEOUT) opaque.push(parentPath(rel));
        else if (base.startsWith(WHITEOUT_PREFIX)) whiteouts.push(rel);
        else {
          if (entry.type === 'dir') dirTimes.set(rel, Math.floor(entry.mtime));
          const names = Object.keys(entry.xattrs);
          if (names.length > 0) xattrs.set(host, new Map(names.map((n) => [n, entry.xattrs[n]!])));
          const cap = entry.xattrs['security.capability'];
          if (cap !== undefined) caps[rel] = cap.toString('base64');
        }
      },
    });
    // Whiteouts: remove the marker file, make the device (one shell for all of them).
    if (whiteouts.length > 0) {
      const mknod = requireProgram('mknod', 'unpacking a layer with deletions for overlayfs');
      const script: string[] = ['set -e'];
      for (const w of whiteouts) {
        const dir = parentPath(w);
        const target = (dir ? dir + '/' : '') + basePath(w).slice(WHITEOUT_PREFIX.length);
        await unlink(join(fs, w));
        // The layer may also hold the path itself (a replaced entry): the whiteout only hides
        // lower layers and the entry stays — a directory then must hide what lower layers have
        // in it, as an opaque one.
        const st = await lstat(join(fs, target)).catch(() => undefined);
        if (st?.isDirectory()) opaque.push(target);
        if (st !== undefined) continue;
        script.push(`${shq(mknod)} -m 0 ${shq(join(fs, target))} c 0 0`);
      }
      if (script.length > 1) {
        await mustRun('RUN_LAYER_UNPACK', `making whiteouts of layer ${layer.diffID}`, requireProgram('sh', 'unpacking'), ['-s'], {
          input: script.join('\n') + '\n',
        });
      }
    }
    for (const d of opaque) {
      await unlink(join(fs, d, OPAQUE_WHITEOUT)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      const host = d === '' ? fs : join(fs, d);
      const m = xattrs.get(host) ?? new Map<string, Buffer>();
      m.set(`${this.xattr}.overlay.opaque`, Buffer.from('y'));
      xattrs.set(host, m);
    }
    await writeXattrs(xattrs);
    // Removing markers changed their directories' mtimes: put the layer's back.
    const touched = new Set([...whiteouts.map((w) => parentPath(w)), ...opaque]);
    for (const d of touched) {
      const t = dirTimes.get(d);
      if (t !== undefined) await utimes(d === '' ? fs : join(fs, d), t, t);
    }
    return { opaque: opaque.filter((d) => d !== ''), caps };
  }
}

/** Removes temp directories of dead writers of `name`. */
async function removeStale(root: string, name: string): Promise<void> {
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (!entry.startsWith('.tmp-') || !entry.endsWith(`-${name}`)) continue;
    const pid = Number(entry.slice('.tmp-'.length).split('-')[0]);
    if (!processAlive(pid)) await rm(join(root, entry), { recursive: true, force: true });
  }
}
