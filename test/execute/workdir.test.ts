import { beforeAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/execute/build.js';
import type { BaseSource, WorkdirStep } from '../../src/plan/types.js';
import { imageTree, layerEntries } from '../support/tree.js';
import { baseImage, layoutSource, newStore, plan, workdirStep } from './helpers.js';

/** The diffID of a tar holding nothing but its two end blocks (1024 zero bytes). */
const EMPTY_TAR_DIFFID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

let base: BaseSource;
beforeAll(async () => {
  base = (await layoutSource(await baseImage())).source;
});

async function workdir(steps: WorkdirStep[]) {
  const image = await executePlan(plan([{ base, steps }]), { store: await newStore() });
  return { image, added: await Promise.all(image.layers.slice(2).map((l) => layerEntries(l, { mtime: true }))) };
}

describe('WORKDIR', () => {
  it('creates the path and its missing parents, 0755, root, mtime 0', async () => {
    const { added } = await workdir([workdirStep(0, '/srv/app/data')]);
    expect(added).toEqual([['d 0755 0:0 srv/ @0', 'd 0755 0:0 srv/app/ @0', 'd 0755 0:0 srv/app/data/ @0']]);
  });

  it('owned by the USER of that point (names from the image; unknown names mean root, as BuildKit)', async () => {
    const { added } = await workdir([
      workdirStep(0, '/w1', { user: 'app' }),
      workdirStep(0, '/w2', { user: '1234:50' }),
      workdirStep(0, '/w3', { user: 'app:staff' }),
      workdirStep(0, '/w4', { user: 'ghost' }),
    ]);
    expect(added).toEqual([['d 0755 1000:1001 w1/ @0'], ['d 0755 1234:50 w2/ @0'], ['d 0755 1000:50 w3/ @0'], ['d 0755 0:0 w4/ @0']]);
  });

  it('SOURCE_DATE_EPOCH dates the new directories and the parent that gained one', async () => {
    const { added } = await workdir([workdirStep(0, '/home/app/new', { epoch: 5000 })]);
    expect(added).toEqual([['d 0755 0:0 home/ @1000', 'd 0750 1000:1001 home/app/ @5000', 'd 0755 0:0 home/app/new/ @5000']]);
  });

  it('an existing directory still gives a layer, an empty one (MkdirAll changes nothing)', async () => {
    const { image, added } = await workdir([workdirStep(0, '/etc'), workdirStep(0, '/etc-link')]);
    expect(added).toEqual([[], []]);
    expect(image.layers.slice(2).map((l) => l.diffID)).toEqual([EMPTY_TAR_DIFFID, EMPTY_TAR_DIFFID]);
  });

  it('follows symlinks inside the root', async () => {
    const { added } = await workdir([workdirStep(0, '/etc-link/conf.d'), workdirStep(0, '/up/up/top')]);
    expect(added).toEqual([['d 0755 0:0 etc/ @1000', 'd 0755 0:0 etc/conf.d/ @0'], ['d 0755 0:0 top/ @0']]);
  });

  it('a path below a file fails', async () => {
    await expect(workdir([workdirStep(0, '/etc/hostname/sub')])).rejects.toMatchObject({
      code: 'EXEC_NOT_A_DIRECTORY',
      message: 'mkdir /etc/hostname/sub: /etc/hostname exists and is not a directory',
    });
  });

  it('the image tree afterwards', async () => {
    const { image } = await workdir([workdirStep(0, '/srv/x', { user: 'app' })]);
    expect(await imageTree(image, { under: 'srv' })).toEqual(['d 0755 1000:1001 srv', 'd 0755 1000:1001 srv/x']);
  });
});
