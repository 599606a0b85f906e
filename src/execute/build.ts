/**
 * The scheduler: runs a Plan and returns the target stage's image.
 *
 * - Every stage of the plan starts at once; a stage waits for another one only where it needs
 *   its result (FROM <stage>, COPY --from=<stage>), so independent stages run in parallel. At
 *   most `jobs` steps execute at a time (cache hits do not count).
 * - Per step: the cache record of `step.key` in the store, when its layer blob is present, IS
 *   the step's result — nothing is recomputed (`noCache` skips the lookup). Otherwise the step
 *   runs, its layer is streamed (tar → gzip → store, never held whole in memory) and the record
 *   written. Store writes are temp+rename, so a cancelled or failed build leaves nothing half
 *   written; the first failing stage cancels the others.
 * - A stage's image: its base's layers (relabelled with OCI media types) plus its step layers;
 *   the config is the plan's, with rootfs.diff_ids, `created` from the plan and the platform of
 *   the stage. History entries are matched to layers as BuildKit's exporter does
 *   (exporter/containerimage/writer.go `normalizeLayersAndHistory`).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import type { BuildEvent } from '../events.js';
import type { BuildContext } from '../context/build-context.js';
import type { Digest } from '../image/digest.js';
import { makeImage, type Image } from '../image/image.js';
import { layerDescriptor, layerFromBlob, layerFromTar, withLayerMediaType, type Layer } from '../image/layer.js';
import { layerCompression, layerMediaType, type HistoryEntry, type ImageConfig, type Platform } from '../image/schema.js';
import { compareEntryPaths, writeTar, type TarEntry } from '../image/tar.js';
import type { ImageOrigin, Plan, PlannedStage, Step } from '../plan/types.js';
import { readOciLayout } from '../oci/layout.js';
import { processAlive } from '../store/atomic.js';
import type { Store } from '../store/store.js';
import { didYouMean } from '../suggest.js';
import { copyChanges, type FileStepDeps } from './copy.js';
import { layerIndexOf, type Overlay } from './overlay.js';
import type { RootView } from './rootfs.js';
import { unsupportedRunner, type Runner } from './runner.js';
import { withRange } from './sources.js';
import { LayerSnapshots } from './snapshots.js';
import type { UrlFetcher } from './url.js';
import { workdirChanges } from './workdir.js';
import { limiter } from '../limiter.js';

/** The build contexts COPY/ADD read from. */
export interface BuildContexts {
  /** The main context (`docker build <dir>`). */
  readonly main?: BuildContext | undefined;
  /** Named contexts (`--build-context name=dir`). */
  readonly named?: ReadonlyMap<string, BuildContext> | Readonly<Record<string, BuildContext>> | undefined;
}

/** An image the plan names: a registry reference resolved to a digest, or an OCI layout. */
export interface ImageSource {
  readonly ref: string;
  readonly digest: Digest;
  readonly origin: ImageOrigin;
}

/** Pulls a registry image (a stub until src/registry is wired in by the caller). */
export type ImagePuller = (
  ref: string,
  options: { readonly digest: Digest; readonly platform: Platform; readonly signal?: AbortSignal | undefined },
) => Promise<Image>;

/** Turns the plan's image references into Images. */
export interface ImageProvider {
  image(source: ImageSource, platform: Platform, signal?: AbortSignal): Promise<Image>;
}

/**
 * The default provider: OCI layouts (`--build-context name=oci-layout://…`) through
 * `readOciLayout` (by the planned digest), registry images through `puller`.
 */
export function defaultImageProvider(options: { readonly puller?: ImagePuller | undefined } = {}): ImageProvider {
  return {
    async image(source, platform, signal) {
      const origin = source.origin;
      if (origin.kind === 'oci-layout') {
        // By the digest the plan resolved (part of the cache keys), not by tag: a tag moved
        // since planning must not change what is built.
        return readOciLayout(origin.path, { digest: source.digest, platform });
      }
      if (options.puller === undefined) {
        throw new BuildImageError('EXEC_IMAGE_UNAVAILABLE', `cannot get ${source.ref}@${source.digest}: no registry access was configured`, {
          suggestion: 'pass an image puller (or use an OCI layout build context)',
        });
      }
      return options.puller(source.ref, { digest: source.digest, platform, signal });
    },
  };
}

