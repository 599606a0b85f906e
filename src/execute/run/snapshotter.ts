/**
 * A step's root filesystem and what it changed.
 *
 * - `OverlaySnapshotter`: the root is an overlay mount of the parent's layer directories
 *   (layerdirs.ts, unpacked once per layer) with a fresh upper directory; the mount itself is
 *   made by the runner inside the step's mount namespace, so it disappears with the step even
 *   if this process is killed. The layer is read from the upper directory alone (differ.ts).
 *   An overlay mount names its lower directories in one page of options: with relative names
 *   from the layer directory root (containerd does the same) about 50 fit; longer stacks get
 *   their bottom layers flattened into one directory (in blocks of 32 layers, so a flattened
 *   prefix serves the next steps too). BuildKit's `compactLongOverlayMount` bind-mounts an
 *   extra overlay instead, for the same page limit.
 * - `CopySnapshotter`: where overlayfs cannot be mounted, the parent's layers are applied into
 *   a base directory and copied (`cp -a`) into the root; the walking differ compares the two.
 *   Same layers, slower (it copies and compares the whole image).
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { applyLayer } from '../../image/extract.js';
import type { Layer } from '../../image/layer.js';
import { collapseOpaque, overlayChanges, walkChanges, type CapabilityOf, type Change, type RunEntry } from './differ.js';
import { DirView, StackView, type FsView } from './fsview.js';
import { haveXattrTools, readXattrsRecursive } from './xattr.js';
import { mustRun, requireProgram } from './host.js';
import type { LayerDir, LayerDirs, XattrNamespace } from './layerdirs.js';

/** A file system the runner mounts (inside the step's mount namespace). */
export type FsSpec =
  | {
      readonly kind: 'overlay';
      /** Directory the lower names are relative to (the mount runs there). */
      readonly cwd: string;
      /** Lower directories, top first, relative to `cwd` (or absolute). */
      readonly lower: readonly string[];
      /** Upper and work directories (absolute); absent for a read-only mount. */
      readonly upper?: string | undefined;
      readonly work?: string | undefined;
      readonly options: readonly string[];
    }
  /** A directory bind-mounted as it is. */
  | { readonly kind: 'dir'; readonly path: string };

/** The result of a step's run, ready to be written as a layer. */
export interface StepDiff {
  readonly changes: readonly Change[];
  /** The tree after the step (entries are read from here). */
  readonly next: FsView;
  readonly caps: CapabilityOf;
}

export interface PreparedRoot {
  readonly rootfs: FsSpec;
  /** The parent filesystem (lookups before the run: users, stubs, working directory). */
  readonly base: FsView;
  /** Where the step's writes land on disk (overlay upper, or the copied root). */
  readonly writable: string;
  /** What the step changed (call after the run). */
  diff(signal?: AbortSignal): Promise<StepDiff>;
}

export interface Snapshotter {
  readonly kind: 'overlay' | 'copy';
  /** The root for a step over `layers` (bottom first), with its files under `workDir`. */
  prepare(layers: readonly Layer[], workDir: string, signal?: AbortSignal): Promise<PreparedRoot>;
  /**
   * A filesystem made of `layers` for a bind mount (`RUN --mount from=`): read-only, or
   * writable with writes discarded (a scratch upper under `workDir`).
   */
  source(layers: readonly Layer[], workDir: string, writable: boolean, signal?: AbortSignal): Promise<{ spec: FsSpec; view: FsView }>;
  /** A directory for a bind mount, writable with writes discarded when asked. */
  dirSource(path: string, workDir: string, writable: boolean, signal?: AbortSignal): Promise<FsSpec>;
  /**
   * Keeps what a step wrote as the directory of the layer it made, so that the next step
   * need not unpack it (the files of `entries` are moved away from where they are).
   */
  adopt?(layer: Layer, entries: readonly RunEntry[], epoch: number | undefined): Promise<void>;
}

/** Overlay options: BuildKit's differ needs redirect_dir off, and index is of no use here. */
export function overlayOptions(xattr: XattrNamespace): string[] {
  return xattr === 'user' ? ['userxattr'] : ['index=off', 'redirect_dir=off'];
}

const PAGE_BUDGET = 4096 - 512;
const BLOCK = 32;
const MAX_LOWERS = 400;

export class OverlaySnapshotter implements Snapshotter {
  readonly kind = 'overlay';

