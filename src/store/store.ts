/**
 * The content-addressed store shared by builds: blobs by digest, a cache index (cache key →
 * record), a directory per module for its own state, and locks.
 *
 * Layout under the root (default `$XDG_CACHE_HOME/build-image`, else `~/.cache/build-image`):
 *
 *     store.json                 {"version":1}
 *     blobs/sha256/<hex>         blob bytes, named by their sha256
 *     cache/sha256/<hex>.json    one cache record per cache key (canonical JSON)
 *     state/<name>/              other modules' state (`stateDir('hash-cache')`)
 *     locks/<name>.lock          cross-process locks (lock.ts)
 *
 * Every file is written to a temp file in its final directory and renamed into place, so two
 * processes can share a store: readers never see half a blob or half a record, and a killed
 * writer leaves only a `.tmp-*` file that `gc()` removes. A blob already present with the right
 * size is not written again. Blobs are verified with ssri (sha256) when read.
 */
import { homedir, hostname } from 'node:os';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import ssri from 'ssri';
import * as z from 'zod/mini';
import '../zod.js';
import { BuildImageError } from '../errors.js';
import { DigestHasher, digestHex, parseDigest, type Digest } from '../image/digest.js';
import { canonicalJsonBytes, type JsonValue } from '../image/json.js';
import type { BlobReader, BlobWriter } from '../image/layer.js';
import { descriptorSchema, digestSchema, type Descriptor } from '../image/schema.js';
import { readAll } from '../image/stream.js';
import { processAlive, removeStaleTempFiles, writeFileAtomic, writeStreamToTemp } from './atomic.js';
import { acquireLock, withLock, type Lock, type LockOptions } from './lock.js';

export const STORE_VERSION = 1;

/** The default store root: `$XDG_CACHE_HOME/build-image`, else `~/.cache/build-image`. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return xdg && xdg.startsWith('/') ? join(xdg, 'build-image') : join(homedir(), '.cache', 'build-image');
}

/** What a cache key leads to. */
export interface CacheRecord {
  /** The layer the step produced (absent for steps that only change the config). */
  readonly layer?: { readonly descriptor: Descriptor; readonly diffID: Digest } | undefined;
  /** Anything else the executor needs to replay the step (JSON). */
  readonly metadata?: JsonValue | undefined;
}

const cacheRecordSchema = z.object({
  layer: z.optional(z.object({ descriptor: descriptorSchema, diffID: digestSchema })),
  metadata: z.optional(z.json()),
});

/** Bytes, a stream, or an opener called only if the blob is not already stored. */
export type BlobSource = Uint8Array | Readable | AsyncIterable<Uint8Array> | (() => Readable | Promise<Readable>);

export interface GcResult {
  /** Temp files of dead or ancient writers, relative to the root. */
  readonly removedTempFiles: readonly string[];
  /** Lock files whose process is gone. */
  readonly removedLocks: readonly string[];
}

