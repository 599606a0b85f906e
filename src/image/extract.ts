/**
 * Unpacking tars into a directory, confined to it: base layers into a root filesystem
 * (`applyLayer`, OCI whiteout semantics) and plain archives (`extractTar`, for ADD and local
 * outputs).
 *
 * Every path and hardlink target is confined with `confinePath` and resolved with
 * `resolveInRoot`, so nothing an archive contains — `../` names, absolute names, a symlink
 * followed by a write through it, a hardlink to `/etc/passwd` — can touch anything outside the
 * root (mirrors containerd's archive.Apply, which clamps instead of refusing). An existing
 * non-directory at an entry's path is removed before the entry is created (never written
 * through), and files are opened with O_NOFOLLOW|O_EXCL.
 *
 * Node cannot set xattrs or make device nodes by itself: xattrs are reported in `skipped`;
 * device nodes and FIFOs are made with mknod/mkfifo (coreutils) when possible, else reported.
 */
import { spawnSync } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BuildImageError } from '../errors.js';
import { basePath, confinePath, parentPath, resolveInRoot } from './paths.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, readTar, type TarReadEntry } from './tar.js';

/** An uncompressed tar: a stream, or chunks in memory. */
export type TarInput = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface ExtractOptions {
  /**
   * 'apply': OCI layer semantics — `.wh.x` deletes x of lower layers, `.wh..wh..opq` hides a
   * directory's lower content, and whiteout files are not created (`applyLayer`).
   * 'keep' (default): whiteout names are ordinary files, as a plain `tar -x` would make them.
   */
  readonly whiteouts?: 'apply' | 'keep';
  /** Set owners from the archive (default: when running as root). */
  readonly sameOwner?: boolean;
  /** Owner for every entry instead of the archive's (e.g. ADD --chown). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Mtimes later than this (seconds) are clamped to it. */
  readonly clampMtime?: number;
  /** Called with each entry after it has been written. */
  readonly onEntry?: (entry: TarReadEntry, hostPath: string) => void;
}

