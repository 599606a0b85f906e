/**
 * Test helper: an image's root filesystem (or a directory) flattened into sorted lines, one per
 * path, for exact comparisons:
 *
 *     d 0755 0:0 etc
 *     f 0644 0:0 etc/passwd sha256:…
 *     l 0777 0:0 bin -> usr/bin
 *     c 0666 0:0 dev/null 1:3
 *
 * The image is read from its layers' tar headers with OCI whiteouts applied (independently of
 * src/execute/rootfs.ts, so it can check it). Hard links are listed as the files they share
 * content with (a directory tree cannot tell which name came first). Options add mtimes
 * (` @<seconds>`) or leave owners out (trees unpacked without root own everything).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Image } from '../../src/image/image.js';
import type { Layer } from '../../src/image/layer.js';
import { readTar } from '../../src/image/tar.js';

export interface TreeOptions {
  /** Append ` @<mtime>` (seconds) to every line. */
  readonly mtime?: boolean;
  /** Leave `uid:gid` out. */
  readonly owners?: boolean;
  /** Only paths below this one (relative, without leading `/`). */
  readonly under?: string;
}

interface Rec {
  type: 'd' | 'f' | 'l' | 'c' | 'b' | 'p';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  extra: string;
}

function clean(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function line(path: string, r: Rec, o: TreeOptions): string {
  const mode = r.mode.toString(8).padStart(4, '0');
  const owner = o.owners === false ? '' : ` ${r.uid}:${r.gid}`;
  const mtime = o.mtime ? ` @${r.mtime}` : '';
  return `${r.type} ${mode}${owner} ${path}${r.extra}${mtime}`;
}

function format(map: Map<string, Rec>, o: TreeOptions): string[] {
  const under = o.under === undefined ? undefined : clean(o.under);
  return [...map.keys()]
    .filter((p) => under === undefined || p === under || p.startsWith(`${under}/`))
    .sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\//g, '\0')), Buffer.from(b.replace(/\//g, '\0'))))
    .map((p) => line(p, map.get(p)!, o));
}

function removeTree(map: Map<string, Rec>, path: string, keep: Set<string>): void {
  for (const p of [...map.keys()]) {
    if ((p === path || p.startsWith(`${path}/`)) && !keep.has(p)) map.delete(p);
  }
}

/** Applies one layer's tar (uncompressed) onto `map`. */
export async function applyLayerTo(map: Map<string, Rec>, layer: Layer): Promise<void> {
  const created = new Set<string>();
  for await (const e of readTar(await layer.openUncompressed())) {
    const path = clean(e.path);
    const base = path.slice(path.lastIndexOf('/') + 1);
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    if (base === '.wh..wh..opq') {
      for (const p of [...map.keys()]) if (dir === '' || p.startsWith(`${dir}/`)) if (!created.has(p)) map.delete(p);
      continue;
    }
    if (base.startsWith('.wh.')) {
      removeTree(map, (dir ? `${dir}/` : '') + base.slice(4), created);
      continue;
    }
    if (path === '') continue;
    const old = map.get(path);
    if (old !== undefined && !(old.type === 'd' && e.type === 'dir')) removeTree(map, path, created);
    let rec: Rec;
    const mode = e.mode & 0o7777;
    switch (e.type) {
      case 'dir':
        rec = { type: 'd', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: '' };
        break;
      case 'file': {
        const h = createHash('sha256');
        for await (const c of e.body()) h.update(c as Buffer);
        rec = { type: 'f', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: ` sha256:${h.digest('hex')}` };
        break;
      }
      case 'hardlink': {
        const t = map.get(clean(e.linkname));
        if (t === undefined) throw new Error(`hardlink ${path} -> ${e.linkname}: target missing`);
        rec = { ...t };
        break;
      }
      case 'symlink':
        rec = { type: 'l', mode: 0o777, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: ` -> ${e.linkname}` };
        break;
      default:
        rec = { type: e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : 'p', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: e.type === 'fifo' ? '' : ` ${e.devmajor}:${e.devminor}` };
    }
    map.set(path, rec);
    created.add(path);
  }
}

/** The merged root filesystem of `image`, one line per path (the root itself is not listed). */
export async function imageTree(image: Image | readonly Layer[], options: TreeOptions = {}): Promise<string[]> {
  const map = new Map<string, Rec>();
  const layers = Array.isArray(image) ? (image as readonly Layer[]) : (image as Image).layers;
  for (const layer of layers) await applyLayerTo(map, layer);
  return format(map, options);
}

/** The entries of ONE layer as it is (whiteouts listed as files), one line per entry, in tar order. */
export async function layerEntries(layer: Layer, options: TreeOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(await layer.openUncompressed())) {
    const path = e.path;
    const mode = e.mode & 0o7777;
    let rec: Rec;
    if (e.type === 'file') {
      const h = createHash('sha256');
      for await (const c of e.body()) h.update(c as Buffer);
      rec = { type: 'f', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: ` sha256:${h.digest('hex')}` };
    } else if (e.type === 'dir') rec = { type: 'd', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: '' };
    else if (e.type === 'symlink') rec = { type: 'l', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: ` -> ${e.linkname}` };
    else if (e.type === 'hardlink') rec = { type: 'f', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: ` => ${e.linkname}` };
    else rec = { type: e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : 'p', mode, uid: e.uid, gid: e.gid, mtime: e.mtime, extra: '' };
    out.push(line(path, rec, options) + (e.uname || e.gname ? ` [${e.uname}:${e.gname}]` : ''));
  }
  return out;
}

/** A directory on disk in the same format (for trees unpacked by other tools). */
export function dirTree(root: string, options: TreeOptions = {}): string[] {
  const map = new Map<string, Rec>();
  const walk = (rel: string) => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel))) {
      const p = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, p));
      const mode = st.mode & 0o7777;
      const mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isSymbolicLink()) map.set(p, { type: 'l', mode: 0o777, uid: st.uid, gid: st.gid, mtime, extra: ` -> ${readlinkSync(join(root, p))}` });
      else if (st.isDirectory()) {
        map.set(p, { type: 'd', mode, uid: st.uid, gid: st.gid, mtime, extra: '' });
        walk(p);
      } else if (st.isFile()) {
        const h = createHash('sha256').update(readFileSync(join(root, p))).digest('hex');
        map.set(p, { type: 'f', mode, uid: st.uid, gid: st.gid, mtime, extra: ` sha256:${h}` });
      } else {
        const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
        const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & ~0xffn));
        const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : 'p';
        map.set(p, { type, mode, uid: st.uid, gid: st.gid, mtime, extra: type === 'p' ? '' : ` ${major}:${minor}` });
      }
    }
  };
  walk('');
  return format(map, options);
}

/** sha256 hex of a string (to write expected trees). */
export function sha(text: string | Buffer): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