export interface ExecuteDeps {
  readonly store: Store;
  readonly contexts?: BuildContexts | undefined;
  readonly imageProvider?: ImageProvider | undefined;
  /** Executes RUN steps (default: refuses with RUN_NOT_SUPPORTED). */
  readonly runner?: Runner | undefined;
  /** Downloads ADD URLs (default: node:http/https). */
  readonly fetcher?: UrlFetcher | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Progress (src/events.ts): `plan` first; per step `step-start` … `step-done`/`step-error`,
   * or a single `step-cached` for a cache hit (nothing ran); `step-start`/`step-done` for each
   * image a FROM resolves. Step names are BuildKit's `[stage n/total] INSTRUCTION …`.
   */
  readonly onEvent?: ((event: BuildEvent) => void) | undefined;
  /** Ignore cache records (results are still recorded). */
  readonly noCache?: boolean | undefined;
  /** Steps executed at the same time (default: the number of CPUs). */
  readonly jobs?: number | undefined;
  /** Layer indexes, snapshots and views; share one between builds to keep views in memory. */
  readonly snapshots?: LayerSnapshots | undefined;
}

/** The result of one stage. */
export interface StageResult {
  readonly index: number;
  readonly name: string;
  readonly image: Image;
  /** Its root filesystem (built on first use). */
  view(): Promise<RootView>;
}

export interface ExecuteResult {
  /** The target stage's image. */
  readonly image: Image;
  /** Every stage that ran, by index. */
  readonly stages: ReadonlyMap<number, StageResult>;
}

/** Runs `plan` and returns the target image (see the module comment). */
export async function executePlan(plan: Plan, deps: ExecuteDeps): Promise<Image> {
  return (await executeStages(plan, deps)).image;
}

/** Runs `plan` and returns the target image and every stage's result. */
export async function executeStages(plan: Plan, deps: ExecuteDeps): Promise<ExecuteResult> {
  return new Build(plan, deps).run();
}


/**
 * Joins small chunks (tar headers, small files) into chunks of about 64 KiB: gzip runs each
 * write on the thread pool, so thousands of 512-byte writes spend their time in round trips.
 */
function coalesce(input: Readable, size = 64 * 1024): Readable {
  let parts: Buffer[] = [];
  let have = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= size) {
        const joined = Buffer.concat(parts);
        parts = [];
        have = 0;
        cb(null, joined);
      } else cb();
    },
    flush(cb) {
      cb(null, have > 0 ? Buffer.concat(parts) : undefined);
    },
  });
  return pipeline(input, out, () => {}) as unknown as Readable;
}

/** The layer a step's changes make: streamed into the store, its index recorded. */
export async function writeLayer(store: Store, snapshots: LayerSnapshots, overlay: Overlay, epoch: number | undefined, signal?: AbortSignal): Promise<Layer> {
  const { entries, index } = overlay.diff(epoch);
  const guarded: TarEntry[] =
    signal === undefined
      ? entries
      : entries.map((e) =>
          e.open === undefined
            ? e
            : {
                ...e,
                open: () => {
                  signal.throwIfAborted();
                  return e.open!();
                },
              },
        );
  const layer = await layerFromTar(() => coalesce(writeTar(guarded, { clampMtime: epoch })), { store });
  await snapshots.recordIndex(layerIndexOf(layer.diffID, index, compareEntryPaths));
  return layer;
}

