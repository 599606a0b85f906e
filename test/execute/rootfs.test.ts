import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RootView, type IndexEntry } from '../../src/execute/rootfs.js';
import { LayerSnapshots } from '../../src/execute/snapshots.js';
import { readAll } from '../../src/image/stream.js';
import { layerFromEntries, type Layer } from '../../src/image/layer.js';
import { imageTree } from '../support/tree.js';
import { GROUP, PASSWD, baseImage, newStore } from './helpers.js';

const e = (p: string, t: IndexEntry['t'], extra: Partial<IndexEntry> = {}): IndexEntry => ({ p, t, m: t === 'dir' ? 0o755 : 0o644, u: 0, g: 0, mt: 0, s: 0, ...extra });

function listing(view: RootView): string[] {
  return [...view.walk('')].slice(1).map((x) => `${x.type} ${x.path}${x.linkTarget !== undefined ? ` -> ${x.linkTarget}` : ''}`);
}

/** Counts how often a layer's bytes are read. */
function counting(layer: Layer): { layer: Layer; reads: () => number } {
  let n = 0;
  const wrapped: Layer = {
    ...layer,
    open: () => {
      n++;
      return layer.open();
    },
    openUncompressed: () => {
      n++;
      return layer.openUncompressed();
    },
  };
  return { layer: wrapped, reads: () => n };
}