  constructor(readonly dirs: LayerDirs) {}

  private get options(): string[] {
    return overlayOptions(this.dirs.xattr);
  }

  /** Layer directories for `layers`, top first, flattened to fit one mount. */
  private async lowers(layers: readonly Layer[], fixed: number, signal?: AbortSignal): Promise<{ root: string; dirs: LayerDir[]; names: string[] }> {
    const root = await this.dirs.root();
    const perLayer = 64 + 4 + 1; // "<hex>/fs:"
    const fit = Math.max(2, Math.min(MAX_LOWERS, Math.floor((PAGE_BUDGET - fixed - 'lowerdir='.length) / perLayer)));
    let bottom: Layer[] = [];
    let top = [...layers];
    if (layers.length > fit) {
      const need = layers.length - (fit - 1);
      const count = Math.min(layers.length, Math.ceil(need / BLOCK) * BLOCK);
      bottom = layers.slice(0, count);
      top = layers.slice(count);
    }
    const dirs: LayerDir[] = [];
    for (const l of top) dirs.push(await this.dirs.layer(l, signal));
    if (bottom.length > 0) dirs.unshift(await this.dirs.chain(bottom, signal));
    dirs.reverse(); // top first
    return { root, dirs, names: dirs.map((d) => relative(root, d.dir)) };
  }

  private async emptyLower(workDir: string): Promise<LayerDir> {
    const dir = join(workDir, 'empty');
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return { dir, opaque: new Set(), caps: new Map() };
  }

  async prepare(layers: readonly Layer[], workDir: string, signal?: AbortSignal): Promise<PreparedRoot> {
    const upper = join(workDir, 'upper');
    const work = join(workDir, 'work');
    await mkdir(upper, { recursive: true, mode: 0o755 });
    await mkdir(work, { recursive: true, mode: 0o700 });
    const fixed = `,upperdir=${upper},workdir=${work},${this.options.join(',')}`.length;
    let { root, dirs, names } = await this.lowers(layers, fixed, signal);
    if (dirs.length === 0) {
      const empty = await this.emptyLower(workDir);
      dirs = [empty];
      names = [empty.dir];
    }
    const base = new StackView(dirs);
    const capsByHost = new Map<string, Buffer>();
    for (const d of dirs) for (const [rel, v] of d.caps) capsByHost.set(join(d.dir, rel), v);
    const ns = this.dirs.xattr;
    return {
      rootfs: { kind: 'overlay', cwd: root, lower: names, upper, work, options: this.options },
      base,
      writable: upper,
      async diff(sig?: AbortSignal): Promise<StepDiff> {
        const attrs = await readXattrsRecursive(upper, `^(${ns}\\.overlay\\.(opaque|redirect)|security\\.capability)$`);
        const opaque = new Set<string>();
        const redirects = new Set<string>();
        const upperCaps = new Map<string, Buffer>();
        for (const [path, values] of attrs) {
          const rel = path === upper ? '' : path.slice(upper.length + 1);
          if (values.get(`${ns}.overlay.opaque`)?.toString() === 'y') opaque.add(rel);
          if (values.has(`${ns}.overlay.redirect`)) redirects.add(rel);
          const cap = values.get('security.capability');
          if (cap !== undefined) upperCaps.set(path, cap);
        }
        const upperView = new DirView(upper, true);
        const capsBase: CapabilityOf = (e) => capsByHost.get(e.hostPath);
        const caps: CapabilityOf = (e) => upperCaps.get(e.hostPath);
        const raw = await overlayChanges(upper, base, upperView, { opaque, redirects, capsBase, capsUpper: caps, signal: sig });
        return { changes: await collapseOpaque(raw, base), next: upperView, caps };
      },
    };
  }

  async source(layers: readonly Layer[], workDir: string, writable: boolean, signal?: AbortSignal): Promise<{ spec: FsSpec; view: FsView }> {
    await mkdir(workDir, { recursive: true });
    const upper = join(workDir, 'upper');
    const work = join(workDir, 'work');
    const fixed = writable ? `,upperdir=${upper},workdir=${work},${this.options.join(',')}`.length : this.options.join(',').length + 1;
    let { root, dirs, names } = await this.lowers(layers, fixed, signal);
    // A read-only overlay needs two lower directories; an empty one makes up the second.
    if (dirs.length < 2 && !writable) {
      const empty = await this.emptyLower(workDir);
      dirs = [...dirs, empty];
      names = [...names, empty.dir];
    }
    if (dirs.length === 0) {
      const empty = await this.emptyLower(workDir);
      dirs = [empty];
      names = [empty.dir];
    }
    if (writable) {
      await mkdir(upper, { recursive: true, mode: 0o755 });
      await mkdir(work, { recursive: true, mode: 0o700 });
    }
    return {
      spec: { kind: 'overlay', cwd: root, lower: names, ...(writable ? { upper, work } : {}), options: this.options },
      view: new StackView(dirs),
    };
  }

