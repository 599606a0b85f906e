/**
 * Rootless RUN: when this process is not root, each step runs in a helper process (helper.ts)
 * inside a new user namespace that maps the caller to root — and, when the caller has a
 * subordinate id range in /etc/subuid and /etc/subgid and newuidmap/newgidmap are installed,
 * that range to ids 1…n (`unshare --map-root-user --map-auto`), so that files owned by other
 * users (a base image's /home/app, `USER app`) can exist. This is BuildKit's rootless mode
 * (buildkitd under rootlesskit), one step at a time. Inside, the helper is root of its
 * namespace and runs the very same code as a root build: layer directories use `user.`
 * overlay xattrs (`userxattr`), and nothing needs privileges on the host.
 *
 * What the helper cannot reach is prepared here: parent layers are put into the store (the
 * helper reads them from there), build-context mount sources are copied into a directory of
 * ours (owned by us, so root inside), secrets are read and passed through the helper's stdin.
 * The helper answers on fd 3 with the layer's descriptor (its blob is in the store) or the
 * error. An abort sends SIGTERM (the helper stops the step and removes what it made), then
 * SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { BuildImageError } from '../../errors.js';
import { layerFromBlob, type Layer } from '../../image/layer.js';
import type { RunStep } from '../../plan/types.js';
import type { Store } from '../../store/store.js';
import type { RunResult } from '../runner.js';
import type { LayerIndex } from '../snapshots.js';
import { materializeContext } from './contextdir.js';
import { contextPath, planSources, RunStepError, workRoot, type MountSource } from './execute.js';
import type { RunExecutor, RunStepContext } from './executor.js';
import { findProgram, probe, requireProgram } from './host.js';
import { noSecrets } from './secrets.js';

/** A layer as the helper finds it in the store. */
export interface LayerDesc {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly diffID: string;
}

export type SourceDesc =
  | { readonly kind: 'dir'; readonly path: string; readonly identity: string }
  | { readonly kind: 'layers'; readonly layers: readonly LayerDesc[]; readonly identity: string };

export interface HelperJob {
  readonly step: RunStep;
  readonly storeRoot: string;
  readonly parentLayers: readonly LayerDesc[];
  /** By mount index. */
  readonly sources: readonly (SourceDesc | null)[];
  /** Secret values by id, base64. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly options: {
    readonly runtime?: string | undefined;
    readonly snapshotter?: 'auto' | 'overlay' | 'copy' | undefined;
    readonly network?: 'host' | 'none' | undefined;
    readonly allowInsecure?: boolean | undefined;
  };
}

export type HelperAnswer =
  | { readonly ok: true; readonly layer: LayerDesc; readonly index: LayerIndex }
  | {
      readonly ok: false;
      readonly error: {
        readonly code: string;
        readonly message: string;
        readonly suggestion?: string | undefined;
        readonly exitCode?: number | undefined;
        readonly outputTail?: readonly string[] | undefined;
      };
    };

/** The id-mapping arguments of `unshare` for this user, and what they allow. */
export function idMapping(): { args: string[]; full: boolean; why: string } {
  const uid = process.getuid?.() ?? 0;
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry
  }
  const listed = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .some((l) => {
          const [who, , count] = l.split(':');
          return (who === name || who === String(uid)) && Number(count) > 0;
        });
    } catch {
      return false;
    }
  };
  if (findProgram('newuidmap') === undefined || findProgram('newgidmap') === undefined) {
    return { args: ['--map-root-user'], full: false, why: 'newuidmap/newgidmap are not installed (Debian package uidmap)' };
  }
  if (!listed('/etc/subuid') || !listed('/etc/subgid')) {
    return { args: ['--map-root-user'], full: false, why: `${name} has no subordinate id range in /etc/subuid and /etc/subgid (usermod --add-subuids/--add-subgids)` };
  }
  return { args: ['--map-root-user', '--map-auto'], full: true, why: '' };
}

let usernsProblem: string | undefined | null = null;

/** Why the kernel refuses a user namespace to this user (undefined when it allows one). */
export function userNamespaceProblem(): string | undefined {
  if (usernsProblem !== null) return usernsProblem;
  const unshare = requireProgram('unshare', 'rootless RUN');
  const r = probe(unshare, ['--user', '--map-root-user', '--', 'true']);
  if (r.status === 0) usernsProblem = undefined;
  else {
    let hint = '';
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined);
    if (read('/proc/sys/user/max_user_namespaces') === '0') hint = ' (sysctl user.max_user_namespaces is 0)';
    else if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') hint = ' (sysctl kernel.unprivileged_userns_clone is 0)';
    else if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') hint = ' (AppArmor restricts unprivileged user namespaces)';
    usernsProblem = `the kernel refuses to create a user namespace: ${r.stderr.trim() || `exit status ${r.status}`}${hint}`;
  }
  return usernsProblem;
}

/**
 * Node arguments that run helper.ts: through tsx from the TypeScript sources, the compiled
 * helper.js beside this module, or — from the bundled CLI (dist/bin) — the compiled one in
 * dist/src.
 */
function helperCommand(): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    const tsx = join(require.resolve('tsx/package.json'), '..', 'dist', 'loader.mjs');
    return ['--import', pathToFileURL(tsx).href, fileURLToPath(new URL('./helper.ts', here))];
  }
  for (const candidate of ['./helper.js', '../src/execute/run/helper.js']) {
    const path = fileURLToPath(new URL(candidate, here));
    if (existsSync(path)) return [path];
  }
  throw new BuildImageError('RUN_ROOTLESS_FAILED', `the rootless helper (helper.js) was not found next to ${fileURLToPath(here)}`);
}

