/**
 * Cache-key digests of context selections. Like BuildKit's contenthash (cache/contenthash,
 * tarsum v1 headers) a digest covers each entry's name, type, mode, uid/gid, size, link target,
 * device numbers and content — never its times — and is computed on what .dockerignore kept.
 * xattrs are not read (Node has no API for them). The byte format is our own:
 *
 *     sha256(
 *       "build-image/context-selection/v1\n" +
 *       for each entry, in `comparePaths` order of its path relative to the root:
 *         JSON.stringify([relPath, type, mode, uid, gid, size, linkTarget, devMajor, devMinor, content]) + "\n"
 *     )
 *
 * `relPath` is `""` for the root of the selection itself; `linkTarget` is `""` unless a symlink;
 * `devMajor`/`devMinor` are 0 unless a device; `content` is the file's `sha256:` digest, `""`
 * for everything but regular files. Hard links are not recorded (contenthash sees them as
 * regular files).
 */
import { createHash } from 'node:crypto';
import { BuildImageError } from '../errors.js';
import type { ContentDigest } from './hash.js';
import { comparePaths, isWithin } from './paths.js';
import type { ContextEntry } from './walk.js';

const SELECTION_HEADER = 'build-image/context-selection/v1\n';
const SOURCE_HEADER = 'build-image/context-source/v1\n';

/**
 * The digest of `entries` seen from `root` (a context-relative directory or file: its own entry
 * has the relative path `""`). `contentDigests` maps context-relative paths of regular files to
 * their content digests.
 */
export function selectionDigest(
  entries: readonly ContextEntry[],
  contentDigests: ReadonlyMap<string, ContentDigest>,
  root = '',
): ContentDigest {
  const rows = entries.map((e) => {
    if (!isWithin(e.path, root)) {
      throw new BuildImageError('CONTEXT_INTERNAL', `entry ${e.path} is not inside the selection root ${root}`);
    }
    const rel = root === '' ? e.path : e.path === root ? '' : e.path.slice(root.length + 1);
    let content = '';
    if (e.type === 'file') {
      const d = contentDigests.get(e.path);
      if (d === undefined) throw new BuildImageError('CONTEXT_INTERNAL', `no content digest for ${e.path}`);
      content = d;
    }
    return { rel, e, content };
  });
  rows.sort((a, b) => comparePaths(a.rel, b.rel));
  const h = createHash('sha256');
  h.update(SELECTION_HEADER);
  for (const { rel, e, content } of rows) {
    const row = [rel, e.type, e.mode, e.uid, e.gid, e.size, e.linkTarget ?? '', e.devMajor ?? 0, e.devMinor ?? 0, content];
    h.update(JSON.stringify(row) + '\n');
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * The digest of a whole COPY/ADD source: each match's path as named (which decides destination
 * names) with the digest of what it selects, in match order.
 *
 *     sha256("build-image/context-source/v1\n" + for each match: JSON.stringify([path, digest]) + "\n")
 */
export function sourceDigest(matches: ReadonlyArray<{ readonly path: string; readonly digest: ContentDigest }>): ContentDigest {
  const h = createHash('sha256');
  h.update(SOURCE_HEADER);
  for (const m of matches) h.update(JSON.stringify([m.path, m.digest]) + '\n');
  return `sha256:${h.digest('hex')}`;
}
