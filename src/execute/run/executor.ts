/**
 * The RUN executor the scheduler calls (`Runner` of ../runner.ts): picks the runner (built-in
 * namespaces, or an OCI runtime), the snapshotter (overlayfs, or copying when overlayfs cannot
 * be mounted) and the mode (as root, in a user namespace already, or rootless: a helper in a
 * new user namespace — rootless.ts), then runs each step with `executeStep`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import type { BuildContext } from '../../context/build-context.js';
import type { Image } from '../../image/image.js';
import type { Plan, RunStep } from '../../plan/types.js';
import type { Store } from '../../store/store.js';
import type { RunContext, RunResult, Runner as StepRunner } from '../runner.js';
import { CacheMounts } from './cache.js';
import { executeStep, planSources, type MountSourceResolver } from './execute.js';
import { haveXattrTools } from './xattr.js';
import { findProgram, hostPrograms, inUserNamespace, isRoot, kernelHasOverlay, runProgram } from './host.js';
import { LayerDirs, type XattrNamespace } from './layerdirs.js';
import type { OutputChunk } from './process.js';
import { OciRuntimeRunner } from './runc.js';
import { noSecrets, type SecretProvider } from './secrets.js';
import { CopySnapshotter, OverlaySnapshotter, overlayOptions, type Snapshotter } from './snapshotter.js';
import { UnshareRunner, type Runner } from './unshare.js';

export interface RunExecutorOptions {
  /**
   * `unshare` (default): the built-in runner. `runc`, `crun`, or a path: an OCI runtime run
   * with a generated config.json.
   */
  readonly runtime?: string | undefined;
  /** `auto` (default): overlayfs when it can be mounted here, else copying. */
  readonly snapshotter?: 'auto' | 'overlay' | 'copy' | undefined;
  /**
   * What `RUN --network=default` means: `host` (default — like buildkitd without CNI, the
   * step shares the host's network) or `none` (a network namespace with only `lo`). This is
   * also what `build --network` sets for the whole build.
   */
  readonly network?: 'host' | 'none' | undefined;
  /** Allow `RUN --security=insecure` (BuildKit's `security.insecure` entitlement). */
  readonly allowInsecure?: boolean | undefined;
  readonly secrets?: SecretProvider | undefined;
  /** Build contexts for `RUN --mount=type=bind` (main) and `from=<name>` (named). */
  readonly contexts?:
    | { readonly main?: BuildContext | undefined; readonly named?: ReadonlyMap<string, BuildContext> | Readonly<Record<string, BuildContext>> | undefined }
    | undefined;
  /** The plan, to find stages that `--mount from=` names. */
  readonly plan?: Plan | undefined;
  /** Images that `--mount from=` names (not stages or contexts). */
  readonly image?: ((ref: string) => Promise<Image>) | undefined;
  /** Output of each step, kept apart by step id. */
  readonly onOutput?: ((stepId: string, chunk: OutputChunk) => void) | undefined;
  /**
   * Rootless: `auto` (default) when not root. A helper process runs each step in a new user
   * namespace mapping the caller to root (and the caller's /etc/subuid range, when it has one
   * and newuidmap is installed, to the other ids).
   */
  readonly rootless?: 'auto' | boolean | undefined;
}

/** The extra things a step may get from the scheduler, on top of ../runner.ts RunContext. */
export interface RunStepContext extends RunContext {
  readonly onOutput?: ((chunk: OutputChunk) => void) | undefined;
  readonly secrets?: SecretProvider | undefined;
  readonly sources?: MountSourceResolver | undefined;
}

const probed = new Map<string, Promise<string | undefined>>();

/**
 * Why overlayfs cannot be used for RUN here (undefined when it can): the kernel, the attr
 * tools, and a real mount of a small overlay in a throwaway mount namespace.
 */
