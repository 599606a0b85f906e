/** Copies of trees for cache mounts initialised `from` a stage, an image or a context. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { applyLayer } from '../../image/extract.js';
import type { Layer } from '../../image/layer.js';
import { DirView, resolvePath } from './fsview.js';
import { mustRun, requireProgram } from './host.js';

/** `cp -a src/. dest` (owners, modes, times, links and xattrs kept). */
export async function cpTree(src: string, dest: string, signal?: AbortSignal): Promise<void> {
  const cp = requireProgram('cp', 'copying a tree');
  await mustRun('RUN_COPY_FAILED', `copying ${src}`, cp, ['-a', '--', `${src}/.`, dest], { signal });
}

/** The tree at `subpath` of `layers` (applied in `scratch`) copied into `dest`. */
export async function materializeView(layers: readonly Layer[], subpath: string, dest: string, scratch: string, signal?: AbortSignal): Promise<void> {
  const root = join(scratch, 'layers');
  await mkdir(root, { recursive: true, mode: 0o755 });
  for (const l of layers) {
    signal?.throwIfAborted();
    await applyLayer(root, await l.openUncompressed());
  }
  const view = new DirView(root);
  const real = await resolvePath(view, subpath);
  const e = await view.get(real);
  if (!e?.stat.isDirectory()) {
    throw new BuildImageError('RUN_MOUNT_SOURCE_NOT_FOUND', `cache mount source "/${subpath}" is not a directory of its from= source`);
  }
  await cpTree(e.hostPath, dest, signal);
}