async function storedLayer(store: Store, layer: Layer): Promise<LayerDesc> {
  await store.putBlob(() => layer.open(), { digest: layer.digest, size: layer.size });
  return { mediaType: layer.mediaType, digest: layer.digest, size: layer.size, diffID: layer.diffID };
}

/** Runs one step through the helper (see the module comment). */
export async function runRootless(executor: RunExecutor, step: RunStep, ctx: RunStepContext): Promise<RunResult> {
  const problem = userNamespaceProblem();
  if (problem !== undefined) {
    throw new BuildImageError('RUN_ROOTLESS_UNAVAILABLE', `rootless RUN is not possible: ${problem}`, {
      range: step.range,
      suggestion: 'allow unprivileged user namespaces, or build as root',
    });
  }
  const store = ctx.store;
  const options = executor.options;
  const signal = ctx.signal;
  const work = join(await workRoot(store), `${process.pid}-rootless-${randomBytes(4).toString('hex')}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    const parentLayers = await Promise.all(ctx.layers.map((l) => storedLayer(store, l)));
    const resolver = ctx.sources ?? planSources({ plan: options.plan, stage: ctx.stage, contexts: options.contexts, image: options.image });
    const sources: (SourceDesc | null)[] = [];
    const secrets: Record<string, string> = {};
    const provider = ctx.secrets ?? options.secrets ?? noSecrets;
    for (const [i, m] of step.mounts.entries()) {
      if (m.type === 'secret') {
        let id = m.source !== '' ? m.source : m.cacheId;
        if (id === '') id = posix.basename(m.target);
        const v = await provider.get(id);
        if (v !== undefined) secrets[id] = Buffer.from(v).toString('base64');
      }
      if (!(m.type === 'bind' || (m.type === 'cache' && m.from !== ''))) {
        sources.push(null);
        continue;
      }
      const src: MountSource = await resolver(m.from, m, i);
      if (src.kind === 'layers') {
        sources.push({ kind: 'layers', layers: await Promise.all(src.layers.map((l) => storedLayer(store, l))), identity: src.identity });
      } else if (src.kind === 'context') {
        const subpath = posix.normalize(posix.join('/', m.source)).slice(1);
        const path = await contextPath(src.context, subpath, step);
        const dir = await materializeContext(src.context, path, join(work, `src-${i}`), signal);
        sources.push({ kind: 'dir', path: dir, identity: src.identity });
      } else {
        sources.push({ kind: 'dir', path: src.path, identity: src.identity });
      }
    }
    const job: HelperJob = {
      step,
      storeRoot: store.root,
      parentLayers,
      sources,
      secrets,
      options: { runtime: options.runtime, snapshotter: options.snapshotter, network: options.network, allowInsecure: options.allowInsecure },
    };
    const answer = await spawnHelper(job, {
      signal,
      onOutput: (chunk) => {
        ctx.onOutput?.(chunk);
        options.onOutput?.(step.id, chunk);
      },
    });
    if (!answer.ok) {
      const e = answer.error;
      if (e.exitCode !== undefined) {
        throw new RunStepError(e.message, e.exitCode, e.outputTail ?? [], { range: step.range, suggestion: e.suggestion }, e.code);
      }
      throw new BuildImageError(e.code, e.message, { range: step.range, suggestion: e.suggestion });
    }
    const layer = layerFromBlob(store, { ...answer.layer, digest: answer.layer.digest as Layer['digest'], diffID: answer.layer.diffID as Layer['diffID'] });
    return { layer, index: answer.index };
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

function spawnHelper(
  job: HelperJob,
  io: { signal: AbortSignal; onOutput: (chunk: { stream: 'stdout' | 'stderr'; data: Buffer }) => void },
): Promise<HelperAnswer> {
  const setpriv = requireProgram('setpriv', 'rootless RUN');
  const unshare = requireProgram('unshare', 'rootless RUN');
  const mapping = idMapping();
  const args = ['--pdeathsig', 'KILL', '--', unshare, '--user', ...mapping.args, '--', process.execPath, ...helperCommand()];
  return new Promise((resolve, reject) => {
    io.signal.throwIfAborted();
    const child = spawn(setpriv, args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', BUILD_IMAGE_ROOTLESS_MAPPING: mapping.full ? 'full' : mapping.why },
      detached: true,
    });
    const stderr: Buffer[] = [];
    const answer: Buffer[] = [];
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      try {
        process.kill(child.pid!, 'SIGTERM');
      } catch {
        // gone
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 10_000);
    };
    io.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (data: Buffer) => io.onOutput({ stream: 'stdout', data }));
    child.stderr!.on('data', (data: Buffer) => {
      stderr.push(data);
      io.onOutput({ stream: 'stderr', data });
    });
    (child.stdio[3] as unknown as NodeJS.ReadableStream).on('data', (d: Buffer) => answer.push(d));
    const stdin = child.stdin as Writable;
    stdin.on('error', () => {});
    stdin.end(JSON.stringify(job));
    child.on('error', (err) => reject(new BuildImageError('RUN_SPAWN_FAILED', `cannot start the rootless helper: ${err.message}`, { cause: err })));
    child.on('close', (code, sig) => {
      io.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (io.signal.aborted) {
        reject(io.signal.reason ?? new Error('aborted'));
        return;
      }
      const text = Buffer.concat(answer).toString('utf8');
      if (text.trim() !== '') {
        try {
          resolve(JSON.parse(text) as HelperAnswer);
          return;
        } catch {
          // fall through
        }
      }
      const err = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-10).join('\n');
      reject(
        new BuildImageError('RUN_ROOTLESS_FAILED', `the rootless helper ended without an answer (${sig ?? `exit code ${code}`})${err ? `:\n${err}` : ''}`, {
          suggestion: mapping.full ? undefined : `only your own uid is mapped: ${mapping.why}`,
        }),
      );
    });
  });
}
