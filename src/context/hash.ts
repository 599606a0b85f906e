/**
 * Content digests of context files, with a persistent cache keyed by what `lstat` says about a
 * file, so that a rebuild never reads a file that did not change.
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../errors.js';

/** A `sha256:<64 hex>` digest. */
export type ContentDigest = `sha256:${string}`;

/** What identifies one version of a file without reading it. */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
}

/** Reads a file and returns its digest. */
export type FileHasher = (absPath: string, expect?: FileIdentity) => Promise<ContentDigest>;

const CHUNK = 1 << 20;

function changed(path: string): BuildImageError {
  return new BuildImageError('CONTEXT_FILE_CHANGED', `${path} changed while the build was reading it`, {
    suggestion: 'do not edit files in the build context during a build; run the build again',
  });
}

function sameFile(a: FileIdentity, st: { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): boolean {
  return a.ino === st.ino && BigInt(a.size) === st.size && a.mtimeNs === st.mtimeNs && a.ctimeNs === st.ctimeNs;
}

/**
 * sha256 of a file's content. Opens it without following a symlink; with `expect`, checks after
 * reading that the file is still the one that was walked (same inode, size, mtime and ctime —
 * else `CONTEXT_FILE_CHANGED`), so a digest always belongs to the identity it is cached under.
 * (One `fstat` after the read covers changes made before or during it: any write moves mtime.)
 */
export const sha256File: FileHasher = async (absPath, expect) => {
  let fh;
  try {
    fh = await open(absPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (expect && (code === 'ENOENT' || code === 'ELOOP')) throw changed(absPath);
    throw new BuildImageError('CONTEXT_UNREADABLE', `cannot read ${absPath}: ${code ?? (err as Error).message}`, {
      cause: err,
      suggestion: code === 'EACCES' ? 'make it readable, or exclude it in .dockerignore' : undefined,
    });
  }
  try {
    const hash = createHash('sha256');
    // With a known size, read it and stop (the fstat below catches a file that grew); one
    // system call fewer per file matters on a 20,000-file context.
    const size = expect?.size;
    const buf = Buffer.allocUnsafe(size !== undefined && size < CHUNK ? size + 1 : CHUNK);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (size !== undefined && total >= size && bytesRead < buf.length) break;
    }
    if (expect && !sameFile(expect, await fh.stat({ bigint: true }))) throw changed(absPath);
    if (size !== undefined && total !== size) throw changed(absPath);
    return `sha256:${hash.digest('hex')}`;
  } finally {
    await fh.close();
  }
};

export interface HashCacheOptions {
  /** Reads a file (default `sha256File`); tests inject one that counts. */
  readonly hashFile?: FileHasher | undefined;
  /** The clock, in nanoseconds since the epoch (default `Date.now()`). */
  readonly now?: (() => bigint) | undefined;
  /**
   * A file modified or changed less than this long before it was hashed is not cached: file
   * system timestamps are coarse (a clock tick, or seconds on some file systems), so a second
   * edit of the same size could keep the same mtime. Default 2 s (git calls this "racy clean").
   */
  readonly racyWindowNs?: bigint | undefined;
  /** At most this many entries are kept on disk, the ones used by this process first (default 200,000). */
  readonly maxEntries?: number | undefined;
}

/** The one file a cache directory holds. */
export const HASH_CACHE_FILE = 'context-hashes.v1.json';

interface CacheFile {
  version: 1;
  /** `dev:ino` → `size:mtimeNs:ctimeNs:mode(octal):sha256hex`. */
  entries: Record<string, string>;
}

function keyOf(id: FileIdentity): string {
  return `${id.dev}:${id.ino}`;
}

/** The part of an entry's value that must equal the file's identity. */
function stampOf(id: FileIdentity): string {
  return `${id.size}:${id.mtimeNs}:${id.ctimeNs}:${id.mode.toString(8)}`;
}

function valueOf(id: FileIdentity, hex: string): string {
  return `${stampOf(id)}:${hex}`;
}

/**
 * Digests of files keyed by device + inode, and valid while size, mtime, ctime (nanoseconds) and
 * mode are unchanged. Kept in one JSON file in `dir`: loaded once, written by `save()` to a
 * temporary file then renamed over the old one, so a reader never sees a torn file; when two
 * processes share the directory, the last one to save wins.
 */
export class HashCache {
  readonly dir: string;
  readonly file: string;
  private readonly hashFile: FileHasher;
  private readonly now: () => bigint;
  private readonly racyWindowNs: bigint;
  private readonly maxEntries: number;
  private loaded: Promise<void> | undefined;
  private stored = new Map<string, string>();
  private readonly used = new Set<string>();
  private dirty = false;
  private counters = { hits: 0, misses: 0 };

  constructor(dir: string, options: HashCacheOptions = {}) {
    this.dir = dir;
    this.file = join(dir, HASH_CACHE_FILE);
    this.hashFile = options.hashFile ?? sha256File;
    this.now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.racyWindowNs = options.racyWindowNs ?? 2_000_000_000n;
    this.maxEntries = options.maxEntries ?? 200_000;
  }

  /** Hits and misses since this object was made. */
  get stats(): { readonly hits: number; readonly misses: number; readonly size: number } {
    return { ...this.counters, size: this.stored.size };
  }

  /** Reads the cache file (once; later calls wait for the same read). A missing or corrupt file is an empty cache. */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      let text: string;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw new BuildImageError('CONTEXT_HASH_CACHE', `cannot read ${this.file}: ${(err as Error).message}`, { cause: err });
      }
      try {
        const data = JSON.parse(text) as Partial<CacheFile>;
        if (data.version === 1 && data.entries && typeof data.entries === 'object') {
          for (const [k, v] of Object.entries(data.entries)) if (typeof v === 'string') this.stored.set(k, v);
        }
      } catch {
        // A corrupt cache is only a slower build; it is replaced on the next save.
      }
    })();
    return this.loaded;
  }

  /** The cached digest for this identity, if any (call `load()` first). */
  lookup(id: FileIdentity): ContentDigest | undefined {
    const key = keyOf(id);
    const value = this.stored.get(key);
    if (value === undefined) return undefined;
    const i = value.lastIndexOf(':');
    if (value.slice(0, i) !== stampOf(id)) return undefined;
    this.used.add(key);
    return `sha256:${value.slice(i + 1)}`;
  }

  /** The digest of the file at `absPath`, whose `lstat` identity is `id`: from the cache, or read and cached. */
  async digest(absPath: string, id: FileIdentity): Promise<ContentDigest> {
    await this.load();
    const hit = this.lookup(id);
    if (hit !== undefined) {
      this.counters.hits++;
      return hit;
    }
    this.counters.misses++;
    const startedAt = this.now();
    const digest = await this.hashFile(absPath, id);
    const newest = id.mtimeNs > id.ctimeNs ? id.mtimeNs : id.ctimeNs;
    if (newest + this.racyWindowNs < startedAt) {
      const key = keyOf(id);
      this.stored.set(key, valueOf(id, digest.slice('sha256:'.length)));
      this.used.add(key);
      this.dirty = true;
    }
    return digest;
  }

  /** Writes the cache file atomically if anything was added. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const entries: Record<string, string> = {};
    let count = 0;
    const keys = [...this.used, ...[...this.stored.keys()].filter((k) => !this.used.has(k))];
    for (const k of keys) {
      if (count >= this.maxEntries) break;
      const v = this.stored.get(k);
      if (v === undefined) continue;
      entries[k] = v;
      count++;
    }
    const data: CacheFile = { version: 1, entries };
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new BuildImageError('CONTEXT_HASH_CACHE', `cannot write ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.dirty = false;
  }
}
