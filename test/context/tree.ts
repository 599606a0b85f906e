/** Test helper: builds a directory tree from a compact description. */
import { chmod, link, mkdir, mkdtemp, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type Node =
  | string // a file with this content
  | { file: string; mode?: number; mtime?: number }
  | { dir: true; mode?: number }
  | { symlink: string }
  | { hardlink: string };

/** Creates `spec` under `root` in order (parents are created as needed). */
export async function makeTree(root: string, spec: Record<string, Node>): Promise<void> {
  for (const [rel, node] of Object.entries(spec)) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    if (typeof node === 'string') {
      await writeFile(p, node);
      await chmod(p, 0o644);
    } else if ('file' in node) {
      await writeFile(p, node.file);
      await chmod(p, node.mode ?? 0o644);
      if (node.mtime !== undefined) await utimes(p, node.mtime, node.mtime);
    } else if ('dir' in node) {
      await mkdir(p, { recursive: true });
      await chmod(p, node.mode ?? 0o755);
    } else if ('symlink' in node) {
      await symlink(node.symlink, p);
    } else {
      await link(join(root, node.hardlink), p);
    }
  }
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bi-${prefix}-`));
}