/** BuildKit's `normalizeLayersAndHistory`: one non-empty history entry per layer. */
export function normalizeHistory(history: readonly HistoryEntry[], layers: number, created: string): HistoryEntry[] {
  let nonEmpty = history.filter((h) => !h.empty_layer).length;
  let out = [...history];
  if (nonEmpty > layers) {
    let l = 0;
    out = out.map((h) => {
      if (l >= layers) h = { ...h, empty_layer: true };
      if (!h.empty_layer) l++;
      return h;
    });
    nonEmpty = layers;
  }
  for (; nonEmpty < layers; nonEmpty++) out.push({ created, comment: 'buildkit.exporter.image.v0' });
  return out;
}

/** The image of a stage: config from the plan, layers as built. */
export function stageImage(plan: Plan, stage: PlannedStage, layers: readonly Layer[]): Image {
  const platform = stage.platform ?? plan.platform;
  const { rootfs: _ignored, ...planned } = stage.config as ImageConfig;
  const config: ImageConfig = {
    ...planned,
    created: plan.created,
    architecture: platform.architecture,
    os: platform.os,
    variant: platform.variant,
    'os.version': platform['os.version'],
    'os.features': platform['os.features'],
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history: normalizeHistory(planned.history ?? [], layers.length, plan.created),
  };
  return makeImage({ config, layers, format: 'oci' });
}

function ociLayers(layers: readonly Layer[]): Layer[] {
  return layers.map((l) => withLayerMediaType(l, layerMediaType('oci', layerCompression(l.mediaType))));
}

class Build {
  private readonly store: Store;
  private readonly snapshots: LayerSnapshots;
  private readonly runner: Runner;
  private readonly images: ImageProvider;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly limit: ReturnType<typeof limiter>;
  private readonly starters = new Map<number, PlannedStage>();
  private readonly results = new Map<number, Promise<StageResult>>();
  private readonly imageCache = new Map<string, Promise<Image>>();

  constructor(
    private readonly plan: Plan,
    private readonly deps: ExecuteDeps,
  ) {
    this.store = deps.store;
    this.snapshots = deps.snapshots ?? new LayerSnapshots(deps.store);
    this.runner = deps.runner ?? unsupportedRunner;
    this.images = deps.imageProvider ?? defaultImageProvider();
    this.signal = deps.signal === undefined ? this.controller.signal : AbortSignal.any([deps.signal, this.controller.signal]);
    this.limit = limiter(Math.max(1, deps.jobs ?? availableParallelism()));
    for (const s of plan.stages) this.starters.set(s.index, s);
  }

  private emit(event: BuildEvent): void {
    try {
      this.deps.onEvent?.(event);
    } catch {
      // A broken progress display must not break the build.
    }
  }

