/**
 * `RUN --mount=type=cache` directories, kept in the store between builds and never part of a
 * layer (BuildKit solver/llbsolver/mounts/mount.go `getRefCacheDir`):
 *
 *     state/run-cache/<sha256 of the cache key>/<instance>/
 *
 * - The key is the id (default: the target, cleaned) plus what initialises the directory:
 *   `from`'s identity and uid/gid/mode (BuildKit keys the cache by id and the base state, and
 *   uid/gid/mode make that base state a `mkdir` with those attributes).
 * - A new instance is an empty directory with `mode` (default 0755) owned by uid:gid (default
 *   0:0), or a copy of the `from` source when given.
 * - `sharing=shared` (default): every step uses instance 0 at the same time. `locked`: one step
 *   at a time on instance 0; others wait (across processes: a store lock). `private`: the
 *   first instance nobody holds, a new one when all are busy.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import type { Mount } from '../../instructions/mount.js';
import type { Store } from '../../store/store.js';
import type { Lock } from '../../store/lock.js';

export interface CacheDir {
  readonly dir: string;
  release(): Promise<void>;
}

/** Fills a new cache instance (copies the `from` source into `dir`). */
export type CacheInit = (dir: string) => Promise<void>;

export function cacheKey(m: Mount, target: string, fromIdentity: string | undefined): string {
  const id = m.cacheId !== '' ? m.cacheId : target;
  return createHash('sha256')
    .update(JSON.stringify({ id, from: fromIdentity ?? null, source: fromIdentity === undefined ? null : m.source, uid: m.uid ?? null, gid: m.gid ?? null, mode: m.mode ?? null }))
    .digest('hex');
}

export class CacheMounts {
  constructor(readonly store: Store) {}

  private async root(key: string): Promise<string> {
    const dir = join(await this.store.stateDir('run-cache'), key);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private async instance(root: string, n: number, m: Mount, init: CacheInit | undefined): Promise<string> {
    const dir = join(root, String(n));
    try {
      await mkdir(dir, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return dir;
      throw err;
    }
    if (init) await init(dir);
    if (!init || m.uid !== undefined || m.gid !== undefined) await chown(dir, m.uid ?? 0, m.gid ?? 0);
    if (!init || m.mode !== undefined) await chmod(dir, (m.mode ?? 0o755) & 0o7777);
    return dir;
  }

  /** The directory for a cache mount (see the module comment); release it after the step. */
  async acquire(m: Mount, key: string, init: CacheInit | undefined, signal?: AbortSignal): Promise<CacheDir> {
    const root = await this.root(key);
    const sharing = m.cacheSharing === '' ? 'shared' : m.cacheSharing;
    const create = (n: number) => this.store.withLock(`run-cache-${key.slice(0, 32)}-new`, () => this.instance(root, n, m, init), { signal });
    if (sharing === 'shared') return { dir: await create(0), release: async () => {} };
    if (sharing === 'locked') {
      const lock = await this.store.lock(`run-cache-${key.slice(0, 32)}-0`, { timeoutMs: 24 * 3600_000, retryMs: 100, signal });
      try {
        return { dir: await create(0), release: () => lock.release() };
      } catch (err) {
        await lock.release();
        throw err;
      }
    }
    // private
    for (let n = 0; ; n++) {
      let lock: Lock;
      try {
        lock = await this.store.lock(`run-cache-${key.slice(0, 32)}-${n}`, { timeoutMs: 0, signal });
      } catch (err) {
        if (err instanceof BuildImageError && err.code === 'STORE_LOCK_TIMEOUT') continue;
        throw err;
      }
      try {
        return { dir: await create(n), release: () => lock.release() };
      } catch (err) {
        await lock.release();
        throw err;
      }
    }
  }
}
