/**
 * The host programs RUN needs and what the kernel allows, found once per process.
 *
 * The built-in runner uses only util-linux (`unshare`, `setpriv`, `mount`), coreutils (`env`,
 * `mkdir`, `chown`, `cat`, `mknod`, `cp`) and `/bin/sh`, all Essential in Debian. Extended
 * attributes go through `getfattr`/`setfattr` (Debian `attr`): Node has no xattr API, and an
 * overlayfs upper directory marks opaque directories with one. Programs are called by absolute
 * path, so a step's PATH never decides which host binary runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsc, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BuildImageError } from '../../errors.js';

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

const found = new Map<string, string | undefined>();

/** The absolute path of a host program (PATH, then the usual system directories). */
export function findProgram(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  if (found.has(name)) return found.get(name);
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d.startsWith('/')), ...SEARCH];
  let hit: string | undefined;
  for (const d of dirs) {
    const p = join(d, name);
    if (isExecutable(p)) {
      hit = p;
      break;
    }
  }
  found.set(name, hit);
  return hit;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian packages that provide each program (for messages). */
const PACKAGES: Record<string, string> = {
  unshare: 'util-linux',
  setpriv: 'util-linux',
  mount: 'mount',
  getfattr: 'attr',
  setfattr: 'attr',
  runc: 'runc',
  crun: 'crun',
  newuidmap: 'uidmap',
  newgidmap: 'uidmap',
  ip: 'iproute2',
  hostname: 'hostname',
  env: 'coreutils',
  mknod: 'coreutils',
  cp: 'coreutils',
  mkdir: 'coreutils',
  chown: 'coreutils',
  cat: 'coreutils',
  sh: 'dash',
};

/** The absolute path of a program RUN cannot do without, or `RUN_TOOL_MISSING`. */
export function requireProgram(name: string, why: string): string {
  const p = findProgram(name);
  if (p === undefined) {
    const pkg = PACKAGES[name];
    throw new BuildImageError('RUN_TOOL_MISSING', `${why} needs the program "${name}", which is not installed`, {
      suggestion: pkg ? `install the Debian package ${pkg} (apt-get install ${pkg})` : `install ${name}`,
    });
  }
  return p;
}

/** The host programs of the built-in runner, resolved to absolute paths. */
export interface HostPrograms {
  readonly sh: string;
  readonly unshare: string;
  readonly setpriv: string;
  readonly mount: string;
  readonly env: string;
  readonly mkdir: string;
  readonly chown: string;
  readonly cat: string;
  readonly touch: string;
  readonly ln: string;
  readonly chmod: string;
  /** `ip` (iproute2), to bring `lo` up in a new network namespace; optional. */
  readonly ip: string | undefined;
  /** `hostname` (sethostname(2)); without it /proc/sys/kernel/hostname is written (root only). */
  readonly hostname: string | undefined;
}

let programs: HostPrograms | undefined;

export function hostPrograms(): HostPrograms {
  if (programs) return programs;
  const why = 'RUN';
  programs = {
    sh: requireProgram('sh', why),
    unshare: requireProgram('unshare', why),
    setpriv: requireProgram('setpriv', why),
    mount: requireProgram('mount', why),
    env: requireProgram('env', why),
    mkdir: requireProgram('mkdir', why),
    chown: requireProgram('chown', why),
    cat: requireProgram('cat', why),
    touch: requireProgram('touch', why),
    ln: requireProgram('ln', why),
    chmod: requireProgram('chmod', why),
    ip: findProgram('ip'),
    hostname: findProgram('hostname'),
  };
  return programs;
}

/** True when running as uid 0 (in whatever user namespace this process is in). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** True when this process is inside a user namespace other than the initial one. */
export function inUserNamespace(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
  } catch {
    return false;
  }
}

/** True when the kernel lists overlayfs (it may still refuse a mount; see `probeOverlay`). */
export function kernelHasOverlay(): boolean {
  try {
    return /\toverlay\n/.test(readFileSync('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** Output of a finished program. */
export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** Runs a program to completion, feeding `input` on stdin. */
export function runProgram(
  file: string,
  args: readonly string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal } = {},
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? { PATH: process.env['PATH'] ?? SEARCH.join(':') },
      cwd: options.cwd,
      signal: options.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs a program and fails with `code` and its stderr unless it exits 0. */
export async function mustRun(
  code: string,
  what: string,
  file: string,
  args: readonly string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal } = {},
): Promise<Buffer> {
  const r = await runProgram(file, args, options);
  if (r.code !== 0) {
    const detail = r.stderr.toString('utf8').trim() || r.stdout.toString('utf8').trim();
    throw new BuildImageError(code, `${what} failed (${r.signal ?? `exit code ${r.code}`})${detail ? `: ${detail}` : ''}`);
  }
  return r.stdout;
}

/** Quotes a word for /bin/sh (single quotes; safe for any bytes but NUL). */
export function shq(word: string): string {
  if (word.includes('\0')) throw new BuildImageError('RUN_INVALID_ARGUMENT', 'an argument contains a NUL byte');
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Synchronous probe helper: exit status of a short command (undefined if it cannot start). */
export function probe(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', env: env ?? { PATH: SEARCH.join(':') }, timeout: 20_000 });
  return { status: r.error ? null : r.status, stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}
