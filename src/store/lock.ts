/**
 * A simple cross-process lock: a lock file created with O_EXCL holding `{pid, host, token}`.
 *
 * - Acquire: create the file; if it exists, retry every `retryMs` until `timeoutMs`
 *   (`STORE_LOCK_TIMEOUT`).
 * - Stale detection: a lock whose pid is not running on this host (or that is older than
 *   `staleMs`) is broken — renamed away atomically (only one breaker wins), then removed.
 * - Release: removes the file only if it still holds our token.
 *
 * Best effort by design (no kernel lock): fine for serialising short critical sections
 * between cooperating build-image processes sharing a store.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BuildImageError } from '../errors.js';
import { processAlive } from './atomic.js';

export interface LockOptions {
  /** Give up after this long (default 120 s). */
  readonly timeoutMs?: number;
  /** Poll interval (default 25 ms). */
  readonly retryMs?: number;
  /** A lock older than this is stale even if its pid runs (default 1 hour). */
  readonly staleMs?: number;
  readonly signal?: AbortSignal;
}

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  createdAt: number;
}

async function readInfo(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, info: LockInfo | undefined, staleMs: number): Promise<boolean> {
  let age: number;
  try {
    age = Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return false; // gone: just retry
  }
  if (age > staleMs) return true;
  if (!info) return age > 5_000; // half-written by a writer that died between create and write
  return info.host === hostname() && !processAlive(info.pid);
}

/** Takes the lock at `path` (creating its directory). */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const retryMs = options.retryMs ?? 25;
  const staleMs = options.staleMs ?? 60 * 60 * 1000;
  const token = randomBytes(12).toString('hex');
  const info: LockInfo = { pid: process.pid, host: hostname(), token, createdAt: Date.now() };
  const deadline = Date.now() + timeoutMs;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      return {
        path,
        async release() {
          const now = await readInfo(path);
          if (now?.token === token) await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readInfo(path);
    if (await isStale(path, holder, staleMs)) {
      const aside = `${path}.stale-${token}`;
      try {
        await rename(path, aside);
        const moved = await readInfo(aside);
        if (moved && (!holder || moved.token !== holder.token)) {
          // A live lock replaced the stale one between our read and our rename: put it back
          // (link fails if yet another lock has been taken meanwhile, which then stands).
          await link(aside, path).catch(() => {});
        }
        await unlink(aside).catch(() => {});
      } catch {
        // Someone else broke it first.
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new BuildImageError(
        'STORE_LOCK_TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for lock ${path}` + (holder ? ` (held by pid ${holder.pid} on ${holder.host})` : ''),
        { suggestion: 'another build-image process is using the store; wait for it or remove the lock file if that process is gone' },
      );
    }
    await sleep(retryMs);
  }
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
