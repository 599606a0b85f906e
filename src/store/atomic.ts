/**
 * Atomic file writes: bytes go to a temp file in the destination's directory, are flushed,
 * and the temp file is renamed over the destination, so a reader sees the old file or the
 * new one, never half of one. A writer that is killed leaves only its temp file, whose name
 * (`.tmp-<pid>-<random>-<name>`) lets `removeStaleTempFiles` recognise and remove it later.
 *
 * Durability: the rename makes writes atomic against a killed or crashed process. Against a
 * power loss, data is only flushed to disk (fsync) when BUILD_IMAGE_FSYNC=1 — an fsync costs
 * tens of milliseconds per file on common disks, and every blob is verified against its digest
 * when read, so a blob torn by a power loss is found and refetched or rebuilt, never used.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const TEMP_PREFIX = '.tmp-';

/** A fresh temp file path beside `dest`. */
export function tempPathFor(dest: string): string {
  return join(dirname(dest), `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${basename(dest)}`);
}

/** True when writes are flushed to disk before they are published (BUILD_IMAGE_FSYNC=1). */
export const durableWrites = process.env['BUILD_IMAGE_FSYNC'] === '1';

async function fsyncPath(path: string): Promise<void> {
  if (!durableWrites) return;
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `dest` atomically (creating parent directories). */
export async function writeFileAtomic(dest: string, data: Uint8Array | string, options: { mode?: number } = {}): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      if (durableWrites) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Streams `data` into a temp file beside `dest`; `commit()` renames it into place, `discard()`
 * removes it. Used when the content must be checked (hashed) before it is published.
 */
export async function writeStreamToTemp(
  dest: string,
  data: Readable | AsyncIterable<Uint8Array>,
  options: { mode?: number; onChunk?: (chunk: Buffer) => void } = {},
): Promise<{ tempPath: string; commit(): Promise<void>; discard(): Promise<void> }> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    const out = createWriteStream(tmp, { flags: 'wx', mode: options.mode ?? 0o644 });
    const onChunk = options.onChunk;
    const source = data instanceof Readable ? data : Readable.from(data, { objectMode: false });
    if (onChunk) {
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          onChunk(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(source, tap, out);
    } else {
      await pipeline(source, out);
    }
    await fsyncPath(tmp);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return {
    tempPath: tmp,
    async commit() {
      try {
        await rename(tmp, dest);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    },
    async discard() {
      await unlink(tmp).catch(() => {});
    },
  };
}

/** True when process `pid` exists (on this host). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files in `dir` whose writer is gone: its pid is not running, or the file is
 * older than `maxAgeMs` (default one day — protects against reused pids). Returns the names
 * removed.
 */
export async function removeStaleTempFiles(dir: string, options: { maxAgeMs?: number; now?: number } = {}): Promise<string[]> {
  const maxAge = options.maxAgeMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const pid = Number(name.slice(TEMP_PREFIX.length).split('-')[0]);
    const path = join(dir, name);
    let old = false;
    try {
      old = now - (await stat(path)).mtimeMs > maxAge;
    } catch {
      continue;
    }
    if (old || !processAlive(pid)) {
      try {
        await unlink(path);
        removed.push(name);
      } catch {
        // already gone
      }
    }
  }
  return removed;
}
