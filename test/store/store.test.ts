import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sha256Digest, type Digest } from '../../src/image/digest.js';
import { readAll } from '../../src/image/stream.js';
import { acquireLock } from '../../src/store/lock.js';
import { defaultStoreRoot, openStore, type Store } from '../../src/store/store.js';

const here = dirname(fileURLToPath(import.meta.url));
const fresh = () => openStore({ root: mkdtempSync(join(tmpdir(), 'bi-store-')) });
const HELLO = sha256Digest('hello');
const list = (dir: string) => readdirSync(dir).sort();

describe('defaultStoreRoot', () => {
  it.each([
    [{ XDG_CACHE_HOME: '/x/cache' }, '/x/cache/build-image'],
    [{ XDG_CACHE_HOME: 'relative' }, join(process.env['HOME'] ?? '', '.cache', 'build-image')],
    [{}, join(process.env['HOME'] ?? '', '.cache', 'build-image')],
  ])('%j → %s', (env, root) => {
    if (!process.env['HOME']) return;
    expect(defaultStoreRoot(env)).toBe(root);
  });
});

describe('blobs', () => {
  it.each([
    ['bytes', () => Buffer.from('hello')],
    ['a stream', () => Readable.from([Buffer.from('he'), Buffer.from('llo')])],
    ['an opener', () => () => Readable.from([Buffer.from('hello')])],
  ])('stores %s under blobs/sha256/<hex>', async (_what, make) => {
    const store = await fresh();
    expect(await store.putBlob(make())).toEqual({ digest: HELLO, size: 5 });
    expect(list(store.blobsDir)).toEqual([HELLO.slice(7)]);
    expect(readFileSync(store.blobPath(HELLO), 'utf8')).toBe('hello');
    expect(await store.hasBlob(HELLO)).toBe(true);
    expect(await store.hasBlob(HELLO, 5)).toBe(true);
    expect(await store.hasBlob(HELLO, 6)).toBe(false);
    expect((await store.readBlob(HELLO)).toString()).toBe('hello');
    expect(await store.listBlobs()).toEqual([HELLO]);
  });

  it('a digest mismatch is STORE_DIGEST_MISMATCH naming the blob, and leaves nothing', async () => {
    const store = await fresh();
    const want = sha256Digest('other');
    await expect(store.putBlob(Buffer.from('hello'), want)).rejects.toMatchObject({
      code: 'STORE_DIGEST_MISMATCH',
      message: `blob ${want}: received content has digest ${HELLO} (5 bytes)`,
    });
    expect(list(store.blobsDir)).toEqual([]);
  });

  it('a size mismatch is refused too', async () => {
    const store = await fresh();
    await expect(store.putBlob(Buffer.from('hello'), { digest: HELLO, size: 4 })).rejects.toMatchObject({ code: 'STORE_DIGEST_MISMATCH' });
    expect(list(store.blobsDir)).toEqual([]);
  });

  it('skips a blob already present with the right size (the opener is never called)', async () => {
    const store = await fresh();
    await store.putBlob(Buffer.from('hello'));
    const before = statSync(store.blobPath(HELLO));
    let opened = false;
    const r = await store.putBlob(() => {
      opened = true;
      return Readable.from([Buffer.from('hello')]);
    }, HELLO);
    expect(r).toEqual({ digest: HELLO, size: 5 });
    expect(opened).toBe(false);
    expect(statSync(store.blobPath(HELLO)).ino).toBe(before.ino);
  });

  it('verifies blobs when read (ssri, sha256) and reports corruption', async () => {
    const store = await fresh();
    await store.putBlob(Buffer.from('hello'));
    writeFileSync(store.blobPath(HELLO), 'hellO');
    await expect(readAll(await store.openBlob(HELLO))).rejects.toMatchObject({ code: 'STORE_CORRUPT_BLOB' });
    expect((await readAll(await store.openBlob(HELLO, { verify: false }))).toString()).toBe('hellO');
    writeFileSync(store.blobPath(HELLO), 'hello!');
    await expect(readAll(await store.openBlob(HELLO))).rejects.toMatchObject({ code: 'STORE_CORRUPT_BLOB' });
  });

  it('a missing blob is STORE_BLOB_NOT_FOUND', async () => {
    const store = await fresh();
    await expect(store.openBlob(HELLO)).rejects.toMatchObject({ code: 'STORE_BLOB_NOT_FOUND', message: `blob ${HELLO} is not in the store at ${store.root}` });
  });

  it('rejects malformed digests', async () => {
    const store = await fresh();
    expect(() => store.blobPath('sha256:xyz' as Digest)).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_DIGEST' }));
  });
});