export interface ExtractResult {
  /** Entries written (whiteouts applied count too). */
  readonly entries: number;
  /** What could not be reproduced exactly, and why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/** Applies an uncompressed layer tar onto `root` with OCI whiteout semantics. */
export function applyLayer(root: string, tar: TarInput, options: Omit<ExtractOptions, 'whiteouts'> = {}): Promise<ExtractResult> {
  return extractTar(root, tar, { ...options, whiteouts: 'apply' });
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Creates every missing directory of `rel` inside root (0755, like containerd's mkparent). */
async function mkdirInRoot(root: string, rel: string): Promise<string> {
  let sofar = '';
  let host = await resolveInRoot(root, '');
  for (const part of rel.split('/').filter(Boolean)) {
    sofar = sofar ? `${sofar}/${part}` : part;
    host = await resolveInRoot(root, sofar);
    const st = await lstatOrUndefined(host);
    if (!st) {
      await mkdir(host, { recursive: true, mode: 0o755 }); // host is resolved: no symlinks in it
    } else if (!st.isDirectory()) {
      throw new BuildImageError('IMAGE_EXTRACT_NOT_DIR', `cannot extract below "${sofar}": it is not a directory`);
    }
  }
  return host;
}

/** Unpacks an uncompressed tar into `root` (created if missing). See the module comment. */
export async function extractTar(root: string, tar: TarInput, options: ExtractOptions = {}): Promise<ExtractResult> {
  await mkdir(root, { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sameOwner = options.sameOwner ?? isRoot;
  const apply = options.whiteouts === 'apply';
  const skipped: { path: string; reason: string }[] = [];
  const created = new Set<string>(); // paths this archive made (whiteouts never remove them)
  const dirTimes: { host: string; mtime: number }[] = [];
  let count = 0;

  const clamp = (t: number) => (options.clampMtime !== undefined && t > options.clampMtime ? options.clampMtime : t);

  for await (const entry of readTar(tar, { skipUnsupported: false })) {
    const rel = confinePath(entry.path);
    count++;
    const base = basePath(rel);
    const parentRel = parentPath(rel);

    if (apply && base.startsWith(WHITEOUT_PREFIX)) {
      const parentHost = await resolveInRoot(root, parentRel);
      if (base === OPAQUE_WHITEOUT) {
        const kids = await readdir(parentHost).catch(() => [] as string[]);
        for (const kid of kids) {
          const kidRel = parentRel ? `${parentRel}/${kid}` : kid;
          if (created.has(kidRel)) continue;
          await removeLowerTree(join(parentHost, kid), kidRel, created);
        }
      } else {
        const name = base.slice(WHITEOUT_PREFIX.length);
        if (name === '' || name === '.' || name === '..') {
          throw new BuildImageError('IMAGE_INVALID_WHITEOUT', `invalid whiteout name "${entry.path}"`);
        }
        const targetRel = parentRel ? `${parentRel}/${name}` : name;
        if (!created.has(targetRel)) await removeLowerTree(join(parentHost, name), targetRel, created);
      }
      continue;
    }

    if (rel === '') {
      // The root itself: only a directory entry makes sense; take its attributes.
      if (entry.type === 'dir') {
        const host = await resolveInRoot(root, '');
        await setAttributes(host, entry, { sameOwner, owner: options.owner, isLink: false, skipped, rel: '.' });
        dirTimes.push({ host, mtime: clamp(entry.mtime) });
      }
      continue;
    }

    const parentHost = await mkdirInRoot(root, parentRel);
    const host = join(parentHost, base);
    const existing = await lstatOrUndefined(host);
    if (existing && !(existing.isDirectory() && entry.type === 'dir')) {
      await rm(host, { recursive: true, force: true });
    }

    switch (entry.type) {
      case 'dir':
        if (!existing || !existing.isDirectory()) await mkdir(host, { mode: 0o700 });
        break;
      case 'file': {
        const fh = await open(host, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        await pipeline(entry.body(), fh.createWriteStream()); // closes the handle
        break;
      }
      case 'symlink':
        await symlink(entry.linkname, host);
        break;
      case 'hardlink': {
        // Like containerd's hardlinkRootPath: resolve the target's directory inside the root,
        // but not its last component (a hardlink to a symlink links the symlink itself).
        const targetRel = confinePath(entry.linkname);
        if (targetRel === '') throw new BuildImageError('IMAGE_TAR_INVALID_LINK', `hardlink "${entry.path}" points at the root`);
        const targetHost = await resolveInRoot(root, targetRel, { followFinal: false });
        const st = await lstatOrUndefined(targetHost);
        if (!st) {
          throw new BuildImageError(
            'IMAGE_TAR_INVALID_LINK',
            `hardlink "${entry.path}" points at "${entry.linkname}", which is not in the archive or below it`,
          );
        }
        if (st.isDirectory()) throw new BuildImageError('IMAGE_TAR_INVALID_LINK', `hardlink "${entry.path}" points at a directory`);
        await link(targetHost, host);
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const args =
          entry.type === 'fifo'
            ? { cmd: 'mkfifo', argv: ['-m', '600', host] }
            : { cmd: 'mknod', argv: ['-m', '600', host, entry.type === 'char' ? 'c' : 'b', String(entry.devmajor), String(entry.devminor)] };
        const r = spawnSync(args.cmd, args.argv, { encoding: 'utf8' });
        if (r.status !== 0) {
          skipped.push({ path: rel, reason: `cannot create ${entry.type} device: ${(r.stderr || r.error?.message || '').trim()}` });
          continue;
        }
        break;
      }
    }
    created.add(rel);
    const isLink = entry.type === 'symlink';
    if (entry.type !== 'hardlink') {
      await setAttributes(host, entry, { sameOwner, owner: options.owner, isLink, skipped, rel });
      if (entry.type === 'dir') dirTimes.push({ host, mtime: clamp(entry.mtime) });
      else await lutimes(host, clamp(entry.mtime), clamp(entry.mtime));
    }
    options.onEntry?.(entry, host);
  }
  // Directory times last: creating their children changed them.
  for (const d of dirTimes.reverse()) await utimes(d.host, d.mtime, d.mtime);
  return { entries: count, skipped };
}

async function setAttributes(
  host: string,
  entry: TarReadEntry,
  o: { sameOwner: boolean; owner: ExtractOptions['owner']; isLink: boolean; skipped: { path: string; reason: string }[]; rel: string },
): Promise<void> {
  if (o.owner) await lchown(host, o.owner.uid, o.owner.gid);
  else if (o.sameOwner) await lchown(host, entry.uid, entry.gid);
  // chmod after chown: chown clears setuid/setgid.
  if (!o.isLink) await chmod(host, entry.mode & 0o7777);
  const names = Object.keys(entry.xattrs);
  if (names.length > 0) o.skipped.push({ path: o.rel, reason: `xattrs not set: ${names.sort().join(', ')}` });
}

/** Removes a lower-layer path, keeping anything this archive created below it. */
async function removeLowerTree(host: string, rel: string, created: Set<string>): Promise<void> {
  const st = await lstatOrUndefined(host);
  if (!st) return;
  const prefix = rel + '/';
  const keep = [...created].some((c) => c.startsWith(prefix));
  if (!st.isDirectory() || !keep) {
    await rm(host, { recursive: true, force: true });
    return;
  }
  for (const kid of await readdir(host)) {
    const kidRel = `${rel}/${kid}`;
    if (created.has(kidRel)) continue;
    await removeLowerTree(join(host, kid), kidRel, created);
  }
}
