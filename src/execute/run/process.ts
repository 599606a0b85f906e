/**
 * Starting a runner's process tree and getting rid of it.
 *
 * - The tree gets its own process group (Ctrl-C in a terminal reaches us, not the step: the
 *   CLI turns it into an abort) and is started under `setpriv --pdeathsig KILL`, so that it is
 *   killed when this process dies without cleaning up; `unshare --kill-child` then takes the
 *   step's PID namespace down with it, and with that its mounts.
 * - fd 3 is a status pipe: the runner's setup writes `ready` just before it starts the step,
 *   which tells a failed setup from a failed command. fd 4 carries the in-memory inputs
 *   (secrets, heredoc files, the OCI config), one after the other, so that they never touch
 *   the disk; the setup reads each with `dd` by its length (see `readInputs`). Both are closed
 *   before the step's command starts.
 * - Abort kills the whole group with SIGKILL and waits for it to be gone.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { BuildImageError } from '../../errors.js';
import { constants as osc } from 'node:os';

export interface OutputChunk {
  readonly stream: 'stdout' | 'stderr';
  readonly data: Buffer;
}

export interface ExitStatus {
  /** The exit code (128 + signal number when killed by a signal). */
  readonly code: number;
  readonly signal?: NodeJS.Signals | undefined;
  /** True when the runner's setup finished and the step's command was started. */
  readonly started: boolean;
}

export interface TreeOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string | undefined;
  readonly inputs?: readonly Buffer[] | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onOutput?: ((chunk: OutputChunk) => void) | undefined;
}

/** Runs `file args…` as described above. */
export function runTree(file: string, args: readonly string[], options: TreeOptions): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error('aborted'));
      return;
    }
    const inputs = options.inputs ?? [];
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: options.env,
      cwd: options.cwd,
      detached: true,
    });
    let started = false;
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      killGroup(child.pid);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (data: Buffer) => options.onOutput?.({ stream: 'stdout', data }));
    child.stderr!.on('data', (data: Buffer) => options.onOutput?.({ stream: 'stderr', data }));
    const status = child.stdio[3] as unknown as NodeJS.ReadableStream;
    status.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) started = true;
    });
    status.on('error', () => {});
    const w = child.stdio[4] as Writable;
    w.on('error', () => {});
    w.end(Buffer.concat(inputs));
    child.on('error', (err) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(new BuildImageError('RUN_SPAWN_FAILED', `cannot start ${file}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      options.signal?.removeEventListener('abort', onAbort);
      // Anything left in the group (a runner that died early) goes too.
      killGroup(child.pid);
      if (aborted) {
        reject(options.signal?.reason ?? new Error('aborted'));
        return;
      }
      const signo = sig ? (osc.signals as Record<string, number>)[sig] ?? 0 : 0;
      resolve({ code: sig ? 128 + signo : (code ?? 0), signal: sig ?? undefined, started });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
