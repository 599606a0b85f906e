/**
 * WORKDIR's layer (BuildKit dockerfile2llb `dispatchWorkdir`: `llb.Mkdir(wd, 0755,
 * WithParents, WithUser(USER), WithCreatedTime(SOURCE_DATE_EPOCH))`, run by
 * solver/llbsolver/file/backend.go `mkdir` → fsutil `MkdirAll` after `fs.RootPath`):
 * - the path is resolved with symlinks followed inside the root, then every missing component
 *   is created with mode 0755, owned by the USER of that point (names looked up in the image's
 *   /etc/passwd and /etc/group; a name that is not there means 0, as in BuildKit), mtime
 *   SOURCE_DATE_EPOCH or 0 (BuildKit: the wall clock);
 * - a directory that already exists is left alone (MkdirAll's fast path), so the layer is
 *   empty — BuildKit still commits it: a tar of just the two end blocks, diffID
 *   sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef;
 * - a component that exists as something else than a directory fails.
 * The planner makes no step for `WORKDIR /` (BuildKit adds no layer then).
 */
import type { WorkdirStep } from '../plan/types.js';
import { Overlay } from './overlay.js';
import type { RootView } from './rootfs.js';
import { withRange } from './sources.js';
import { resolveOwner } from './users.js';

/** The changes of a WORKDIR step on top of `parent`. */
export async function workdirChanges(step: WorkdirStep, parent: RootView): Promise<Overlay> {
  try {
    const owner = (await resolveOwner(step.user, parent, { onUnknown: 'root', what: `USER ${step.user}` })) ?? { uid: 0, gid: 0 };
    const overlay = new Overlay(parent);
    overlay.mkdirAll(overlay.resolve(step.path), { mode: 0o755, uid: owner.uid, gid: owner.gid, mtime: step.epoch ?? 0 }, 'mkdir');
    return overlay;
  } catch (err) {
    throw withRange(err, step.range);
  }
}
