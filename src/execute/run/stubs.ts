/**
 * Mount stubs: the empty files and directories a runtime creates in the root only to mount
 * something on them, removed again after the step so they never leak into its layer
 * (BuildKit executor/stubs.go `MountStubsCleaner`, recursive as the Dockerfile frontend asks):
 *
 * - before the run, for /etc/resolv.conf, /etc/hosts and every mount target, the path is
 *   resolved in the parent filesystem (symlinks followed in the root) and it and each missing
 *   parent, walking up, is recorded — in that order, deepest first;
 * - after the run, each recorded path that is now an empty directory or an empty file is
 *   removed, and its parent directory's atime/mtime are put back as they were just before the
 *   removal (moby/buildkit#3148). Anything the step wrote into them stays.
 *
 * The directories the runtime makes for /proc, /dev and /sys are not stubs: BuildKit keeps
 * them (empty) when the base lacks them.
 */
import { lstat, readdir, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPath } from '../../image/paths.js';
import { resolvePath, type FsView } from './fsview.js';

/** The stub paths (relative, resolved) for `targets` (absolute container paths). */
export async function findStubs(view: FsView, targets: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of ['/etc/resolv.conf', '/etc/hosts', ...targets]) {
    let p = await resolvePath(view, t);
    if (p === '') continue;
    for (;;) {
      if ((await view.get(p)) !== undefined) break;
      if (!out.includes(p)) out.push(p);
      const up = parentPath(p);
      if (up === '' || up === p) break;
      p = up;
    }
  }
  return out;
}

/**
 * Removes the stubs that are still empty from `dir` (the step's writable tree: the overlay
 * upper directory or the copied root — stubs exist only there, since the parent lacked them).
 */
export async function removeStubs(dir: string, stubs: readonly string[]): Promise<void> {
  for (const rel of stubs) {
    const p = join(dir, rel);
    let st;
    try {
      st = await lstat(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if ((await readdir(p)).length !== 0) continue;
    } else if (st.size !== 0 || st.isCharacterDevice()) {
      // A 0/0 device in an upper dir is a whiteout, never a stub.
      continue;
    }
    const parent = parentPath(rel) === '' ? dir : join(dir, parentPath(rel));
    let times;
    try {
      const ps = await stat(parent);
      times = { atime: ps.atime, mtime: ps.mtime };
    } catch {
      times = undefined;
    }
    if (st.isDirectory()) await rmdir(p);
    else await unlink(p);
    if (times) await utimes(parent, times.atime, times.mtime).catch(() => {});
  }
}
