import { describe, expect, it } from 'vitest';
import { RootView } from '../../src/execute/rootfs.js';
import { LayerSnapshots } from '../../src/execute/snapshots.js';
import { parseOwnerSpec, resolveOwner } from '../../src/execute/users.js';
import { baseImage, newStore } from './helpers.js';

describe('parseOwnerSpec (BuildKit WithUser)', () => {
  it.each([
    ['', {}],
    ['app', { user: { name: 'app' } }],
    ['1000', { user: { id: 1000 } }],
    ['root', { user: { id: 0 } }],
    ['app:staff', { user: { name: 'app' }, group: { name: 'staff' } }],
    ['1000:50', { user: { id: 1000 }, group: { id: 50 } }],
    ['app:', { user: { name: 'app' }, group: { id: 0 } }],
    [':staff', { user: { id: 0 }, group: { name: 'staff' } }],
    ['a:b:c', { user: { name: 'a' }, group: { name: 'b:c' } }],
    ['99999999999', { user: { name: '99999999999' } }],
  ])('%j', (spec, want) => {
    expect(parseOwnerSpec(spec)).toEqual(want);
  });

  it('a negative id is refused', () => {
    expect(() => parseOwnerSpec('-1')).toThrow(expect.objectContaining({ code: 'EXEC_CHOWN_INVALID' }));
  });
});

describe('resolveOwner', async () => {
  const store = await newStore();
  const view = await new LayerSnapshots(store).view((await baseImage()).layers);

  it.each([
    ['', undefined],
    ['app', { uid: 1000, gid: 1001 }],
    ['1234', { uid: 1234, gid: 1234 }],
    ['root', { uid: 0, gid: 0 }],
    ['app:staff', { uid: 1000, gid: 50 }],
    ['1000:staff', { uid: 1000, gid: 50 }],
    ['app:7', { uid: 1000, gid: 7 }],
    ['app:', { uid: 1000, gid: 0 }],
    ['nobody', { uid: 65534, gid: 65534 }],
  ])('%j in the image', async (spec, want) => {
    expect(await resolveOwner(spec, view, { onUnknown: 'error', what: `--chown=${spec}` })).toEqual(want);
  });

  it('an unknown user is an error for COPY, with a suggestion', async () => {
    await expect(resolveOwner('ap', view, { onUnknown: 'error', what: '--chown=ap' })).rejects.toMatchObject({
      code: 'EXEC_CHOWN_UNKNOWN_USER',
      message: '--chown=ap: unable to find user ap: no matching entries in passwd file',
      suggestion: 'did you mean app?',
    });
    await expect(resolveOwner('app:staf', view, { onUnknown: 'error', what: '--chown=app:staf' })).rejects.toMatchObject({
      code: 'EXEC_CHOWN_UNKNOWN_GROUP',
      message: '--chown=app:staf: unable to find group staf: no matching entries in group file',
      suggestion: 'did you mean staff?',
    });
  });

  it('an unknown user means root for WORKDIR, as BuildKit does', async () => {
    expect(await resolveOwner('ghost:ghosts', view, { onUnknown: 'root', what: 'USER ghost' })).toEqual({ uid: 0, gid: 0 });
  });

  it('an image without /etc/passwd', async () => {
    await expect(resolveOwner('app', RootView.empty(), { onUnknown: 'error', what: '--chown=app' })).rejects.toMatchObject({
      message: '--chown=app: unable to find user app: no matching entries in passwd file (the image has no /etc/passwd)',
    });
    expect(await resolveOwner('5:6', RootView.empty(), { onUnknown: 'error', what: '--chown=5:6' })).toEqual({ uid: 5, gid: 6 });
  });
});
