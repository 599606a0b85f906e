/** Fixed inputs shared by the content-layer tests, with their pinned digests. */
import { parseDigest } from '../../src/image/digest.js';
import type { TarEntry } from '../../src/image/tar.js';

/** Three entries whose layer digests are pinned below. */
export const FIXED_ENTRIES: TarEntry[] = [
  { path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
  { path: 'etc/hello', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'hello, world\n' },
  { path: 'bin/sh', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, linkname: 'busybox' },
];

/**
 * sha256 of the tar of FIXED_ENTRIES — equal to what Go's archive/tar (Format PAX, as
 * containerd writes layers) produces for the same headers.
 */
export const FIXED_DIFF_ID = parseDigest('sha256:04f58ff590065f46f43e4b9f0aad803b37120f5e0a22247d24f487a73c41f590');

/** sha256 of our gzip of that tar (fixed header; deflate from Node 20's bundled zlib, level 6). */
export const FIXED_DIGEST = parseDigest('sha256:41ef7592a655528a22495db0157842240a64b42660e55180ac92b799f73aec68');

/** A second layer, deleting /etc/hello and adding /etc/motd. */
export const SECOND_ENTRIES: TarEntry[] = [
  { path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
  { path: 'etc/.wh.hello', type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 },
  { path: 'etc/motd', type: 'file', mode: 0o644, uid: 1000, gid: 1000, mtime: 0, data: 'welcome\n' },
];
