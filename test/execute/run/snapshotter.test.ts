/**
 * Snapshotters on a deep image: 60 small layers on busybox are more than one overlay mount can
 * name, so the bottom layers are flattened into one directory; the copying snapshotter must
 * give the same layer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerFromEntries, type Layer } from '../../../src/image/layer.js';
import { openStore } from '../../../src/store/store.js';
import { LayerDirs } from '../../../src/execute/run/layerdirs.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { dirTree } from '../../support/tree.js';
import { busyboxLayers, entries, execute, h, mountPoints, runStep, tempDir, type Mode } from './support.js';


describe.runIf(isRoot && hasTool('busybox', 'busybox-static') && hasTool('getfattr', 'attr'))('a deep stack of layers', () => {
  let layers: Layer[];

  beforeAll(async () => {
    const extra: Layer[] = [];
    for (let i = 1; i <= 60; i++) {
      extra.push(
        await layerFromEntries([
          { path: 'l', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
          { path: `l/${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: `layer ${i}\n` },
          // Every tenth layer deletes the file of the layer before it.
          ...(i % 10 === 0 ? [{ path: `l/.wh.${i - 1}`, type: 'file' as const, mode: 0, uid: 0, gid: 0, mtime: 0, data: '' }] : []),
        ]),
      );
    }
    layers = [...(await busyboxLayers()), ...extra];
  });

  it.each<Mode>([
    { name: 'overlay', runtime: 'unshare', snapshotter: 'overlay' },
    { name: 'copy', runtime: 'unshare', snapshotter: 'copy' },
  ])('$name: sees every layer, deletions included, and diffs against all of them', async (mode) => {
    const before = mountPoints();
    const store = await openStore({ root: await tempDir('deep') });
    const step = runStep('ls /l | wc -l > /out && cat /l/1 /l/32 /l/33 /l/60 >> /out && test ! -e /l/9 && test ! -e /l/59 && rm /l/31 /l/58');
    const { layer } = await execute(mode, step, { store, layers });
    expect(await entries(layer)).toEqual([
      'd 0755 0:0 dev',
      'd 0755 0:0 l',
      'f 0000 0:0 l/.wh.31',
      'f 0000 0:0 l/.wh.58',
      `f 0644 0:0 out ${h('54\nlayer 1\nlayer 32\nlayer 33\nlayer 60\n')}`,
      'd 0755 0:0 proc',
      'd 0755 0:0 sys',
    ]);
    if (mode.snapshotter === 'overlay') {
      const dirs = readdirSync(join(store.root, 'state', 'run-layers', 'trusted'));
      expect(dirs.filter((d) => d.startsWith('chain-'))).toHaveLength(1);
      expect(dirs.filter((d) => /^[0-9a-f]{64}$/.test(d)).length).toBeLessThan(61);
    }
    expect(mountPoints()).toEqual(before);
  });
});

describe.runIf(isRoot && hasTool('busybox', 'busybox-static') && hasTool('getfattr', 'attr'))('the layer directory a step leaves behind', () => {
  it.each([1_700_000_000, undefined])('equals unpacking its layer (epoch %s)', async (epoch) => {
    const store = await openStore({ root: await tempDir('adopt') });
    const step = runStep(
      'mkdir -p /a/b && echo x > /a/b/f && ln /a/b/f /a/h && ln -s b/f /a/s && chmod 4750 /a/b/f && rm /etc/group && rm -rf /home && mkdir /home && mknod /a/p p',
      { epoch },
    );
    const { layer } = await execute({ name: 'overlay', runtime: 'unshare', snapshotter: 'overlay' }, step, { store });
    const adopted = join(store.root, 'state', 'run-layers', 'trusted', layer.diffID.slice('sha256:'.length));
    const fresh = await new LayerDirs(await openStore({ root: await tempDir('unpacked') }), 'trusted').layer(layer);
    // Whiteouts (0/0 character devices) are markers: the kernel stamps one made by `rm` with
    // the time of the rm, an unpack stamps it with the time of the mknod, and neither reaches
    // a layer (the differ writes whiteouts with mtime 0). Compared without their mtime.
    const tree = (dir: string) => dirTree(dir, { mtime: true }).map((l) => (/^c 0000 \S+ \S+ 0:0 @/.test(l) ? l.replace(/ @\d+$/, '') : l));
    expect(tree(join(adopted, 'fs'))).toEqual(tree(fresh.dir));
    expect(JSON.parse(readFileSync(join(adopted, 'meta.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(fresh.dir, '..', 'meta.json'), 'utf8')));
  });
});
