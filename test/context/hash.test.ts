import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HASH_CACHE_FILE, HashCache, sha256File, type ContentDigest, type FileHasher } from '../../src/context/hash.js';
import { walkContext, type ContextEntry } from '../../src/context/walk.js';
import { tempDir } from './tree.js';

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const WORLD = 'sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7';
const MTIME = 1_600_000_000; // seconds; far in the past, so no entry is "racy"

let ctx: string;
let cacheDir: string;
beforeEach(async () => {
  ctx = await tempDir('hash-ctx');
  cacheDir = join(await tempDir('hash-cache'), 'nested', 'cache');
});
afterEach(async () => {
  await rm(ctx, { recursive: true, force: true });
  await rm(join(cacheDir, '..', '..'), { recursive: true, force: true });
});

/**
 * A clock one minute ahead: every file in these tests was changed (ctime) just now, which the
 * cache would rightly consider too recent to trust.
 */
const future = () => BigInt(Date.now() + 60_000) * 1_000_000n;

function cache(options: ConstructorParameters<typeof HashCache>[1] = {}): HashCache {
  return new HashCache(cacheDir, { now: future, ...options });
}

/** A hasher that counts the files it reads. */
function counting(): { hashFile: FileHasher; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    hashFile: async (p, expect) => {
      reads.push(p);
      return sha256File(p, expect);
    },
  };
}

async function write(name: string, content: string, mtime = MTIME): Promise<void> {
  await writeFile(join(ctx, name), content);
  await utimes(join(ctx, name), mtime, mtime);
}

async function entry(name: string): Promise<ContextEntry> {
  const e = (await walkContext(ctx)).find((x) => x.path === name);
  if (!e) throw new Error(`no ${name}`);
  return e;
}

describe('sha256File', () => {
  it('hashes content', async () => {
    await write('a', 'hello');
    expect(await sha256File(join(ctx, 'a'))).toBe(HELLO);
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    await writeFile(join(ctx, 'big'), big);
    expect(await sha256File(join(ctx, 'big'))).toBe(`sha256:${createHash('sha256').update(big).digest('hex')}`);
  });

  it('refuses a file that changed since it was walked', async () => {
    await write('a', 'hello');
    const e = await entry('a');
    await write('a', 'hello!');
    await expect(sha256File(join(ctx, 'a'), e)).rejects.toMatchObject({ code: 'CONTEXT_FILE_CHANGED' });
    await rm(join(ctx, 'a'));
    await expect(sha256File(join(ctx, 'a'), e)).rejects.toMatchObject({ code: 'CONTEXT_FILE_CHANGED' });
  });
});

