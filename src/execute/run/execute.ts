/**
 * One RUN step, start to end, as BuildKit's exec op and runc executor do it:
 *
 * 1. the root: the parent's layers as an overlay (or a copy) with a fresh writable part;
 * 2. the user (USER by name or uid[:gid], groups from the image) and the environment (the
 *    step's ENV and ARGs, plus the default PATH when it has none, as llb.Exec adds it);
 * 3. the working directory, created if missing (0755, owned by the step's user);
 * 4. the mounts — cache, bind (context, stage, image), tmpfs, secret, and the heredoc files
 *    at /dev/pipes — and the generated /etc/hosts and /etc/resolv.conf;
 * 5. the run (runner.ts: built-in namespaces or an OCI runtime); a non-zero exit fails with
 *    the instruction, its line, the exit code and the last lines of output;
 * 6. the mount stubs removed (stubs.ts), the changes diffed and written as a layer into the
 *    store, mtimes clamped to SOURCE_DATE_EPOCH when it is set.
 * Everything the step made on disk lives in one work directory, removed at the end whatever
 * happened; the mounts live in the step's mount namespace and go with it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BuildImageError, type SourceRange } from '../../errors.js';
import type { BuildContext } from '../../context/build-context.js';
import type { Image } from '../../image/image.js';
import { layerFromTar, type Layer } from '../../image/layer.js';
import { writeTar, type TarEntry } from '../../image/tar.js';
import type { Mount } from '../../instructions/mount.js';
import type { Plan, RunStep } from '../../plan/types.js';
import { processAlive } from '../../store/atomic.js';
import type { Store } from '../../store/store.js';
import { indexEntryFromHeader, type LayerIndex, LAYER_INDEX_VERSION } from '../snapshots.js';
import { CacheMounts, cacheKey, type CacheDir } from './cache.js';
import { materializeContext } from './contextdir.js';
import { cpTree, materializeView } from './copytree.js';
import { changeEntries } from './differ.js';
import { deleteStaleContainers } from './runc.js';
import { resolvePath } from './fsview.js';
import type { OutputChunk } from './process.js';
import type { SecretProvider } from './secrets.js';
import type { FsSpec, Snapshotter } from './snapshotter.js';
import { DEFAULT_HOSTNAME, hostsFileContent, resolvConfContent, type ContainerSpec, type MkdirOp, type SpecMount } from './spec.js';
import { findStubs, removeStubs } from './stubs.js';
import type { Runner } from './unshare.js';
import { resolveExecUser } from './user.js';

/** llb's default PATH for Linux (util/system `DefaultPathEnvUnix`). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where a `--mount from=` points, resolved by the caller. */
export type MountSource =
  | { readonly kind: 'layers'; readonly layers: readonly Layer[]; readonly identity: string }
  | { readonly kind: 'context'; readonly context: BuildContext; readonly identity: string }
  /** A directory that already is the mount's source, its `source=` path applied (rootless.ts). */
  | { readonly kind: 'dir'; readonly path: string; readonly identity: string };

/**
 * Resolves `from` ('' = the main context) of the `index`th mount of the step to a source.
 */
export type MountSourceResolver = (from: string, mount: Mount, index: number) => Promise<MountSource>;

/** What a failed RUN reports (besides the BuildImageError fields). */
export class RunStepError extends BuildImageError {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly outputTail: readonly string[],
    details: { range?: SourceRange | undefined; suggestion?: string | undefined } = {},
    code = 'RUN_FAILED',
  ) {
    super(code, message, details);
  }
}

export interface StepJob {
  readonly step: RunStep;
  readonly parentLayers: readonly Layer[];
  readonly store: Store;
  readonly snapshotter: Snapshotter;
  readonly runner: Runner;
  readonly caches: CacheMounts;
  readonly secrets: SecretProvider;
  readonly sources: MountSourceResolver;
  /** What `--network=default` means. */
  readonly defaultNetwork: 'host' | 'none';
  readonly allowInsecure: boolean;
  readonly rootless: boolean;
  readonly userxattr: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly onOutput?: ((chunk: OutputChunk) => void) | undefined;
  /** Lines of output kept for the error of a failing step (default 10). */
  readonly tailLines?: number | undefined;
}

export interface StepOutcome {
  readonly layer: Layer;
  /** The layer's index (for the scheduler's views). */
  readonly index: LayerIndex;
  /** True when the step changed nothing (the layer is an empty tar). */
  readonly empty: boolean;
}

/** Keeps the last lines of a step's output. */
class Tail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}
  push(data: Buffer): void {
    const text = this.partial + data.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines = this.lines.slice(-this.max);
  }
  get(): string[] {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    return all.slice(-this.max);
  }
}