describe('RootView: merging layers', () => {
  it('applies whiteouts, opaque directories, implicit parents and replacements', () => {
    const v = RootView.empty()
      .applyLayer(
        [e('a', 'dir'), e('a/x', 'file'), e('a/y', 'file'), e('b', 'dir'), e('b/old', 'file'), e('c', 'file'), e('deep/er/file', 'file'), e('d', 'dir'), e('d/k', 'file')],
        undefined,
      )
      .applyLayer(
        [
          e('a/.wh.x', 'file'), // deletes a/x of the lower layer
          e('b', 'dir'),
          e('b/.wh..wh..opq', 'file'), // hides b/old
          e('b/new', 'file'),
          e('c', 'dir'), // a directory replaces the file c
          e('d', 'file'), // a file replaces the directory d and its contents
        ],
        undefined,
      );
    expect(listing(v)).toEqual(['dir a', 'file a/y', 'dir b', 'file b/new', 'dir c', 'file d', 'dir deep', 'dir deep/er', 'file deep/er/file']);
    expect(v.lstat('deep')).toMatchObject({ type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
  });

  it('whiteouts never remove what the same layer created', () => {
    const v = RootView.empty().applyLayer([e('a', 'dir'), e('a/x', 'file')], undefined).applyLayer([e('a/new', 'file'), e('a/.wh..wh..opq', 'file')], undefined);
    expect(listing(v)).toEqual(['dir a', 'file a/new']);
  });

  it('a hardlink is the same node as its target', () => {
    const v = RootView.empty().applyLayer([e('f', 'file', { s: 5, m: 0o700 }), e('g', 'hardlink', { l: 'f' })], undefined);
    expect(v.lstat('/g')).toMatchObject({ type: 'file', size: 5, mode: 0o700 });
    expect(() => RootView.empty().applyLayer([e('g', 'hardlink', { l: 'missing' })], undefined)).toThrow(expect.objectContaining({ code: 'EXEC_LAYER_INVALID' }));
  });

  it('entries below a symlinked parent land where the symlink leads (as containerd applies them)', () => {
    const v = RootView.empty().applyLayer([e('usr', 'dir'), e('usr/lib', 'dir'), e('lib', 'symlink', { l: '/usr/lib' })], undefined).applyLayer([e('lib/x.so', 'file')], undefined);
    expect(v.lstat('usr/lib/x.so')?.type).toBe('file');
    expect(v.lstat('lib')?.type).toBe('symlink');
    expect(v.stat('/lib/x.so')?.path).toBe('usr/lib/x.so');
  });
});

describe('RootView: lookups', () => {
  const v = RootView.empty().applyLayer(
    [
      e('etc', 'dir'),
      e('etc/passwd', 'file', { s: 3 }),
      e('abs', 'symlink', { l: '/etc' }),
      e('rel', 'symlink', { l: 'etc/passwd' }),
      e('up', 'symlink', { l: '../../../..' }),
      e('escape', 'symlink', { l: '/etc/../../../../etc/passwd' }),
      e('loop1', 'symlink', { l: 'loop2' }),
      e('loop2', 'symlink', { l: 'loop1' }),
      e('dangling', 'symlink', { l: '/nowhere/deeper' }),
    ],
    undefined,
  );

  it.each([
    ['/etc/passwd', true, 'etc/passwd'],
    ['abs', true, 'etc'],
    ['abs', false, 'abs'],
    ['abs/passwd', false, 'etc/passwd'],
    ['rel', true, 'etc/passwd'],
    ['up', true, ''],
    ['up/etc/passwd', true, 'etc/passwd'],
    ['escape', true, 'etc/passwd'],
    ['/a/../../b', true, 'b'],
    ['dangling/x', true, 'nowhere/deeper/x'],
  ])('resolve(%j, followFinal=%s) = %j', (path, followFinal, want) => {
    expect(v.resolve(path, { followFinal })).toBe(want);
  });

  it('security: symlinks never lead outside the root (../.., /etc/../../.. and a sub-root)', () => {
    expect(v.resolve('up/up/up/../../etc')).toBe('etc');
    expect(v.resolve('escape')).toBe('etc/passwd');
    // As a chroot at etc: an absolute target restarts at etc, `..` stops there.
    expect(v.resolve('x/../../../y', { root: 'etc' })).toBe('etc/y');
  });

  it('a symlink loop fails with EXEC_SYMLINK_LOOP', () => {
    expect(() => v.resolve('loop1')).toThrow(expect.objectContaining({ code: 'EXEC_SYMLINK_LOOP' }));
  });

  it('lstat, stat, readdir and readlink', () => {
    expect(v.lstat('abs')).toMatchObject({ type: 'symlink', path: 'abs', linkTarget: '/etc' });
    expect(v.stat('abs')).toMatchObject({ type: 'dir', path: 'etc' });
    expect(v.lstat('nothing')).toBeUndefined();
    expect(v.readdir('/')).toEqual(['abs', 'dangling', 'escape', 'etc', 'loop1', 'loop2', 'rel', 'up']);
    expect(v.readdir('abs')).toEqual(['passwd']);
    expect(v.readlink('/rel')).toBe('etc/passwd');
    expect(() => v.readdir('etc/passwd')).toThrow(expect.objectContaining({ code: 'EXEC_NOT_A_DIRECTORY' }));
    expect(() => v.readlink('etc')).toThrow(expect.objectContaining({ code: 'EXEC_NOT_A_SYMLINK' }));
  });
});

describe('LayerSnapshots', () => {
  it('indexes and unpacks a layer once, persisted per diffID, with whiteouts kept as files', async () => {
    const store = await newStore();
    const image = await baseImage();
    const [l1, l2] = image.layers.map(counting);
    const snaps = new LayerSnapshots(store);
    const view = await snaps.view([l1!.layer, l2!.layer]);
    expect(l1!.reads()).toBe(1);
    expect(l2!.reads()).toBe(1);
    // The view agrees with an independent merge of the tar headers.
    const letter = { file: 'f', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p' } as const;
    const fromView = [...view.walk('')].slice(1).map((x) => `${letter[x.type]} ${x.path}`);
    const fromTree = (await imageTree(image)).map((line) => `${line[0]} ${line.split(' ')[3]}`);
    expect(fromView).toEqual(fromTree);
    expect((await view.readFile('/etc/passwd')).toString()).toBe(PASSWD);
    expect((await readAll(await view.open('/bin/tool'))).toString()).toBe('#!/bin/sh\necho tool\n');

    // The snapshot directory is the layer as it is: whiteouts are plain files.
    const dir2 = await snaps.snapshotPath(l2!.layer.diffID);
    expect((await readdir(join(dir2, 'usr/bin'))).sort()).toEqual(['.wh.old']);
    expect((await readdir(join(dir2, 'opt/keep'))).sort()).toEqual(['.wh..wh..opq', 'c']);
    const dir1 = await snaps.snapshotPath(l1!.layer.diffID);
    expect(await readlink(join(dir1, 'etc-link'))).toBe('/etc');
    expect((await lstat(join(dir1, 'home/app'))).mode & 0o7777).toBe(0o750);
    expect(await readFile(join(dir1, 'etc/group'), 'utf8')).toBe(GROUP);

    // Another process (a new LayerSnapshots on the same store) reads nothing again.
    const again = new LayerSnapshots(store);
    const [m1, m2] = image.layers.map(counting);
    const view2 = await again.view([m1!.layer, m2!.layer]);
    expect((await view2.readFile('etc/hostname')).toString()).toBe('base\n');
    expect(m1!.reads() + m2!.reads()).toBe(0);
  });

  it('recordIndex: a layer this process wrote is viewed without reading it; its snapshot is made on first read', async () => {
    const store = await newStore();
    const layer = await layerFromEntries([{ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 7, data: 'hello' }], { store });
    const c = counting(layer);
    const snaps = new LayerSnapshots(store);
    await snaps.recordIndex({ version: 1, diffID: layer.diffID, entries: [e('x', 'file', { s: 5, mt: 7 })] });
    const view = await snaps.view([c.layer]);
    expect(view.lstat('x')).toMatchObject({ type: 'file', size: 5, mtime: 7 });
    expect(c.reads()).toBe(0);
    expect((await view.readFile('x')).toString()).toBe('hello');
    expect(c.reads()).toBe(1);
  });

  it('a layer that cannot be unpacked fails with EXEC_LAYER_UNPACK and leaves no snapshot', async () => {
    const store = await newStore();
    const good = await layerFromEntries([{ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'x' }]);
    const broken: Layer = { ...good, openUncompressed: async () => Readable.from([Buffer.alloc(512, 1)]) };
    const snaps = new LayerSnapshots(store);
    await expect(snaps.index(broken)).rejects.toMatchObject({ code: 'EXEC_LAYER_UNPACK' });
    const names = await readdir(join(store.root, 'state', 'snapshots'));
    expect(names).toEqual([]);
  });
});
