/**
 * A build context (or a path in it) as a directory a RUN step can bind-mount: exactly what
 * BuildKit would have received from the client — the files .dockerignore keeps, owned as the
 * context reports them (0:0 by default, as the docker CLI sends them), with their modes and
 * mtimes. Copied (reflinked where the file system can) into the step's work directory, so the
 * step can never change the context itself.
 */
import { copyFile, chmod, lchown, lutimes, mkdir, symlink } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import type { BuildContext } from '../../context/build-context.js';

/** Copies context path `path` ('' = all) into `dest`; returns `dest`. */
export async function materializeContext(ctx: BuildContext, path: string, dest: string, signal?: AbortSignal): Promise<string> {
  const entries = ctx.subtree(path);
  if (entries.length === 0) {
    throw new BuildImageError('RUN_MOUNT_SOURCE_NOT_FOUND', `failed to compute cache key: "/${path}" not found in the build context`, {
      suggestion: 'check the mount source and the .dockerignore file',
    });
  }
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dirTimes: { p: string; t: number }[] = [];
  const prefix = path === '' ? '' : path + '/';
  for (const e of entries) {
    signal?.throwIfAborted();
    const rel = e.path === path ? '' : e.path.slice(prefix.length);
    const target = rel === '' ? dest : join(dest, rel);
    const src = join(ctx.dir, e.path);
    const mtime = Number(e.mtimeNs) / 1e9;
    switch (e.type) {
      case 'dir':
        await mkdir(target, { recursive: true, mode: 0o700 });
        dirTimes.push({ p: target, t: mtime });
        break;
      case 'file':
        await copyFile(src, target, fsc.COPYFILE_FICLONE);
        break;
      case 'symlink':
        await symlink(e.linkTarget ?? '', target);
        break;
      default:
        continue; // devices, fifos and sockets are not sent by the client
    }
    if (asRoot) await lchown(target, e.uid, e.gid);
    if (e.type !== 'symlink') await chmod(target, e.mode & 0o7777);
    if (e.type !== 'dir') await lutimes(target, mtime, mtime);
  }
  for (const d of dirTimes.reverse()) await lutimes(d.p, d.t, d.t);
  return dest;
}