  async run(): Promise<ExecuteResult> {
    this.signal.throwIfAborted();
    if (!this.starters.has(this.plan.target)) {
      throw new BuildImageError('EXEC_INTERNAL', `the plan's target stage ${this.plan.target} is not among its stages`);
    }
    await this.removeStaleWorkDirs();
    this.emit({ type: 'plan', stages: this.plan.stages.length, steps: this.plan.stages.reduce((n, st) => n + st.steps.length, 0) });
    const all = this.plan.stages.map((s) => this.stage(s.index));
    let first: unknown;
    const settled = await Promise.allSettled(
      all.map((p) =>
        p.catch((err: unknown) => {
          if (first === undefined) {
            first = err;
            this.controller.abort(err);
          }
          throw err;
        }),
      ),
    );
    if (first !== undefined || settled.some((s) => s.status === 'rejected')) {
      throw first ?? (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
    }
    const stages = new Map<number, StageResult>();
    for (const s of settled) {
      const r = (s as PromiseFulfilledResult<StageResult>).value;
      stages.set(r.index, r);
    }
    return { image: stages.get(this.plan.target)!.image, stages };
  }

  /** A stage's result (started on first request). */
  stage(index: number): Promise<StageResult> {
    let p = this.results.get(index);
    if (p === undefined) {
      const stage = this.starters.get(index);
      if (stage === undefined) {
        return Promise.reject(new BuildImageError('EXEC_INTERNAL', `stage ${index} is needed but is not in the plan`));
      }
      p = this.runStage(stage);
      p.catch(() => {});
      this.results.set(index, p);
    }
    return p;
  }

  private image(source: ImageSource, platform: Platform): Promise<Image> {
    const key = `${JSON.stringify(source.origin)}|${source.ref}|${source.digest}`;
    let p = this.imageCache.get(key);
    if (p === undefined) {
      p = this.images.image(source, platform, this.signal);
      this.imageCache.set(key, p);
    }
    return p;
  }

  private async baseLayers(stage: PlannedStage): Promise<Layer[]> {
    const base = stage.base;
    switch (base.kind) {
      case 'scratch':
        return [];
      case 'stage':
        return [...(await this.stage(base.stage)).image.layers];
      case 'image': {
        const id = `s${stage.index}.from`;
        const started = Date.now();
        this.emit({ type: 'step-start', id, name: `${this.prefix(stage, 1)} FROM ${base.ref}@${base.digest}`, stage: stage.name, time: started });
        try {
          const image = await this.image(base, stage.platform ?? this.plan.platform);
          const now = Date.now();
          this.emit({ type: 'step-done', id, time: now, duration: now - started });
          return ociLayers(image.layers);
        } catch (error) {
          const now = Date.now();
          this.emit({ type: 'step-error', id, time: now, duration: now - started, message: (error as Error).message });
          throw error;
        }
      }
    }
  }

  /**
   * BuildKit's progress prefix `[stage n/total]`: the total counts a FROM of an image and the
   * COPY/ADD/RUN/WORKDIR steps; a Dockerfile with one stage has no stage name in it.
   */
  private prefix(stage: PlannedStage, n: number): string {
    const total = stage.steps.length + (stage.base.kind === 'image' ? 1 : 0);
    return this.plan.stageCount === 1 ? `[${n}/${total}]` : `[${stage.name} ${n}/${total}]`;
  }

  private async runStage(stage: PlannedStage): Promise<StageResult> {
    this.signal.throwIfAborted();
    const layers = await this.baseLayers(stage);
    for (const [i, step] of stage.steps.entries()) {
      this.signal.throwIfAborted();
      const name = `${this.prefix(stage, i + 1 + (stage.base.kind === 'image' ? 1 : 0))} ${step.name}`;
      layers.push(await this.runStep(stage, step, name, [...layers]));
    }
    const image = stageImage(this.plan, stage, layers);
    let view: Promise<RootView> | undefined;
    return {
      index: stage.index,
      name: stage.name,
      image,
      view: () => (view ??= this.snapshots.view(image.layers)),
    };
  }

  private async cached(step: Step): Promise<Layer | undefined> {
    if (this.deps.noCache) return undefined;
    const record = await this.store.getCacheRecord(step.key);
    const l = record?.layer;
    if (l === undefined) return undefined;
    if (!(await this.store.hasBlob(l.descriptor.digest, l.descriptor.size))) return undefined;
    return layerFromBlob(this.store, { ...l.descriptor, diffID: l.diffID });
  }

  private async runStep(stage: PlannedStage, step: Step, name: string, below: readonly Layer[]): Promise<Layer> {
    // The stages a step reads (COPY --from=<stage>, RUN --mount=from=<stage>) finish first: a
    // step starts (or shows CACHED) — and takes one of the `jobs` slots — only once its inputs
    // exist, as a BuildKit vertex does. Waiting for them inside a slot deadlocked when every
    // slot waited (jobs=1).
    await Promise.all(stageInputs(step).map((i) => this.stage(i)));
    const hit = await this.cached(step);
    if (hit !== undefined) {
      this.emit({ type: 'step-cached', id: step.id, name, stage: stage.name, time: Date.now() });
      return hit;
    }
    // A step starts when it gets one of the `jobs` slots, not when it is queued.
    let started: number | undefined;
    try {
      // The slot is held until the step is recorded and reported done, so the log never shows
      // more steps running than `jobs`.
      return await this.limit(async () => {
        started = Date.now();
        this.emit({ type: 'step-start', id: step.id, name, stage: stage.name, time: started });
        const layer = await this.execute(stage, step, below);
        await this.store.putCacheRecord(step.key, { layer: { descriptor: layerDescriptor(layer), diffID: layer.diffID } });
        const now = Date.now();
        this.emit({ type: 'step-done', id: step.id, time: now, duration: now - started });
        return layer;
      });
    } catch (error) {
      const now = Date.now();
      if (started === undefined) {
        // Failed (or was cancelled) before it got a slot: it never started.
        started = now;
        this.emit({ type: 'step-start', id: step.id, name, stage: stage.name, time: now });
      }
      this.emit({ type: 'step-error', id: step.id, time: now, duration: now - started, message: error instanceof Error ? error.message : String(error) });
      throw withRange(error, step.range);
    }
  }

  private context(name: string | undefined): BuildContext {
    const contexts = this.deps.contexts;
    if (name === undefined) {
      if (contexts?.main === undefined) throw new BuildImageError('EXEC_CONTEXT_MISSING', 'this build needs a build context, and none was given');
      return contexts.main;
    }
    const named = contexts?.named;
    const map = named === undefined ? new Map<string, BuildContext>() : named instanceof Map ? named : new Map(Object.entries(named));
    const ctx = map.get(name);
    if (ctx === undefined) {
      throw new BuildImageError('EXEC_CONTEXT_MISSING', `no build context named "${name}" was given`, {
        suggestion: didYouMean(name, map.keys()) ?? `pass --build-context ${name}=<dir>`,
      });
    }
    return ctx;
  }

  private async workDirRoot(): Promise<string> {
    return this.store.stateDir('tmp');
  }

  private async removeStaleWorkDirs(): Promise<void> {
    const root = await this.workDirRoot();
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const pid = Number(name.split('-')[1]);
      if (name.startsWith('step-') && !processAlive(pid)) await rm(join(root, name), { recursive: true, force: true });
    }
  }

