/**
 * Helpers for the RUN tests: hand-made RunSteps, the busybox base, running a step with a
 * chosen runner/snapshotter, a layer's entries as lines, and leak checks (mounts, processes,
 * work directories).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxImage } from '../../../fixtures/busybox.js';
import { sha256Digest } from '../../../src/image/digest.js';
import type { Layer } from '../../../src/image/layer.js';
import { readTar } from '../../../src/image/tar.js';
import { parseMount, type Mount } from '../../../src/instructions/mount.js';
import type { RunStep } from '../../../src/plan/types.js';
import type { Store } from '../../../src/store/store.js';
import type { MountSourceResolver } from '../../../src/execute/run/execute.js';
import { RunExecutor, type RunExecutorOptions, type RunStepContext } from '../../../src/execute/run/executor.js';
import type { SecretProvider } from '../../../src/execute/run/secrets.js';

export const EPOCH = 1_700_000_000;

let n = 0;

/** A RunStep with defaults: `sh -c <script>` as root in /, PATH=/bin, clamped to EPOCH. */
export function runStep(script: string | readonly string[], more: Partial<RunStep> & { mountSpecs?: readonly string[] } = {}): RunStep {
  const { mountSpecs, ...rest } = more;
  const args = typeof script === 'string' ? ['/bin/sh', '-c', script] : [...script];
  const mounts: Mount[] = (mountSpecs ?? []).map((m) => parseMount(m));
  const id = rest.id ?? `s0.${n++}`;
  return {
    kind: 'run',
    id,
    stage: 0,
    key: sha256Digest(`key-${id}`),
    parentKey: sha256Digest('parent'),
    name: `RUN ${args.join(' ')}`,
    createdBy: `RUN ${args.join(' ')} # buildkit`,
    args,
    env: ['PATH=/bin'],
    proxyEnv: [],
    user: '',
    workdir: '/',
    mounts,
    network: 'default',
    security: 'sandbox',
    files: [],
    epoch: EPOCH,
    ...rest,
  };
}

let base: Promise<Layer[]> | undefined;

/** The busybox-static base image's layers. */
export function busyboxLayers(): Promise<Layer[]> {
  base ??= busyboxImage().then((i) => [...i.layers]);
  return base;
}

export interface Mode {
  readonly name: string;
  readonly runtime: string;
  readonly snapshotter: 'overlay' | 'copy';
}

export interface RunOptions {
  readonly store: Store;
  readonly layers?: readonly Layer[] | undefined;
  readonly secrets?: SecretProvider | undefined;
  readonly sources?: MountSourceResolver | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly executor?: Partial<RunExecutorOptions> | undefined;
}

/** Runs one step; returns its layer and everything it printed. */
export async function execute(mode: Mode, step: RunStep, o: RunOptions): Promise<{ layer: Layer; output: string }> {
  let output = '';
  const executor = new RunExecutor({ runtime: mode.runtime, snapshotter: mode.snapshotter, ...o.executor });
  const ctx: RunStepContext = {
    store: o.store,
    snapshots: undefined as never,
    layers: o.layers ?? (await busyboxLayers()),
    view: () => Promise.reject(new Error('no view in RUN tests')),
    stage: () => Promise.reject(new Error('no stages in RUN tests')),
    platform: undefined as never,
    signal: o.signal ?? new AbortController().signal,
    secrets: o.secrets,
    sources: o.sources,
    onOutput: (c) => {
      output += c.data.toString('utf8');
    },
  };
  const r = await executor.run(step, ctx);
  return { layer: r.layer, output };
}

/** A layer's entries, one line each in tar order: `type mode uid:gid path [extra]`. */
export async function entries(layer: Layer, options: { mtime?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(await layer.openUncompressed())) {
    const path = e.path.replace(/\/$/, '');
    const mode = (e.mode & 0o7777).toString(8).padStart(4, '0');
    const t = { file: 'f', dir: 'd', symlink: 'l', hardlink: 'h', char: 'c', block: 'b', fifo: 'p' }[e.type];
    let extra = '';
    if (e.type === 'file' && path.split('/').pop()!.startsWith('.wh.')) extra = '';
    else if (e.type === 'file') {
      const h = createHash('sha256');
      for await (const c of e.body()) h.update(c as Buffer);
      extra = ` ${h.digest('hex').slice(0, 12)}`;
    } else if (e.type === 'symlink') extra = ` -> ${e.linkname}`;
    else if (e.type === 'hardlink') extra = ` => ${e.linkname}`;
    else if (e.type === 'char' || e.type === 'block') extra = ` ${e.devmajor}:${e.devminor}`;
    const xattrs = Object.keys(e.xattrs);
    out.push(`${t} ${mode} ${e.uid}:${e.gid} ${path}${extra}${xattrs.length ? ` [${xattrs.join(',')}]` : ''}${options.mtime ? ` @${e.mtime}` : ''}`);
  }
  return out;
}

/** The first 12 hex digits of the sha256 of `text` (as `entries` prints file content). */
export function h(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** The content of one file of a layer. */
export async function fileOf(layer: Layer, path: string): Promise<string | undefined> {
  for await (const e of readTar(await layer.openUncompressed())) {
    if (e.path === path && e.type === 'file') return (await e.bytes()).toString('utf8');
  }
  return undefined;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bi-run-${prefix}-`));
}

/** Mount points of this process's mount namespace. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!);
}

/** Processes whose command line mentions `needle` (other than this one). */
export function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return out;
}

/** Entries of the store's RUN work directory (should be empty between steps). */
export function workDirs(store: Store): string[] {
  try {
    return readdirSync(join(store.root, 'state', 'run-tmp')).filter((n) => !n.startsWith('probe-'));
  } catch {
    return [];
  }
}

/** `dev`, `proc` and `sys`: the runtime's mount points, kept (empty) in every RUN layer on busybox. */
export const RUNTIME_DIRS = ['d 0755 0:0 dev', 'd 0755 0:0 proc', 'd 0755 0:0 sys'];

/** Sorts lines like the tar writer (component-wise) — used to merge RUNTIME_DIRS into expectations. */
export function tarOrder(lines: readonly string[]): string[] {
  const key = (l: string) => l.split(' ')[3]!;
  const cmp = (a: string, b: string) => {
    const pa = key(a).split('/');
    const pb = key(b).split('/');
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      if (pa[i] === pb[i]) continue;
      const rank = (s: string) => (s === '.wh..wh..opq' ? 0 : s.startsWith('.wh.') ? 1 : 2);
      const r = rank(pa[i]!) - rank(pb[i]!);
      if (r !== 0) return r;
      return Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
    }
    return pa.length - pb.length;
  };
  return [...lines].sort(cmp);
}
