import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirView, StackView, resolvePath } from '../../../src/execute/run/fsview.js';
import { LayerDirs, chainIDs } from '../../../src/execute/run/layerdirs.js';
import { sha256Digest } from '../../../src/image/digest.js';
import { layerFromEntries } from '../../../src/image/layer.js';
import type { TarEntry } from '../../../src/image/tar.js';
import { openStore } from '../../../src/store/store.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { tempDir } from './support.js';

/** vfs_cap_data v2, effective, cap_net_raw permitted (what `setcap cap_net_raw+ep` writes). */
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const d = (path: string, mode = 0o755): TarEntry => ({ path, type: 'dir', mode, uid: 0, gid: 0, mtime: 100 });
const f = (path: string, data: string): TarEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 100, data });
const wh = (path: string): TarEntry => ({ path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, data: '' });

describe.runIf(isRoot && hasTool('setfattr', 'attr'))('layer directories in overlay format', () => {
  it('turn whiteouts into 0/0 devices and opaque markers into xattrs, once per layer', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const dirs = new LayerDirs(store, 'trusted');
    const layer = await layerFromEntries([
      d('a'),
      wh('a/.wh.gone'),
      d('o'),
      wh('o/.wh..wh..opq'),
      f('o/new', 'n'),
      wh('.wh.replaced'),
      d('replaced'),
      { ...f('cap', 'x'), xattrs: { 'security.capability': CAP } },
    ]);
    const one = await dirs.layer(layer);
    const again = await new LayerDirs(store, 'trusted').layer(layer);
    expect(again).toEqual(one);
    const st = lstatSync(join(one.dir, 'a/gone'));
    expect([st.isCharacterDevice(), st.rdev]).toEqual([true, 0]);
    expect(readdirSync(join(one.dir, 'a'))).toEqual(['gone']);
    expect(readdirSync(join(one.dir, 'o'))).toEqual(['new']);
    expect([...one.opaque].sort()).toEqual(['o', 'replaced']);
    expect(one.caps.get('cap')).toEqual(CAP);
    const attrs = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', join(one.dir, 'o'), join(one.dir, 'replaced'), join(one.dir, 'cap')], { encoding: 'utf8' });
    expect(attrs.match(/trusted\.overlay\.opaque=0x79/g)).toHaveLength(2);
    expect(attrs).toContain('security.capability=0x0100000200200000000000000000000000000000');
    // Directory mtimes are the layer's, even after removing the marker files.
    expect(Math.floor(lstatSync(join(one.dir, 'a')).mtimeMs / 1000)).toBe(100);
    expect(JSON.parse(readFileSync(join(one.dir, '..', 'meta.json'), 'utf8'))).toMatchObject({ diffID: layer.diffID, opaque: ['o', 'replaced'], version: 1 });
  });

  it('a stack of layer directories answers as the overlay mount would', async () => {
    const store = await openStore({ root: await tempDir('store') });
    const dirs = new LayerDirs(store, 'trusted');
    const bottom = await dirs.layer(
      await layerFromEntries([d('etc'), f('etc/a', 'a'), f('etc/b', 'b'), d('opt'), f('opt/x', 'x'), d('var'), d('var/lib'), f('var/lib/y', 'y'), d('keep'), f('keep/k', 'k')]),
    );
    const top = await dirs.layer(
      await layerFromEntries([d('etc'), wh('etc/.wh.a'), f('etc/c', 'c'), d('opt'), wh('opt/.wh..wh..opq'), f('opt/z', 'z'), f('var', 'now a file'), d('keep')]),
    );
    const view = new StackView([top, bottom]);
    expect(await view.list('')).toEqual(['etc', 'keep', 'opt', 'var']);
    expect(await view.list('etc')).toEqual(['b', 'c']);
    expect(await view.list('opt')).toEqual(['z']);
    expect(await view.list('keep')).toEqual(['k']);
    expect(await view.get('etc/a')).toBeUndefined();
    expect((await view.get('etc/b'))?.hostPath).toBe(join(bottom.dir, 'etc/b'));
    expect(await view.get('opt/x')).toBeUndefined();
    expect((await view.get('var'))?.stat.isFile()).toBe(true);
    expect(await view.get('var/lib/y')).toBeUndefined();
    expect(await view.list('var')).toEqual([]);
  });

  it('chain IDs follow the image spec', () => {
    const a = sha256Digest('a');
    const b = sha256Digest('b');
    expect(chainIDs([a, b])).toEqual([a, sha256Digest(`${a} ${b}`)]);
  });
});

describe('resolvePath (fs.RootPath inside a view)', () => {
  it.each([
    ['/etc/passwd', 'real/passwd'],
    ['/link-abs/passwd', 'real/passwd'],
    ['/link-rel/x', 'real/x'],
    ['/up/../../real', 'real'],
    ['/../../etc', 'real'],
    ['/dangling/x', 'nowhere/x'],
    ['/a/b/c', 'a/b/c'],
  ])('%s → %s', async (path, want) => {
    const root = await tempDir('resolve');
    await mkdir(join(root, 'real'));
    await writeFile(join(root, 'real/passwd'), '');
    await symlink('/real', join(root, 'etc'));
    await symlink('/real', join(root, 'link-abs'));
    await symlink('real', join(root, 'link-rel'));
    await symlink('../../..', join(root, 'up'));
    await symlink('/nowhere', join(root, 'dangling'));
    expect(await resolvePath(new DirView(root), path)).toBe(want);
  });

  it('stops symlink loops', async () => {
    const root = await tempDir('loop');
    await symlink('b', join(root, 'a'));
    await symlink('a', join(root, 'b'));
    await expect(resolvePath(new DirView(root), '/a/x')).rejects.toMatchObject({ code: 'RUN_SYMLINK_LOOP' });
  });
});
