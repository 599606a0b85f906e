import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheMounts, cacheKey } from '../../../src/execute/run/cache.js';
import { parseMount } from '../../../src/instructions/mount.js';
import { openStore } from '../../../src/store/store.js';
import { tempDir } from './support.js';
import { isRoot } from '../../support/tools.js';


describe('RUN --mount=type=cache directories', () => {
  it('keys: id (default: the target), uid/gid/mode and from make different caches', () => {
    const k = (spec: string, from?: string) => cacheKey(parseMount(spec), parseMount(spec).target, from);
    expect(k('type=cache,target=/a')).toBe(k('type=cache,target=/b,id=/a'));
    expect(new Set([k('type=cache,target=/a'), k('type=cache,target=/a,uid=1'), k('type=cache,target=/a,mode=0700'), k('type=cache,target=/a', 'stage x')]).size).toBe(4);
    expect(k('type=cache,target=/a,sharing=locked')).toBe(k('type=cache,target=/a,sharing=private'));
  });

  it.runIf(isRoot)('a new cache is made with its owner and mode, and kept', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const m = parseMount('type=cache,target=/c,uid=1000,gid=1001,mode=0750');
    const caches = new CacheMounts(store);
    const a = await caches.acquire(m, cacheKey(m, '/c', undefined), undefined);
    const st = statSync(a.dir);
    expect([st.uid, st.gid, (st.mode & 0o7777).toString(8)]).toEqual([1000, 1001, '750']);
    await writeFile(join(a.dir, 'f'), 'kept');
    await a.release();
    const b = await new CacheMounts(store).acquire(m, cacheKey(m, '/c', undefined), undefined);
    expect(b.dir).toBe(a.dir);
    expect(readFileSync(join(b.dir, 'f'), 'utf8')).toBe('kept');
  });

  it('shared: every user at once gets the same directory', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const m = parseMount('type=cache,target=/c');
    const caches = new CacheMounts(store);
    const [a, b] = await Promise.all([caches.acquire(m, 'k', undefined), caches.acquire(m, 'k', undefined)]);
    expect(a.dir).toBe(b.dir);
  });

  it('private: a second user while the first holds it gets another directory; a freed one is reused', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const m = parseMount('type=cache,target=/c,sharing=private');
    const caches = new CacheMounts(store);
    const a = await caches.acquire(m, 'k', undefined);
    const b = await caches.acquire(m, 'k', undefined);
    expect([a.dir.endsWith('/0'), b.dir.endsWith('/1')]).toEqual([true, true]);
    await a.release();
    const c = await caches.acquire(m, 'k', undefined);
    expect(c.dir).toBe(a.dir);
    await b.release();
    await c.release();
  });

  it('locked: the second user waits for the first to release', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const m = parseMount('type=cache,target=/c,sharing=locked');
    const caches = new CacheMounts(store);
    const order: string[] = [];
    const a = await caches.acquire(m, 'k', undefined);
    const waiting = caches.acquire(m, 'k', undefined).then((b) => {
      order.push('second got it');
      return b;
    });
    await new Promise((r) => setTimeout(r, 200));
    order.push('first releases');
    await a.release();
    const b = await waiting;
    expect(order).toEqual(['first releases', 'second got it']);
    expect(b.dir).toBe(a.dir);
    await b.release();
  });

  it('a new cache with `from` is filled once by its initialiser', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const m = parseMount('type=cache,target=/c,from=other');
    const caches = new CacheMounts(store);
    let calls = 0;
    const init = async (dir: string) => {
      calls++;
      await writeFile(join(dir, 'seed'), 'seeded');
    };
    const a = await caches.acquire(m, 'k', init);
    const b = await caches.acquire(m, 'k', init);
    expect(calls).toBe(1);
    expect(readFileSync(join(b.dir, 'seed'), 'utf8')).toBe('seeded');
    expect(a.dir).toBe(b.dir);
  });
});