  dirSource(path: string, workDir: string, writable: boolean): Promise<FsSpec> {
    return overlayDirSource(this.options, path, workDir, writable);
  }

  async adopt(layer: Layer, entries: readonly RunEntry[], epoch: number | undefined): Promise<void> {
    await this.dirs.adopt(layer, entries, epoch);
  }
}

/** Overlay: the directory as the only lower layer under a scratch upper. */
async function overlayDirSource(options: string[], path: string, workDir: string, writable: boolean): Promise<FsSpec> {
  if (!writable) return { kind: 'dir', path };
  if (!(await stat(path)).isDirectory()) {
    // A single file: a private copy takes the writes.
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const copy = join(workDir, 'file');
    await copyFile(path, copy);
    return { kind: 'dir', path: copy };
  }
  const upper = join(workDir, 'upper');
  const work = join(workDir, 'work');
  await mkdir(upper, { recursive: true, mode: 0o755 });
  await mkdir(work, { recursive: true, mode: 0o700 });
  return { kind: 'overlay', cwd: workDir, lower: [path], upper, work, options };
}

/** Applies `layers` in order into `dir`. */
async function materialize(layers: readonly Layer[], dir: string, signal?: AbortSignal): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const l of layers) {
    signal?.throwIfAborted();
    await applyLayer(dir, await l.openUncompressed());
  }
}

/** Capabilities of a tree (empty without the attr tools). */
async function capsOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (!haveXattrTools()) return out;
  for (const [path, values] of await readXattrsRecursive(dir, '^security\\.capability$')) {
    const v = values.get('security.capability');
    if (v !== undefined) out.set(path, v);
  }
  return out;
}

export class CopySnapshotter implements Snapshotter {
  readonly kind = 'copy';

  async prepare(layers: readonly Layer[], workDir: string, signal?: AbortSignal): Promise<PreparedRoot> {
    const baseDir = join(workDir, 'base');
    const rootDir = join(workDir, 'root');
    await materialize(layers, baseDir, signal);
    const cp = requireProgram('cp', 'the copying snapshotter');
    await mustRun('RUN_SNAPSHOT_FAILED', 'copying the root filesystem', cp, ['-a', '--', `${baseDir}/.`, rootDir], { signal });
    const base = new DirView(baseDir);
    return {
      rootfs: { kind: 'dir', path: rootDir },
      base,
      writable: rootDir,
      async diff(sig?: AbortSignal): Promise<StepDiff> {
        const [baseCaps, rootCaps] = await Promise.all([capsOf(baseDir), capsOf(rootDir)]);
        const next = new DirView(rootDir);
        const capsBase: CapabilityOf = (e) => baseCaps.get(e.hostPath);
        const caps: CapabilityOf = (e) => rootCaps.get(e.hostPath);
        const raw = await walkChanges(base, next, { capsBase, capsNext: caps, signal: sig });
        return { changes: await collapseOpaque(raw, base), next, caps };
      },
    };
  }

  async source(layers: readonly Layer[], workDir: string, _writable: boolean, signal?: AbortSignal): Promise<{ spec: FsSpec; view: FsView }> {
    const dir = join(workDir, 'tree');
    await materialize(layers, dir, signal);
    return { spec: { kind: 'dir', path: dir }, view: new DirView(dir) };
  }

  async dirSource(path: string, workDir: string, writable: boolean, signal?: AbortSignal): Promise<FsSpec> {
    if (!writable) return { kind: 'dir', path };
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const copy = join(workDir, 'copy');
    const cp = requireProgram('cp', 'the copying snapshotter');
    await mustRun('RUN_SNAPSHOT_FAILED', `copying ${path}`, cp, ['-a', '--', path, copy], { signal });
    return { kind: 'dir', path: copy };
  }
}