describe('HashCache', () => {
  it('reads an unchanged file once, across processes (through the cache file)', async () => {
    await write('a', 'hello');
    await write('b', 'world');
    const e = { a: await entry('a'), b: await entry('b') };
    const first = counting();
    const c1 = cache({ hashFile: first.hashFile });
    expect(await c1.digest(join(ctx, 'a'), e.a)).toBe(HELLO);
    expect(await c1.digest(join(ctx, 'b'), e.b)).toBe(WORLD);
    expect(await c1.digest(join(ctx, 'a'), e.a)).toBe(HELLO);
    expect(first.reads).toEqual([join(ctx, 'a'), join(ctx, 'b')]);
    expect(c1.stats).toEqual({ hits: 1, misses: 2, size: 2 });
    await c1.save();

    // a rebuild: a new cache object over the same directory reads nothing
    const second = counting();
    const c2 = cache({ hashFile: second.hashFile });
    expect(await c2.digest(join(ctx, 'a'), await entry('a'))).toBe(HELLO);
    expect(await c2.digest(join(ctx, 'b'), await entry('b'))).toBe(WORLD);
    expect(second.reads).toEqual([]);
    expect(c2.stats).toEqual({ hits: 2, misses: 0, size: 2 });
  });

  it.each([
    ['content edited, same size, mtime put back', async () => {
      await write('a', 'HELLO');
    }, 'sha256:3733cd977ff8eb18b987357e22ced99f46097f31ecb239e878ae63760e83e4d5'],
    ['mtime changed only', async () => {
      await utimes(join(ctx, 'a'), MTIME + 1, MTIME + 1);
    }, HELLO],
    ['mode changed', async () => {
      await chmod(join(ctx, 'a'), 0o600);
    }, HELLO],
    ['replaced by a new file', async () => {
      await rm(join(ctx, 'a'));
      await write('a', 'world');
    }, WORLD],
  ] as Array<[string, () => Promise<void>, ContentDigest]>)('rehashes a file when %s', async (_name, change, expected) => {
    await write('a', 'hello');
    const c1 = cache();
    expect(await c1.digest(join(ctx, 'a'), await entry('a'))).toBe(HELLO);
    expect(c1.stats.size).toBe(1);
    await c1.save();
    await change();
    const { hashFile, reads } = counting();
    const c2 = cache({ hashFile });
    expect(await c2.digest(join(ctx, 'a'), await entry('a'))).toBe(expected);
    expect(reads).toEqual([join(ctx, 'a')]);
    expect(c2.stats.misses).toBe(1);
  });

  it('does not keep a digest of a file modified just before it was read (racy timestamps)', async () => {
    await write('a', 'hello');
    const e = await entry('a');
    const justAfter = () => e.ctimeNs + 1_000_000_000n; // 1 s after the last change: inside the 2 s window
    const c1 = new HashCache(cacheDir, { now: justAfter });
    expect(await c1.digest(join(ctx, 'a'), e)).toBe(HELLO);
    expect(c1.stats.size).toBe(0);
    const later = () => e.ctimeNs + 3_000_000_000n;
    const c2 = new HashCache(cacheDir, { now: later });
    expect(await c2.digest(join(ctx, 'a'), e)).toBe(HELLO);
    expect(c2.stats.size).toBe(1);
  });

  it('writes one compact file atomically; the last of two concurrent writers wins', async () => {
    await write('a', 'hello');
    await write('b', 'world');
    const c1 = cache();
    const c2 = cache();
    await c1.digest(join(ctx, 'a'), await entry('a'));
    await c2.digest(join(ctx, 'b'), await entry('b'));
    await Promise.all([c1.save(), c2.save(), c1.load()]);
    expect(await readdir(cacheDir)).toEqual([HASH_CACHE_FILE]); // no temporary files left
    const data = JSON.parse(await readFile(join(cacheDir, HASH_CACHE_FILE), 'utf8')) as { version: number; entries: Record<string, string> };
    expect(data.version).toBe(1);
    const values = Object.values(data.entries);
    expect(values).toHaveLength(1);
    const e = [await entry('a'), await entry('b')].find((x) => data.entries[`${x.dev}:${x.ino}`] !== undefined)!;
    expect(data.entries[`${e.dev}:${e.ino}`]).toBe(
      `${e.size}:${e.mtimeNs}:${e.ctimeNs}:644:${(e.path === 'a' ? HELLO : WORLD).slice(7)}`,
    );
  });

  it('treats a corrupt cache file as empty and replaces it', async () => {
    await write('a', 'hello');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, HASH_CACHE_FILE), '{"version":1,"entries":{"1:2":"trunc');
    const { hashFile, reads } = counting();
    const c = cache({ hashFile });
    expect(await c.digest(join(ctx, 'a'), await entry('a'))).toBe(HELLO);
    expect(reads).toHaveLength(1);
    await c.save();
    const c2 = cache();
    await c2.load();
    expect(c2.lookup(await entry('a'))).toBe(HELLO);
  });

  it('does not write when nothing was added', async () => {
    const c = cache();
    await c.load();
    await c.save();
    await expect(readdir(cacheDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps at most maxEntries, those used by this process first', async () => {
    for (const n of ['a', 'b', 'c']) await write(n, n);
    const c1 = cache();
    for (const n of ['a', 'b', 'c']) await c1.digest(join(ctx, n), await entry(n));
    await c1.save();
    const c2 = cache({ maxEntries: 1 });
    await write('d', 'd');
    await c2.digest(join(ctx, 'd'), await entry('d'));
    await c2.save();
    const c3 = cache();
    await c3.load();
    expect(c3.stats.size).toBe(1);
    expect(c3.lookup(await entry('d'))).toBe(`sha256:${createHash('sha256').update('d').digest('hex')}`);
  });
});