const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class Store implements BlobReader, BlobWriter {
  readonly root: string;

  /** Use `openStore`, which also creates the directories. */
  constructor(root: string) {
    this.root = root;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  get cacheDir(): string {
    return join(this.root, 'cache', 'sha256');
  }

  /** Where a blob lives (whether or not it is there). */
  blobPath(digest: Digest): string {
    return join(this.blobsDir, digestHex(parseDigest(digest)));
  }

  /** The stored size of a blob, or undefined when it is absent. */
  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  /** True when the blob is stored (with `size` bytes, when given). */
  async hasBlob(digest: Digest, size?: number): Promise<boolean> {
    const have = await this.blobSize(digest);
    return have !== undefined && (size === undefined || have === size);
  }

  /**
   * Opens a stored blob. With `verify` (default true) the stream fails at its end with
   * `STORE_CORRUPT_BLOB` unless the bytes match the digest (ssri, sha256). Throws
   * `STORE_BLOB_NOT_FOUND` when absent.
   */
  async openBlob(digest: Digest, options: { verify?: boolean } = {}): Promise<Readable> {
    const path = this.blobPath(digest);
    const size = await this.blobSize(digest);
    if (size === undefined) {
      throw new BuildImageError('STORE_BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${this.root}`);
    }
    const file = createReadStream(path);
    if (options.verify === false) return file;
    const check = ssri.integrityStream({ integrity: ssri.fromHex(digestHex(digest), 'sha256'), size, algorithms: ['sha256'] });
    file.on('error', (err) => check.emit('error', err));
    file.pipe(check as unknown as NodeJS.WritableStream);
    async function* verified(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of check as unknown as AsyncIterable<Buffer>) yield chunk;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINTEGRITY' || code === 'EBADSIZE') {
          throw new BuildImageError('STORE_CORRUPT_BLOB', `blob ${digest} in the store is corrupt: ${(err as Error).message}`, {
            cause: err,
            suggestion: `remove ${path} and build again`,
          });
        }
        throw err;
      } finally {
        file.destroy();
      }
    }
    return Readable.from(verified(), { objectMode: false });
  }

  /** A whole (small) blob, verified. */
  async readBlob(digest: Digest): Promise<Buffer> {
    return readAll(await this.openBlob(digest));
  }

  /**
   * Stores a blob and returns its digest and size. With `expected`, a blob already present
   * with the right size is not written again (an opener is then never called), and content
   * with another digest fails with `STORE_DIGEST_MISMATCH` leaving nothing in the store.
   */
  async putBlob(data: BlobSource, expected?: Digest | { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }> {
    const want = expected === undefined ? undefined : typeof expected === 'string' ? { digest: expected } : expected;
    if (want) {
      parseDigest(want.digest);
      const have = await this.blobSize(want.digest);
      if (have !== undefined && (want.size === undefined || want.size === have)) {
        if (data instanceof Readable) data.destroy();
        return { digest: want.digest, size: have };
      }
    }
    const stream: Readable | AsyncIterable<Uint8Array> =
      typeof data === 'function' ? await data() : data instanceof Uint8Array ? Readable.from([Buffer.from(data)]) : data;
    const hasher = new DigestHasher();
    await mkdir(this.blobsDir, { recursive: true });
    const tmp = await writeStreamToTemp(join(this.blobsDir, 'blob'), stream, { onChunk: (c) => hasher.update(c) });
    const digest = hasher.digest();
    const size = hasher.size;
    if (want && (digest !== want.digest || (want.size !== undefined && want.size !== size))) {
      await tmp.discard();
      throw new BuildImageError(
        'STORE_DIGEST_MISMATCH',
        `blob ${want.digest}: received content has digest ${digest} (${size} bytes)` +
          (want.size !== undefined ? `, expected ${want.size} bytes` : ''),
      );
    }
    if ((await this.blobSize(digest)) === size) {
      await tmp.discard();
    } else {
      // rename is atomic; a concurrent writer of the same digest renames identical bytes.
      await rename(tmp.tempPath, this.blobPath(digest)).catch(async (err) => {
        await tmp.discard();
        throw err;
      });
    }
    return { digest, size };
  }

  /** Removes a blob (for callers that track references themselves). */
  async removeBlob(digest: Digest): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Digests of all stored blobs. */
  async listBlobs(): Promise<Digest[]> {
    const names = await readdir(this.blobsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  private recordPath(key: Digest): string {
    return join(this.cacheDir, `${digestHex(parseDigest(key))}.json`);
  }

  /** The record stored under a cache key, or undefined (also for an unreadable record). */
  async getCacheRecord(key: Digest): Promise<CacheRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.recordPath(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = cacheRecordSchema.safeParse(JSON.parse(text));
      return parsed.success ? (parsed.data as CacheRecord) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores (or replaces) the record of a cache key, atomically. */
  async putCacheRecord(key: Digest, record: CacheRecord): Promise<void> {
    const checked = cacheRecordSchema.safeParse(JSON.parse(JSON.stringify(record)));
    if (!checked.success) {
      throw new BuildImageError('STORE_INVALID_RECORD', `invalid cache record for ${key}: ${z.prettifyError(checked.error)}`);
    }
    await writeFileAtomic(this.recordPath(key), canonicalJsonBytes(checked.data));
  }

  /** Removes a cache record; true when there was one. */
  async deleteCacheRecord(key: Digest): Promise<boolean> {
    try {
      await unlink(this.recordPath(key));
      return true;
    } catch {
      return false;
    }
  }

  /** A directory for another module's own state (created if missing). */
  async stateDir(name: string): Promise<string> {
    if (!STATE_NAME.test(name)) {
      throw new BuildImageError('STORE_INVALID_NAME', `invalid state directory name "${name}" (letters, digits, ".", "_", "-")`);
    }
    const dir = join(this.root, 'state', name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  private lockPath(name: string): string {
    if (!STATE_NAME.test(name)) {
      throw new BuildImageError('STORE_INVALID_NAME', `invalid lock name "${name}" (letters, digits, ".", "_", "-")`);
    }
    return join(this.root, 'locks', `${name}.lock`);
  }

  /** Takes a named cross-process lock (see lock.ts). */
  lock(name: string, options?: LockOptions): Promise<Lock> {
    return acquireLock(this.lockPath(name), options);
  }

  /** Runs `fn` holding the named lock. */
  withLock<T>(name: string, fn: () => Promise<T> | T, options?: LockOptions): Promise<T> {
    return withLock(this.lockPath(name), fn, options);
  }

  /**
   * Removes what interrupted writers left: temp files whose process is gone (or older than
   * `maxTempAgeMs`, default a day) and lock files of dead processes.
   */
  async gc(options: { maxTempAgeMs?: number } = {}): Promise<GcResult> {
    const removedTempFiles: string[] = [];
    const o = options.maxTempAgeMs === undefined ? {} : { maxAgeMs: options.maxTempAgeMs };
    for (const rel of ['blobs/sha256', 'cache/sha256', '.']) {
      for (const name of await removeStaleTempFiles(join(this.root, rel), o)) {
        removedTempFiles.push(rel === '.' ? name : `${rel}/${name}`);
      }
    }
    const removedLocks: string[] = [];
    const lockDir = join(this.root, 'locks');
    for (const name of await readdir(lockDir).catch(() => [] as string[])) {
      const path = join(lockDir, name);
      if (name.includes('.lock.stale-')) {
        await unlink(path).catch(() => {});
        removedLocks.push(name);
        continue;
      }
      if (!name.endsWith('.lock')) continue;
      try {
        const info = JSON.parse(await readFile(path, 'utf8')) as { pid?: number; host?: string };
        if (info.host === hostname() && typeof info.pid === 'number' && !processAlive(info.pid)) {
          await unlink(path);
          removedLocks.push(name);
        }
      } catch {
        // unreadable or gone: leave it to acquireLock's stale handling
      }
    }
    return { removedTempFiles, removedLocks };
  }
}

/** Opens (and creates) a store; `root` defaults to `defaultStoreRoot()`. */
export async function openStore(options: { root?: string } = {}): Promise<Store> {
  const root = options.root ?? defaultStoreRoot();
  const store = new Store(root);
  await mkdir(store.blobsDir, { recursive: true });
  await mkdir(store.cacheDir, { recursive: true });
  const marker = join(root, 'store.json');
  let version: number | undefined;
  try {
    version = (JSON.parse(await readFile(marker, 'utf8')) as { version?: number }).version;
  } catch {
    await writeFileAtomic(marker, canonicalJsonBytes({ version: STORE_VERSION }));
    version = STORE_VERSION;
  }
  if (version !== STORE_VERSION) {
    throw new BuildImageError('STORE_VERSION_MISMATCH', `the store at ${root} has layout version ${String(version)}; this build-image uses ${STORE_VERSION}`, {
      suggestion: 'use another store directory, or remove this one',
    });
  }
  return store;
}