  private async execute(stage: PlannedStage, step: Step, below: readonly Layer[]): Promise<Layer> {
    this.signal.throwIfAborted();
    const view = () => this.snapshots.view(below);
    if (step.kind === 'run') {
      const result = await this.runner.run(step, {
        store: this.store,
        snapshots: this.snapshots,
        layers: below,
        view,
        stage: (i) => this.stage(i),
        platform: stage.platform ?? this.plan.platform,
        signal: this.signal,
      });
      if (result.index !== undefined) await this.snapshots.recordIndex(result.index);
      return result.layer;
    }
    const workDirs: string[] = [];
    try {
      let overlay: Overlay;
      if (step.kind === 'workdir') {
        overlay = await workdirChanges(step, await view());
      } else {
        const fileDeps: FileStepDeps = {
          parent: view,
          context: (name) => this.context(name),
          stageView: async (i) => {
            const r = await this.stage(i);
            return { view: await r.view(), name: r.name };
          },
          imageView: async (source) => this.snapshots.view(ociLayers((await this.image(source, stage.platform ?? this.plan.platform)).layers)),
          workDir: async () => {
            const dir = await mkdtemp(join(await this.workDirRoot(), `step-${process.pid}-`));
            workDirs.push(dir);
            return dir;
          },
          fetcher: this.deps.fetcher,
          signal: this.signal,
        };
        overlay = await copyChanges(step, fileDeps);
      }
      return await writeLayer(this.store, this.snapshots, overlay, step.epoch, this.signal);
    } finally {
      for (const d of workDirs) await rm(d, { recursive: true, force: true });
    }
  }
}

/** The stages a step reads files from (not its own stage's base). */
function stageInputs(step: Step): number[] {
  const out = new Set<number>();
  if (step.kind === 'copy') for (const src of step.sources) if (src.kind === 'stage') out.add(src.stage);
  // (Hand-made plans in tests may leave mountSources out.)
  if (step.kind === 'run') for (const src of step.mountSources ?? []) if (src?.kind === 'stage') out.add(src.stage);
  return [...out];
}