export function overlayProblem(store: Store, xattr: XattrNamespace): Promise<string | undefined> {
  const key = `${store.root}\0${xattr}`;
  let p = probed.get(key);
  if (p === undefined) {
    p = (async () => {
      if (!kernelHasOverlay()) return 'the kernel has no overlay filesystem (modprobe overlay)';
      if (!haveXattrTools()) return 'getfattr/setfattr are not installed (Debian package attr)';
      const dir = join(await store.stateDir('run-tmp'), `probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        for (const d of ['l1', 'l2', 'u', 'w', 'm']) await mkdir(join(dir, d), { recursive: true });
        const p = hostPrograms();
        const opts = [`lowerdir=${join(dir, 'l1')}:${join(dir, 'l2')}`, `upperdir=${join(dir, 'u')}`, `workdir=${join(dir, 'w')}`, ...overlayOptions(xattr)].join(',');
        const r = await runProgram(p.unshare, ['--mount', '--propagation', 'private', '--', p.mount, '-t', 'overlay', 'overlay', '-o', opts, join(dir, 'm')]);
        if (r.code !== 0) return `mounting an overlay failed: ${r.stderr.toString().trim() || `exit code ${r.code}`}`;
        return undefined;
      } finally {
        await rm(dir, { recursive: true, force: true }).catch(() => {});
      }
    })();
    probed.set(key, p);
  }
  return p;
}

/** The runner for a `runtime` option value. */
export function makeRunner(runtime: string | undefined): Runner {
  if (runtime === undefined || runtime === 'unshare' || runtime === 'builtin') return new UnshareRunner();
  return new OciRuntimeRunner(runtime);
}

export class RunExecutor implements StepRunner {
  readonly options: RunExecutorOptions;
  private readonly runner: Runner;

  constructor(options: RunExecutorOptions = {}) {
    this.options = options;
    this.runner = makeRunner(options.runtime);
  }

  /** True when steps run through the rootless helper. */
  get rootlessHelper(): boolean {
    const r = this.options.rootless ?? 'auto';
    return r === true ? !inUserNamespace() || !isRoot() : r === 'auto' ? !isRoot() : false;
  }

  /** The snapshotter for a store (probing overlayfs once). */
  async snapshotter(store: Store): Promise<Snapshotter> {
    const xattr: XattrNamespace = inUserNamespace() ? 'user' : 'trusted';
    const want = this.options.snapshotter ?? 'auto';
    if (want === 'copy') return new CopySnapshotter();
    const problem = await overlayProblem(store, xattr);
    if (problem === undefined) return new OverlaySnapshotter(new LayerDirs(store, xattr));
    if (want === 'overlay') {
      throw new BuildImageError('RUN_OVERLAY_UNAVAILABLE', `overlayfs cannot be used for RUN: ${problem}`, {
        suggestion: 'use the copying snapshotter (snapshotter: "copy")',
      });
    }
    return new CopySnapshotter();
  }

  async run(step: RunStep, context: RunContext): Promise<RunResult> {
    const ctx = context as RunStepContext;
    if (this.rootlessHelper) {
      const { runRootless } = await import('./rootless.js');
      return runRootless(this, step, ctx);
    }
    if (!isRoot()) {
      throw new BuildImageError('RUN_NEEDS_ROOT', 'RUN needs root, or a user namespace (rootless mode)', {
        suggestion: 'run as root, or leave rootless mode on (the default when not root)',
      });
    }
    const store = context.store;
    const outcome = await executeStep({
      step,
      parentLayers: context.layers,
      store,
      snapshotter: await this.snapshotter(store),
      runner: this.runner,
      caches: new CacheMounts(store),
      secrets: ctx.secrets ?? this.options.secrets ?? noSecrets,
      sources:
        ctx.sources ??
        planSources({ plan: this.options.plan, stage: context.stage, contexts: this.options.contexts, image: this.options.image }),
      defaultNetwork: this.options.network ?? 'host',
      allowInsecure: this.options.allowInsecure ?? false,
      rootless: inUserNamespace(),
      userxattr: inUserNamespace(),
      signal: context.signal,
      onOutput: (chunk) => {
        ctx.onOutput?.(chunk);
        this.options.onOutput?.(step.id, chunk);
      },
    });
    return { layer: outcome.layer, index: outcome.index };
  }
}

/** A RUN executor (see `RunExecutorOptions`). */
export function createRunExecutor(options: RunExecutorOptions = {}): RunExecutor {
  return new RunExecutor(options);
}

/** Is a program installed (for messages and tests)? */
export function runtimeAvailable(runtime: string): boolean {
  return findProgram(runtime) !== undefined;
}

