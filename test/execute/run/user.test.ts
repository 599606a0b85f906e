import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirView } from '../../../src/execute/run/fsview.js';
import { resolveExecUser } from '../../../src/execute/run/user.js';
import { tempDir } from './support.js';

const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1001:app:/home/app:/bin/sh', 'svc:x:2000:2000::/srv:/bin/false', 'dup:x:1000:7:dup:/dup:/bin/sh', ''].join('\n');
const GROUP = ['root:x:0:', 'app:x:1001:', 'staff:x:50:app,svc', 'wheel:x:10:app', 'svc:x:2000:', ''].join('\n');

async function view(files: { passwd?: string; group?: string; etcLink?: boolean }): Promise<DirView> {
  const root = await tempDir('user');
  await mkdir(join(root, files.etcLink ? 'real-etc' : 'etc'));
  if (files.etcLink) await import('node:fs/promises').then((fs) => fs.symlink('/real-etc', join(root, 'etc')));
  const etc = join(root, files.etcLink ? 'real-etc' : 'etc');
  if (files.passwd !== undefined) await writeFile(join(etc, 'passwd'), files.passwd);
  if (files.group !== undefined) await writeFile(join(etc, 'group'), files.group);
  return new DirView(root);
}

describe('resolveExecUser (BuildKit GetUser / moby/sys/user GetExecUser)', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [0], home: '/root' }],
    ['root', { uid: 0, gid: 0, additionalGids: [0], home: '/root' }],
    ['app', { uid: 1000, gid: 1001, additionalGids: [1001, 50, 10], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1001, additionalGids: [1001, 50, 10], home: '/home/app' }],
    ['svc', { uid: 2000, gid: 2000, additionalGids: [2000, 50], home: '/srv' }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [50], home: '/home/app' }],
    ['app:0', { uid: 1000, gid: 0, additionalGids: [0], home: '/home/app' }],
    ['app:4242', { uid: 1000, gid: 4242, additionalGids: [4242], home: '/home/app' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [0], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [4343], home: '/' }],
    ['1000:7', { uid: 1000, gid: 7, additionalGids: [7], home: '/home/app' }],
    ['root:root', { uid: 0, gid: 0, additionalGids: [0], home: '/root' }],
  ])('USER %j', async (spec, want) => {
    expect(await resolveExecUser(spec, await view({ passwd: PASSWD, group: GROUP }))).toEqual(want);
  });

  it.each([
    ['nosuch', 'RUN_USER_NOT_FOUND', 'unable to find user nosuch: no matching entries in passwd file'],
    ['app:nogroup', 'RUN_GROUP_NOT_FOUND', 'unable to find group nogroup: no matching entries in group file'],
  ])('USER %j fails', async (spec, code, message) => {
    await expect(resolveExecUser(spec, await view({ passwd: PASSWD, group: GROUP }))).rejects.toMatchObject({ code, message });
  });

  it('without /etc/passwd: root by default, numeric ids work, names fail', async () => {
    const v = await view({});
    expect(await resolveExecUser('', v)).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: '/' });
    expect(await resolveExecUser('5', v)).toEqual({ uid: 5, gid: 0, additionalGids: [0], home: '/' });
    await expect(resolveExecUser('app', v)).rejects.toMatchObject({
      code: 'RUN_USER_NOT_FOUND',
      suggestion: 'the image has no /etc/passwd: use a numeric uid[:gid]',
    });
  });

  it('reads the files through a symlinked /etc inside the root', async () => {
    expect(await resolveExecUser('app', await view({ passwd: PASSWD, group: GROUP, etcLink: true }))).toMatchObject({ uid: 1000, gid: 1001 });
  });
});