/** The work directory root (stale ones of dead processes are removed). */
export async function workRoot(store: Store): Promise<string> {
  const root = await store.stateDir('run-tmp');
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
      await deleteStaleContainers(join(root, name));
      await rm(join(root, name), { recursive: true, force: true }).catch(() => {});
    }
  }
  return root;
}

function absTarget(target: string, cwd: string): string {
  return posix.normalize(posix.isAbsolute(target) ? target : posix.join('/', cwd, target));
}

function stepError(step: RunStep, code: string, message: string, suggestion?: string): BuildImageError {
  return new BuildImageError(code, message, { range: step.range, suggestion });
}

/** The `id` and file target of a secret mount (BuildKit dockerfile2llb `dispatchSecret`). */
function secretTarget(m: Mount): { id: string; target: string | undefined; envName: string | undefined } {
  let id = m.source !== '' ? m.source : m.cacheId;
  if (id === '') id = posix.basename(m.target);
  const envName = m.env === undefined ? undefined : m.env !== '' ? m.env : id;
  let target: string | undefined = m.target !== '' ? m.target : undefined;
  if (m.env === undefined && target === undefined) target = `/run/secrets/${posix.basename(id)}`;
  return { id, target, envName };
}

/** Runs one step (see the module comment). */
export async function executeStep(job: StepJob): Promise<StepOutcome> {
  const { step, signal } = job;
  signal?.throwIfAborted();
  if (step.security === 'insecure' && !job.allowInsecure) {
    throw stepError(step, 'RUN_INSECURE_NOT_ALLOWED', 'security.insecure is not allowed', 'allow it with --allow security.insecure');
  }
  const work = join(await workRoot(job.store), `${process.pid}-${step.id.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(4).toString('hex')}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  const caches: CacheDir[] = [];
  try {
    const prepared = await job.snapshotter.prepare(job.parentLayers, join(work, 'root'), signal);
    const base = prepared.base;
    let user;
    try {
      user = await resolveExecUser(step.user, base);
    } catch (err) {
      if (err instanceof BuildImageError) throw stepError(step, err.code, err.message, err.suggestion);
      throw err;
    }
    const env = step.env.some((e) => e.startsWith('PATH=')) ? [...step.env] : [...step.env, DEFAULT_PATH_ENV];
    // runc sets HOME from /etc/passwd when the environment has none; the built-in runner too.
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const cwd = posix.normalize(step.workdir === '' ? '/' : step.workdir);
    // The working directory: created if missing, owned by the step's user.
    const mkdirs: MkdirOp[] = [];
    const cwdReal = await resolvePath(base, cwd);
    {
      let sofar = '';
      for (const part of cwdReal.split('/').filter(Boolean)) {
        sofar = sofar === '' ? part : `${sofar}/${part}`;
        const e = await base.get(sofar);
        if (e === undefined) mkdirs.push({ path: '/' + sofar, mode: 0o755, uid: user.uid, gid: user.gid });
        else if (!e.stat.isDirectory()) {
          throw stepError(step, 'RUN_WORKDIR_INVALID', `working dir ${cwd} points to invalid target: /${sofar} is not a directory`);
        }
      }
    }
    // Mounts.
    const inputs: Buffer[] = [];
    const mounts: SpecMount[] = [];
    const secretEnv: { name: string; input: number }[] = [];
    const targets: string[] = [];
    let n = 0;
    for (const m of step.mounts) {
      signal?.throwIfAborted();
      const i = n++;
      if (m.type === 'ssh') {
        if (m.required) {
          throw stepError(step, 'RUN_SSH_UNAVAILABLE', `no SSH key ${JSON.stringify(m.cacheId || 'default')} forwarded from the client`, 'SSH agent forwarding is not supported');
        }
        continue; // BuildKit skips an optional SSH mount it cannot serve
      }
      if (m.type === 'secret') {
        const s = secretTarget(m);
        const value = await job.secrets.get(s.id);
        if (value === undefined) {
          if (m.required) throw stepError(step, 'RUN_SECRET_NOT_FOUND', `secret ${s.id}: not found`, `pass it with --secret id=${s.id},src=<file>`);
          continue;
        }
        const input = inputs.push(Buffer.from(value)) - 1;
        if (s.envName !== undefined) secretEnv.push({ name: s.envName, input });
        if (s.target !== undefined) {
          const dest = absTarget(s.target, cwd);
          targets.push(dest);
          mounts.push({ type: 'input', destination: dest, files: [{ name: '', input, mode: m.mode ?? 0o400, uid: m.uid ?? 0, gid: m.gid ?? 0 }] });
        }
        continue;
      }
      const dest = absTarget(m.target, cwd);
      if (dest === '/') throw stepError(step, 'RUN_MOUNT_INVALID', `invalid mount target "${m.target}"`);
      targets.push(dest);
      if (m.type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', destination: dest, size: m.sizeLimit });
        continue;
      }
      const subpath = posix.normalize(posix.join('/', m.source)).slice(1);
      if (m.type === 'cache') {
        const from = m.from !== '' ? await job.sources(m.from, m, i) : undefined;
        const key = cacheKey(m, posix.normalize(m.target), from?.identity);
        const init = from === undefined ? undefined : async (dir: string) => copySourceInto(job, from, from.kind === 'dir' ? '' : subpath, dir, join(work, `cache-src-${i}`));
        const cache = await job.caches.acquire(m, key, init, signal);
        caches.push(cache);
        mounts.push({ type: 'bind', destination: dest, source: { kind: 'dir', path: cache.dir }, subpath: from === undefined ? subpath : '', readonly: m.readOnly });
        continue;
      }
      // bind
      const source = await job.sources(m.from, m, i);
      const fs = await sourceFs(job, source, subpath, !m.readOnly, join(work, `src-${i}`));
      mounts.push({ type: 'bind', destination: dest, source: fs.spec, subpath: fs.subpath, readonly: m.readOnly });
    }
    // Heredoc files with a shebang, at /dev/pipes (in the runtime's /dev tmpfs).
    if (step.files.length > 0) {
      const files = step.files.map((f) => ({ name: posix.basename(f.path), input: inputs.push(Buffer.from(f.data, 'utf8')) - 1, mode: f.mode, uid: 0, gid: 0 }));
      mounts.push({ type: 'input', destination: '/dev/pipes', files });
      targets.push('/dev/pipes');
    }
    // Resolve destinations in the root (symlinks followed inside it) and find the stubs.
    const resolved: SpecMount[] = [];
    for (const mnt of mounts) resolved.push({ ...mnt, destination: '/' + (await resolvePath(base, mnt.destination)) });
    resolved.sort((a, b) => depth(a.destination) - depth(b.destination));
    const stubs = await findStubs(base, targets);
    const network = step.network === 'default' ? job.defaultNetwork : step.network;
    await writeFile(join(work, 'hosts'), hostsFileContent(DEFAULT_HOSTNAME));
    await writeFile(join(work, 'resolv.conf'), resolvConfContent(network));
    const state = join(work, 'state');
    await mkdir(state, { recursive: true, mode: 0o700 });
    const spec: ContainerSpec = {
      id: `build-image-${process.pid}-${randomBytes(6).toString('hex')}`,
      stateDir: state,
      rootfs: prepared.rootfs,
      args: step.args,
      env,
      secretEnv,
      cwd,
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids,
      hostname: DEFAULT_HOSTNAME,
      network,
      security: step.security,
      mkdirs,
      mounts: resolved,
      inputs,
      hostsFile: join(work, 'hosts'),
      resolvConf: join(work, 'resolv.conf'),
      rootless: job.rootless,
      userxattr: job.userxattr,
    };
    const tail = new Tail(job.tailLines ?? 10);
    const status = await job.runner.run(spec, {
      signal,
      onOutput: (chunk) => {
        tail.push(chunk.data);
        job.onOutput?.(chunk);
      },
    });
    const command = JSON.stringify(step.args.join(' '));
    if (!status.started) {
      throw new RunStepError(
        `${step.name}: the ${job.runner.name} runner could not set up the step (exit code ${status.code})` + formatTail(tail.get()),
        status.code,
        tail.get(),
        { range: step.range, suggestion: 'the output above names what the kernel refused' },
        'RUN_SETUP_FAILED',
      );
    }
    if (status.code !== 0) {
      const how = status.signal ? `signal: ${status.signal}` : `exit code: ${status.code}`;
      throw new RunStepError(`${step.name}: process ${command} did not complete successfully: ${how}` + formatTail(tail.get()), status.code, tail.get(), {
        range: step.range,
      });
    }
    await removeStubs(prepared.writable, stubs);
    const diff = await prepared.diff(signal);
    const entries = await changeEntries(diff.changes, diff.next, { caps: diff.caps, signal });
    const guarded: TarEntry[] = entries.map((e) => (e.open === undefined ? e : { ...e, open: () => (signal?.throwIfAborted(), e.open!()) }));
    const layer = await layerFromTar(() => writeTar(guarded, { clampMtime: step.epoch }), { store: job.store });
    await job.snapshotter.adopt?.(layer, entries, step.epoch);
    return { layer, index: indexOf(layer, entries, step.epoch), empty: entries.length === 0 };
  } finally {
    await Promise.all(caches.map((c) => c.release().catch(() => {})));
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

function formatTail(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

function indexOf(layer: Layer, entries: readonly TarEntry[], epoch: number | undefined): LayerIndex {
  return {
    version: LAYER_INDEX_VERSION,
    diffID: layer.diffID,
    entries: entries.map((e) =>
      indexEntryFromHeader({
        path: e.path,
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: epoch !== undefined && e.mtime > epoch ? epoch : e.mtime,
        size: e.type === 'file' ? (e.size ?? 0) : 0,
        linkname: e.linkname ?? '',
        devmajor: e.devmajor ?? 0,
        devminor: e.devminor ?? 0,
        xattrs: Object.fromEntries(Object.entries(e.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
      }),
    ),
  };
}

/** A bind mount's filesystem for a source; `subpath` inside it. */
async function sourceFs(job: StepJob, source: MountSource, subpath: string, writable: boolean, dir: string): Promise<{ spec: FsSpec; subpath: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (source.kind === 'context') {
    // A private copy: writes to it are discarded with the work directory.
    const path = await contextPath(source.context, subpath, job.step);
    const tree = await materializeContext(source.context, path, join(dir, 'tree'), job.signal);
    return { spec: { kind: 'dir', path: tree }, subpath: '' };
  }
  if (source.kind === 'dir') {
    return { spec: await job.snapshotter.dirSource(source.path, dir, writable, job.signal), subpath: '' };
  }
  const { spec, view } = await job.snapshotter.source(source.layers, dir, writable, job.signal);
  const real = await resolvePath(view, subpath);
  if (real !== '' && (await view.get(real)) === undefined) {
    throw stepError(job.step, 'RUN_MOUNT_SOURCE_NOT_FOUND', `failed to mount: "/${subpath}" not found in ${source.identity}`);
  }
  return { spec, subpath: real };
}

/** Copies a cache mount's `from` source (at `subpath`) into a new cache directory. */
async function copySourceInto(job: StepJob, source: MountSource, subpath: string, dir: string, scratch: string): Promise<void> {
  if (source.kind === 'context') {
    const path = await contextPath(source.context, subpath, job.step);
    const tree = await materializeContext(source.context, path, join(scratch, 'tree'), job.signal);
    await cpTree(tree, dir, job.signal);
    return;
  }
  if (source.kind === 'dir') {
    await cpTree(source.path, dir, job.signal);
    return;
  }
  await materializeView(source.layers, subpath, dir, scratch, job.signal);
}

export async function contextPath(ctx: BuildContext, subpath: string, step: RunStep): Promise<string> {
  if (subpath === '') return '';
  try {
    const [selected] = await ctx.select([subpath]);
    const match = selected?.matches[0];
    if (match === undefined) throw new Error('not found');
    return match.target;
  } catch (err) {
    if (err instanceof BuildImageError) throw stepError(step, 'RUN_MOUNT_SOURCE_NOT_FOUND', err.message, err.suggestion);
    throw stepError(step, 'RUN_MOUNT_SOURCE_NOT_FOUND', `"/${subpath}" not found in the build context`);
  }
}

/** Resolves `from` against a plan's stages, the build contexts and images. */
export function planSources(options: {
  plan?: Plan | undefined;
  stage?: ((index: number) => Promise<{ readonly image: Image }>) | undefined;
  contexts?: { readonly main?: BuildContext | undefined; readonly named?: ReadonlyMap<string, BuildContext> | Readonly<Record<string, BuildContext>> | undefined } | undefined;
  image?: ((ref: string) => Promise<Image>) | undefined;
}): MountSourceResolver {
  return async (from: string) => {
    const contexts = options.contexts;
    if (from === '') {
      if (contexts?.main === undefined) throw new BuildImageError('RUN_MOUNT_SOURCE_NOT_FOUND', 'RUN --mount needs the build context, and none was given');
      return { kind: 'context', context: contexts.main, identity: 'the build context' };
    }
    const stages = options.plan?.stages ?? [];
    const byName = stages.find((s) => s.name.toLowerCase() === from.toLowerCase());
    const byIndex = /^\d+$/.test(from) ? stages.find((s) => s.index === Number(from)) ?? { index: Number(from) } : undefined;
    const stage = byName ?? byIndex;
    if (stage !== undefined && options.stage !== undefined) {
      const r = await options.stage(stage.index);
      return { kind: 'layers', layers: r.image.layers, identity: `stage ${from} (${r.image.digest()})` };
    }
    const named = contexts?.named;
    const map = named === undefined ? new Map<string, BuildContext>() : named instanceof Map ? named : new Map(Object.entries(named));
    const ctx = map.get(from);
    if (ctx !== undefined) return { kind: 'context', context: ctx, identity: `build context ${from}` };
    if (options.image !== undefined) {
      const img = await options.image(from);
      return { kind: 'layers', layers: img.layers, identity: `image ${from} (${img.digest()})` };
    }
    throw new BuildImageError('RUN_MOUNT_SOURCE_NOT_FOUND', `RUN --mount from=${from}: no stage, build context or image of that name is available to the executor`);
  };
}