describe('cache records', () => {
  const key = sha256Digest('cache-key');
  const layer = { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: HELLO, size: 5 }, diffID: HELLO };

  it('round-trips, one canonical JSON file per key', async () => {
    const store = await fresh();
    expect(await store.getCacheRecord(key)).toBeUndefined();
    await store.putCacheRecord(key, { layer, metadata: { z: 1, a: [true, null, 'x'] } });
    expect(await store.getCacheRecord(key)).toEqual({ layer, metadata: { z: 1, a: [true, null, 'x'] } });
    expect(readFileSync(join(store.cacheDir, `${key.slice(7)}.json`), 'utf8')).toBe(
      `{"layer":{"descriptor":{"digest":"${HELLO}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":5},"diffID":"${HELLO}"},"metadata":{"a":[true,null,"x"],"z":1}}`,
    );
    await store.putCacheRecord(key, { metadata: 'replaced' });
    expect(await store.getCacheRecord(key)).toEqual({ metadata: 'replaced' });
    expect(list(store.cacheDir)).toEqual([`${key.slice(7)}.json`]);
    expect(await store.deleteCacheRecord(key)).toBe(true);
    expect(await store.getCacheRecord(key)).toBeUndefined();
  });

  it('an unreadable record is a miss', async () => {
    const store = await fresh();
    writeFileSync(join(store.cacheDir, `${key.slice(7)}.json`), '{"layer": 42}');
    expect(await store.getCacheRecord(key)).toBeUndefined();
  });

  it('refuses an invalid record', async () => {
    const store = await fresh();
    await expect(store.putCacheRecord(key, { layer: { descriptor: { mediaType: 'x', digest: 'bad' as Digest, size: 1 }, diffID: HELLO } })).rejects.toMatchObject({
      code: 'STORE_INVALID_RECORD',
    });
  });
});

describe('state directories and locks', () => {
  it('gives each module a directory', async () => {
    const store = await fresh();
    expect(await store.stateDir('hash-cache')).toBe(join(store.root, 'state', 'hash-cache'));
    expect(statSync(join(store.root, 'state', 'hash-cache')).isDirectory()).toBe(true);
    await expect(store.stateDir('../x')).rejects.toMatchObject({ code: 'STORE_INVALID_NAME' });
  });

  it('a held lock makes others wait, then time out with STORE_LOCK_TIMEOUT', async () => {
    const store = await fresh();
    const held = await store.lock('l');
    await expect(store.lock('l', { timeoutMs: 100, retryMs: 10 })).rejects.toMatchObject({ code: 'STORE_LOCK_TIMEOUT' });
    await held.release();
    const again = await store.lock('l', { timeoutMs: 100 });
    await again.release();
    expect(list(join(store.root, 'locks'))).toEqual([]);
  });

  it('breaks a lock left by a dead process', async () => {
    const store = await fresh();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const { hostname } = await import('node:os');
    mkdirSync(join(store.root, 'locks'));
    writeFileSync(join(store.root, 'locks', 'l.lock'), JSON.stringify({ pid: Number(dead.stdout), host: hostname(), token: 'old', createdAt: 0 }), { flag: 'w' });
    const lock = await store.lock('l', { timeoutMs: 2000 });
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('release does not remove a lock someone else holds', async () => {
    const store = await fresh();
    const lock = await acquireLock(join(store.root, 'locks', 'x.lock'));
    writeFileSync(lock.path, JSON.stringify({ pid: process.pid, host: 'h', token: 'theirs', createdAt: 0 }));
    await lock.release();
    expect(list(join(store.root, 'locks'))).toEqual(['x.lock']);
  });
});

function runWriter(script: string, args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

async function expectClean(store: Store, rounds: number) {
  const blobs = list(store.blobsDir);
  expect(blobs).toHaveLength(rounds);
  for (const hex of blobs) {
    const d = `sha256:${hex}` as Digest;
    expect((await readAll(await store.openBlob(d))).length).toBe(200 * 1024);
  }
  expect(list(store.cacheDir)).toHaveLength(rounds);
  expect(list(store.blobsDir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  expect(list(store.cacheDir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
}

describe('two processes sharing a store', () => {
  it('write the same blobs and records at once; every blob and record is whole; the lock serialises', async () => {
    const store = await fresh();
    const rounds = 25;
    const a = exitOf(runWriter('concurrent-writer.ts', [store.root, String(rounds), 'a']));
    const b = exitOf(runWriter('concurrent-writer.ts', [store.root, String(rounds), 'b']));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra).toEqual({ code: 0, stderr: '' });
    expect(rb).toEqual({ code: 0, stderr: '' });
    await expectClean(store, rounds);
    for (let i = 0; i < rounds; i++) {
      const rec = await store.getCacheRecord(sha256Digest(`key-${i}`));
      expect(rec?.metadata).toMatchObject({ round: i });
    }
    expect(readFileSync(join(store.root, 'state', 'counter', 'count'), 'utf8')).toBe(String(2 * rounds));
  });

  it('a killed writer leaves only a temp file, which gc() removes', async () => {
    const store = await fresh();
    const child = runWriter('slow-writer.ts', [store.root]);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('writing') && resolve());
      child.on('close', (code) => reject(new Error(`slow writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const left = list(store.blobsDir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^\\.tmp-${child.pid}-[0-9a-f]{12}-blob$`));
    const gc = await store.gc();
    expect(gc.removedTempFiles).toEqual([`blobs/sha256/${left[0]}`]);
    expect(list(store.blobsDir)).toEqual([]);
  });

  it('gc keeps the temp files of running writers unless they are too old', async () => {
    const store = await fresh();
    const mine = join(store.blobsDir, `.tmp-${process.pid}-aaaaaaaaaaaa-blob`);
    writeFileSync(mine, 'x');
    expect((await store.gc()).removedTempFiles).toEqual([]);
    expect((await store.gc({ maxTempAgeMs: -1 })).removedTempFiles).toEqual([`blobs/sha256/.tmp-${process.pid}-aaaaaaaaaaaa-blob`]);
  });
});

describe('store layout version', () => {
  it('refuses a store with another layout version', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bi-store-'));
    writeFileSync(join(root, 'store.json'), '{"version":99}');
    await expect(openStore({ root })).rejects.toMatchObject({ code: 'STORE_VERSION_MISMATCH' });
  });
});
