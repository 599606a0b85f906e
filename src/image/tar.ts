/**
 * Layer tars: a deterministic streaming writer, a streaming reader, and whiteouts.
 *
 * Writer determinism rules:
 * - Entries are sorted the way BuildKit's differs emit them (Go's filepath.Walk order):
 *   parents before children, siblings by the bytes of their names — compared component by
 *   component, so `a/b` comes before `a-b` (a plain string sort would put `a-b` first). Within a
 *   directory, whiteouts come first (`.wh..wh..opq`, then `.wh.<name>` by name), as the OCI
 *   layer spec asks ("whiteout files appear before sibling directory entries"); BuildKit's
 *   overlay differ puts `.wh.x` where `x` would sort, which readers accept either way.
 * - Directory names end with `/`; names are relative, without `./`.
 * - Headers are laid out as Go's archive/tar writes them for containerd's ChangeWriter
 *   (hdr.Format = PAX): plain USTAR (long ASCII names split into prefix/name) unless something
 *   cannot be said in USTAR — a non-ASCII or over-long name or link target, a uid/gid above
 *   2097151, a size of 8 GiB or more, an mtime out of range, or xattrs — and then one PAX
 *   header (`<dir>/PaxHeaders.0/<base>`) with only those records, sorted by key. Octal fields
 *   are zero-padded and NUL-terminated, the checksum is `%06o\0 `, uname/gname are empty, the
 *   archive ends with two zero blocks and no further padding.
 * - mtimes are whole seconds (fractions dropped); with `clampMtime` (SOURCE_DATE_EPOCH) any
 *   later mtime becomes `clampMtime`, whiteouts included. Whiteouts default to mtime 0, as
 *   containerd 2 writes them.
 * - uid/gid are numeric; names are never written. `owner` forces one uid/gid on every entry.
 *
 * tar-stream's packer is not used for writing: it truncates uids above 262143 and mtimes past
 * 2038, and names the real header "PaxHeader" after a PAX header. We encode headers ourselves.
 * The reader is ours too, because tar-stream decodes PAX values as UTF-8 and so corrupts
 * binary xattrs such as security.capability.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { compareCodePoints } from './json.js';
import { basePath, parentPath } from './paths.js';
import { readAll } from './stream.js';

// ---------------------------------------------------------------------------------------------
// Entries

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** Something that can be read again from the start on every call. */
export type ContentOpener = () => Readable | AsyncIterable<Uint8Array> | Promise<Readable | AsyncIterable<Uint8Array>>;

/** One entry to write. */
export interface TarEntry {
  /** Layer-relative path (`usr/bin/env`); a leading `/` or `./` and a trailing `/` are ignored. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777` is written). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch (fractions are dropped). */
  readonly mtime: number;
  /** Size in bytes of a `file`'s content (0 for other types). */
  readonly size?: number | undefined;
  /** Symlink target (any text), or hardlink target (a layer-relative path). */
  readonly linkname?: string | undefined;
  readonly devmajor?: number | undefined;
  readonly devminor?: number | undefined;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records. */
  readonly xattrs?: Readonly<Record<string, Uint8Array | string>> | undefined;
  /** Content of a `file`, opened when the entry is written. */
  readonly open?: ContentOpener | undefined;
  /** Content of a small `file` held in memory (instead of `open`; `size` defaults to its length). */
  readonly data?: Uint8Array | string | undefined;
}

export interface TarWriteOptions {
  /** SOURCE_DATE_EPOCH: mtimes later than this (seconds) are set to it. */
  readonly clampMtime?: number | undefined;
  /** Force this owner on every entry. */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
  /**
   * true (default): entries are sorted here (they must fit in memory as metadata; content is
   * streamed). false: entries must already be in order, which is checked as they stream.
   */
  readonly sort?: boolean | undefined;
}

// ---------------------------------------------------------------------------------------------
// Whiteouts (OCI image-spec layer.md)

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** `a/b` → `a/.wh.b`: the entry that deletes `a/b` of lower layers. */
export function whiteoutPath(path: string): string {
  const p = normalizeEntryPath(path);
  const dir = parentPath(p);
  return (dir ? dir + '/' : '') + WHITEOUT_PREFIX + basePath(p);
}

/** `a` → `a/.wh..wh..opq`: the entry that hides everything lower layers have under `a`. */
export function opaqueWhiteoutPath(dir: string): string {
  const d = dir.split('/').filter((p) => p !== '' && p !== '.').join('/');
  return (d ? d + '/' : '') + OPAQUE_WHITEOUT;
}

export interface WhiteoutOptions {
  /** Default 0 (1970-01-01), as containerd 2 writes whiteouts. */
  readonly mtime?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** A whiteout entry deleting `path` (an empty regular file, mode 0, root-owned). */
export function whiteoutEntry(path: string, options: WhiteoutOptions = {}): TarEntry {
  return { path: whiteoutPath(path), type: 'file', mode: 0, uid: options.uid ?? 0, gid: options.gid ?? 0, mtime: options.mtime ?? 0, size: 0 };
}

/** An opaque whiteout entry for directory `dir`. */
export function opaqueWhiteoutEntry(dir: string, options: WhiteoutOptions = {}): TarEntry {
  return { path: opaqueWhiteoutPath(dir), type: 'file', mode: 0, uid: options.uid ?? 0, gid: options.gid ?? 0, mtime: options.mtime ?? 0, size: 0 };
}

/** What a path means as a whiteout: deletes `target`, hides all of `dir`, or is not one. */
export type WhiteoutKind = { kind: 'whiteout'; target: string } | { kind: 'opaque'; dir: string } | undefined;

/** Recognises whiteout names (`a/.wh.b` → delete `a/b`; `a/.wh..wh..opq` → opaque `a`). */
export function parseWhiteout(path: string): WhiteoutKind {
  const p = path.split('/').filter((x) => x !== '' && x !== '.').join('/');
  const base = basePath(p);
  const dir = parentPath(p);
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..' || name.startsWith(WHITEOUT_PREFIX)) {
      throw new BuildImageError('IMAGE_INVALID_WHITEOUT', `invalid whiteout name "${path}"`);
    }
    return { kind: 'whiteout', target: (dir ? dir + '/' : '') + name };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Ordering

/** `./a//b/` → `a/b`. Throws `IMAGE_TAR_INVALID_PATH` for `..`, NUL, or the root itself. */
export function normalizeEntryPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new BuildImageError('IMAGE_TAR_INVALID_PATH', `tar entry path "${path}" names the root`);
  if (parts.includes('..') || path.includes('\0')) {
    throw new BuildImageError('IMAGE_TAR_INVALID_PATH', `tar entry path "${path}" must not contain ".." or NUL`);
  }
  return parts.join('/');
}

function rank(name: string): number {
  if (name === OPAQUE_WHITEOUT) return 0;
  if (name.startsWith(WHITEOUT_PREFIX)) return 1;
  return 2;
}

/** Orders normalized paths: component-wise, parents first, whiteouts first among siblings. */
export function compareEntryPaths(a: string, b: string): number {
  if (a === b) return 0;
  const pa = a.split('/');
  const pb = b.split('/');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const ca = pa[i]!;
    const cb = pb[i]!;
    if (ca === cb) continue;
    const r = rank(ca) - rank(cb);
    if (r !== 0) return r;
    return compareCodePoints(ca, cb);
  }
  return pa.length - pb.length;
}

/** The entries in write order (a new array); throws `IMAGE_TAR_DUPLICATE` for repeated paths. */
export function sortEntries<T extends TarEntry>(entries: Iterable<T>): T[] {
  const keyed = [...entries].map((e) => ({ e, key: normalizeEntryPath(e.path) }));
  keyed.sort((x, y) => compareEntryPaths(x.key, y.key));
  for (let i = 1; i < keyed.length; i++) {
    if (keyed[i]!.key === keyed[i - 1]!.key) {
      throw new BuildImageError('IMAGE_TAR_DUPLICATE', `duplicate tar entry "${keyed[i]!.key}"`);
    }
  }
  return keyed.map((k) => k.e);
}

// ---------------------------------------------------------------------------------------------
// Header encoding

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const MAX_OCTAL_7 = 0o7777777; // 8-byte fields: 7 digits + NUL
const MAX_OCTAL_11 = 0o77777777777; // 12-byte fields: 11 digits + NUL

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

function toAscii(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x00-\x7f]/g, '');
}

/** Go's splitUSTARPath: a prefix (≤155) and name (≤100) split at a `/`, or undefined. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.slice(0, length).lastIndexOf('/');
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

function putString(buf: Buffer, offset: number, size: number, s: string): void {
  const bytes = Buffer.from(s, 'latin1'); // callers pass ASCII
  bytes.copy(buf, offset, 0, Math.min(bytes.length, size));
  // Go: a truncated name ending in "/" loses that slash so old readers do not see a directory.
  if (bytes.length > size && buf[offset + size - 1] === 0x2f) {
    let n = size;
    while (n > 0 && buf[offset + n - 1] === 0x2f) n--;
    buf[offset + n] = 0;
  }
}

function putOctal(buf: Buffer, offset: number, size: number, value: number): void {
  const max = 8 ** (size - 1) - 1;
  const v = value >= 0 && value <= max ? value : 0; // Go writes 0 when a value needs PAX
  buf.write(v.toString(8).padStart(size - 1, '0'), offset, size - 1, 'latin1');
  buf[offset + size - 1] = 0;
}

function finishHeader(buf: Buffer): Buffer {
  buf.write('ustar\x0000', 257, 8, 'latin1'); // USTAR/PAX magic and version
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  buf[154] = 0;
  buf[155] = 0x20;
  return buf;
}

/** One PAX record `"<len> <key>=<value>\n"`, len counting itself (Go's formatPAXRecord). */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + String(body.length).length;
  if (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

interface HeaderFields {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: [string, Buffer][];
}

/** The header block(s) for one entry: [PAX header, PAX data…,] main header. */
function encodeHeader(h: HeaderFields): Buffer[] {
  const pax = new Map<string, Buffer>();
  let ustarOk = true;

  const nameNeedsPax = !isAscii(h.name) || h.name.length > NAME_SIZE;
  const split = h.name.length > NAME_SIZE ? splitUstarPath(h.name) : undefined;
  if (nameNeedsPax) {
    pax.set('path', Buffer.from(h.name, 'utf8'));
    if (split === undefined) ustarOk = false;
  }
  if (!isAscii(h.linkname) || h.linkname.length > NAME_SIZE) {
    pax.set('linkpath', Buffer.from(h.linkname, 'utf8'));
    ustarOk = false;
  }
  for (const [key, value, max] of [
    ['uid', h.uid, MAX_OCTAL_7],
    ['gid', h.gid, MAX_OCTAL_7],
    ['size', h.size, MAX_OCTAL_11],
    ['mtime', h.mtime, MAX_OCTAL_11],
  ] as const) {
    if (value < 0 || value > max) {
      pax.set(key, Buffer.from(String(value), 'ascii'));
      ustarOk = false;
    }
  }
  for (const [key, value] of [
    ['devmajor', h.devmajor],
    ['devminor', h.devminor],
  ] as const) {
    if (value < 0 || value > MAX_OCTAL_7) {
      throw new BuildImageError('IMAGE_TAR_FIELD_RANGE', `tar entry "${h.name}": ${key} ${value} does not fit in a tar header`);
    }
  }
  for (const [key, value] of h.xattrs) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw new BuildImageError('IMAGE_TAR_INVALID_XATTR', `tar entry "${h.name}": invalid xattr name "${key}"`);
    }
    pax.set(`SCHILY.xattr.${key}`, value);
    ustarOk = false;
  }

  const main = Buffer.alloc(BLOCK);
  if (ustarOk) {
    const [prefix, name] = split ?? ['', h.name];
    putString(main, 0, NAME_SIZE, name);
    putString(main, 345, PREFIX_SIZE, prefix);
  } else {
    putString(main, 0, NAME_SIZE, toAscii(h.name));
  }
  putOctal(main, 100, 8, h.mode);
  putOctal(main, 108, 8, h.uid);
  putOctal(main, 116, 8, h.gid);
  putOctal(main, 124, 12, h.size);
  putOctal(main, 136, 12, h.mtime);
  main.write(h.typeflag, 156, 1, 'latin1');
  putString(main, 157, NAME_SIZE, ustarOk ? h.linkname : toAscii(h.linkname));
  // uname (265) and gname (297) stay empty.
  putOctal(main, 329, 8, h.devmajor);
  putOctal(main, 337, 8, h.devminor);
  finishHeader(main);
  if (ustarOk) return [main];

  const keys = [...pax.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  const data = Buffer.concat(keys.map((k) => paxRecord(k, pax.get(k)!)));
  // Go: path.Join(dir, "PaxHeaders.0", file), ASCII only, at most 100 bytes, no trailing "/".
  const slash = h.name.lastIndexOf('/', h.name.endsWith('/') ? h.name.length - 2 : h.name.length);
  const dir = h.name.endsWith('/') ? h.name.slice(0, -1) : slash >= 0 ? h.name.slice(0, slash) : '';
  const file = h.name.endsWith('/') ? '' : h.name.slice(slash + 1);
  let paxName = [dir, 'PaxHeaders.0', file].filter(Boolean).join('/');
  paxName = toAscii(paxName).slice(0, NAME_SIZE).replace(/\/+$/, '');
  const head = Buffer.alloc(BLOCK);
  putString(head, 0, NAME_SIZE, paxName);
  putOctal(head, 100, 8, 0);
  putOctal(head, 108, 8, 0);
  putOctal(head, 116, 8, 0);
  putOctal(head, 124, 12, data.length);
  putOctal(head, 136, 12, 0);
  head.write('x', 156, 1, 'latin1');
  finishHeader(head);
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return [head, data, Buffer.alloc(pad), main];
}

// ---------------------------------------------------------------------------------------------
// Writer

function toBytes(v: Uint8Array | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function checkInt(entry: TarEntry, field: string, value: number | undefined, min: number): number {
  const v = value ?? 0;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new BuildImageError('IMAGE_TAR_FIELD_RANGE', `tar entry "${entry.path}": invalid ${field} ${String(value)}`);
  }
  return v;
}

/** The header fields of an entry after normalisation (path form, clamp, owner). */
function headerFor(entry: TarEntry, path: string, options: TarWriteOptions): HeaderFields {
  if (!(entry.type in TYPEFLAG)) {
    throw new BuildImageError('IMAGE_TAR_INVALID_TYPE', `tar entry "${entry.path}": unknown type "${String(entry.type)}"`);
  }
  let mtime = Math.floor(entry.mtime);
  if (!Number.isSafeInteger(mtime)) throw new BuildImageError('IMAGE_TAR_FIELD_RANGE', `tar entry "${entry.path}": invalid mtime ${entry.mtime}`);
  if (options.clampMtime !== undefined && mtime > options.clampMtime) mtime = Math.floor(options.clampMtime);
  const size = entry.type === 'file' ? checkInt(entry, 'size', entry.size ?? (entry.data === undefined ? 0 : toBytes(entry.data).length), 0) : 0;
  const linkname = entry.type === 'symlink' || entry.type === 'hardlink' ? (entry.linkname ?? '') : '';
  if ((entry.type === 'symlink' || entry.type === 'hardlink') && linkname === '') {
    throw new BuildImageError('IMAGE_TAR_INVALID_LINK', `tar entry "${entry.path}": ${entry.type} without a target`);
  }
  if (linkname.includes('\0')) throw new BuildImageError('IMAGE_TAR_INVALID_LINK', `tar entry "${entry.path}": link target contains NUL`);
  const isDev = entry.type === 'char' || entry.type === 'block';
  const xattrs = Object.entries(entry.xattrs ?? {})
    .map(([k, v]) => [k, toBytes(v)] as [string, Buffer]);
  return {
    name: entry.type === 'dir' ? path + '/' : path,
    typeflag: TYPEFLAG[entry.type],
    mode: checkInt(entry, 'mode', entry.mode, 0) & 0o7777,
    uid: options.owner ? options.owner.uid : checkInt(entry, 'uid', entry.uid, 0),
    gid: options.owner ? options.owner.gid : checkInt(entry, 'gid', entry.gid, 0),
    size,
    mtime,
    linkname: entry.type === 'hardlink' ? normalizeEntryPath(linkname) : linkname,
    devmajor: isDev ? checkInt(entry, 'devmajor', entry.devmajor, 0) : 0,
    devminor: isDev ? checkInt(entry, 'devminor', entry.devminor, 0) : 0,
    xattrs,
  };
}

async function* entryChunks(entry: TarEntry, path: string, options: TarWriteOptions): AsyncGenerator<Buffer> {
  const h = headerFor(entry, path, options);
  yield* encodeHeader(h);
  if (entry.type !== 'file' || h.size === 0) {
    if (entry.type === 'file' && entry.data !== undefined && toBytes(entry.data).length !== 0) {
      throw sizeMismatch(path, toBytes(entry.data).length, 0);
    }
    return;
  }
  let written = 0;
  if (entry.data !== undefined) {
    const bytes = toBytes(entry.data);
    if (bytes.length !== h.size) throw sizeMismatch(path, bytes.length, h.size);
    written = bytes.length;
    yield bytes;
  } else if (entry.open) {
    const source = await entry.open();
    try {
      for await (const chunk of source) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        written += b.length;
        if (written > h.size) throw sizeMismatch(path, written, h.size);
        yield b;
      }
    } finally {
      if (source instanceof Readable && !source.destroyed) source.destroy();
    }
  }
  if (written !== h.size) throw sizeMismatch(path, written, h.size);
  const pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
  if (pad) yield ZERO_BLOCK.subarray(0, pad);
}

function sizeMismatch(path: string, got: number, want: number): BuildImageError {
  const content = got > want ? `more than ${want}` : String(got);
  return new BuildImageError(
    'IMAGE_TAR_SIZE_MISMATCH',
    `tar entry "${path}": content is ${content} bytes but the entry says ${want} (did the file change while it was read?)`,
  );
}

/**
 * Writes `entries` as a tar stream (see the module comment for the exact format). Content is
 * opened one file at a time and streamed; nothing but headers is buffered. Errors (a size
 * mismatch, a bad field, entries out of order) destroy the stream with a BuildImageError.
 */
export function writeTar(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>, options: TarWriteOptions = {}): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    let source: Iterable<TarEntry> | AsyncIterable<TarEntry> = entries;
    if (options.sort !== false) {
      const all: TarEntry[] = [];
      for await (const e of entries) all.push(e);
      source = sortEntries(all);
    }
    let prev: string | undefined;
    for await (const entry of source) {
      const path = normalizeEntryPath(entry.path);
      if (prev !== undefined) {
        const c = compareEntryPaths(prev, path);
        if (c === 0) throw new BuildImageError('IMAGE_TAR_DUPLICATE', `duplicate tar entry "${path}"`);
        if (c > 0) throw new BuildImageError('IMAGE_TAR_UNSORTED', `tar entry "${path}" comes after "${prev}": entries are not in order`);
      }
      prev = path;
      yield* entryChunks(entry, path, options);
    }
    yield ZERO_BLOCK;
    yield ZERO_BLOCK;
  }
  return Readable.from(generate(), { objectMode: false });
}

// ---------------------------------------------------------------------------------------------
// Reader

/** One entry read from a tar. */
export interface TarHeader {
  /** The name as stored (after PAX/GNU long names), not cleaned: see `confinePath`. */
  readonly path: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Seconds since the epoch (PAX times may have fractions). */
  readonly mtime: number;
  readonly size: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** From PAX `SCHILY.xattr.*` records, as raw bytes. */
  readonly xattrs: Readonly<Record<string, Buffer>>;
  /** Byte offset of the content in the (uncompressed) archive. */
  readonly offset: number;
}

export interface TarReadEntry extends TarHeader {
  /**
   * The content of a `file` (empty for other types). Read it before asking for the next
   * entry: moving on skips what was not read, and the stream then fails.
   */
  body(): Readable;
  /** The whole content in memory (for small files). */
  bytes(): Promise<Buffer>;
}

export interface TarReadOptions {
  /** Skip entries of types we cannot represent (sockets, GNU sparse …) instead of failing. */
  readonly skipUnsupported?: boolean;
}

/** Where the reader gets bytes: a stream, or a file it can seek in. */
interface ByteSource {
  /** Bytes consumed (read or skipped) so far. */
  position: number;
  /** Up to `max` bytes (at least one) or undefined at the end. */
  some(max: number): Promise<Buffer | undefined>;
  /** Exactly `n` bytes; undefined if the input ended before any; throws if it ends midway. */
  exact(n: number): Promise<Buffer | undefined>;
  skip(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A seekable file: skipping costs nothing, so indexing a large archive reads only headers. */
class FileSource implements ByteSource {
  position = 0;
  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r');
    return new FileSource(fh, (await fh.stat()).size);
  }

  private async readAt(n: number): Promise<Buffer> {
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, this.position + got);
      if (bytesRead === 0) throw truncated();
      got += bytesRead;
    }
    this.position += n;
    return buf;
  }

  async some(max: number): Promise<Buffer | undefined> {
    if (this.position >= this.size) return undefined;
    return this.readAt(Math.min(max, 256 * 1024, this.size - this.position));
  }

  async exact(n: number): Promise<Buffer | undefined> {
    if (this.position >= this.size) return undefined;
    if (this.position + n > this.size) throw truncated();
    return this.readAt(n);
  }

  async skip(n: number): Promise<void> {
    if (this.position + n > this.size) throw truncated();
    this.position += n;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Pulls exact byte counts out of a chunked stream. */
class StreamSource implements ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes handed out so far. */
  position = 0;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      if (b.length === 0) continue;
      this.chunks.push(b);
      this.buffered += b.length;
    }
    return this.buffered >= n;
  }

  /** Up to `max` bytes (at least one) or undefined at the end. */
  async some(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill(1))) return undefined;
    const first = this.chunks[0]!;
    if (first.length <= max) {
      this.chunks.shift();
      this.buffered -= first.length;
      this.position += first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.buffered -= max;
    this.position += max;
    return first.subarray(0, max);
  }

  /** Exactly `n` bytes; undefined if the stream ended before any; throws if it ends midway. */
  async exact(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.buffered === 0) return undefined;
      throw truncated();
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const b = (await this.some(need))!;
      parts.push(b);
      need -= b.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async skip(n: number): Promise<void> {
    let need = n;
    while (need > 0) {
      const b = await this.some(need);
      if (!b) throw truncated();
      need -= b.length;
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function truncated(): BuildImageError {
  return new BuildImageError('IMAGE_TAR_TRUNCATED', 'unexpected end of tar archive');
}

function invalid(message: string): BuildImageError {
  return new BuildImageError('IMAGE_TAR_INVALID', `invalid tar archive: ${message}`);
}

function readString(block: Buffer, offset: number, size: number): string {
  const field = block.subarray(offset, offset + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('utf8');
}

function readNumber(block: Buffer, offset: number, size: number, what: string): number {
  const field = block.subarray(offset, offset + size);
  if (field[0]! & 0x80) {
    // GNU base-256: two's complement, big-endian, the top bit of the first byte is the marker.
    const inv = field[0]! & 0x40 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < size; i++) {
      let c = field[i]! ^ inv;
      if (i === 0) c &= 0x7f;
      x = (x << 8n) | BigInt(c);
    }
    const v = inv ? -x - 1n : x;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw invalid(`${what} does not fit in a number`);
    return Number(v);
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`bad ${what} field "${text}"`);
  return parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const want = readNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** Binary-safe PAX records. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw invalid('bad PAX record');
    const len = Number(data.toString('latin1', pos, space));
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > data.length) throw invalid('bad PAX record length');
    const rec = data.subarray(space + 1, pos + len);
    if (rec[rec.length - 1] !== 0x0a) throw invalid('PAX record without newline');
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalid('PAX record without "="');
    out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1, rec.length - 1));
    pos += len;
  }
  return out;
}

const TYPE_OF_FLAG: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * Reads an uncompressed tar stream entry by entry (use `autoDecompress` first for compressed
 * input). PAX (local) and GNU long name/link records are applied; PAX global headers are
 * ignored, as containerd does. Unsupported entry types fail with `IMAGE_TAR_UNSUPPORTED_ENTRY`
 * unless `skipUnsupported`.
 */
export async function* readTar(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: TarReadOptions = {},
): AsyncGenerator<TarReadEntry> {
  const iterator =
    Symbol.asyncIterator in input
      ? (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (async function* () {
          yield* input as Iterable<Uint8Array>;
        })();
  yield* readFrom(new StreamSource(iterator), options);
}

/**
 * Reads a tar file like `readTar`, but seeks over content that is not read, so listing or
 * indexing a large archive reads only its headers. Entry `offset`s are file offsets.
 */
export async function* readTarFile(path: string, options: TarReadOptions = {}): AsyncGenerator<TarReadEntry> {
  yield* readFrom(await FileSource.open(path), options);
}

async function* readFrom(reader: ByteSource, options: TarReadOptions): AsyncGenerator<TarReadEntry> {
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const block = await reader.exact(BLOCK);
      if (!block) return; // EOF at a block boundary: accepted, as Go does
      if (block.equals(ZERO_BLOCK)) {
        const next = await reader.exact(BLOCK).catch(() => undefined);
        if (!next || next.equals(ZERO_BLOCK)) return;
        throw invalid('a zero block in the middle of the archive');
      }
      if (!checksumOk(block)) throw invalid('header checksum mismatch (is the archive compressed or corrupt?)');
      const flag = String.fromCharCode(block[156]!);
      const size = readNumber(block, 124, 12, 'size');
      const magic = block.toString('latin1', 257, 263);
      const isUstar = magic === 'ustar\0';

      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > 16 * 1024 * 1024) throw invalid(`extended header of ${size} bytes`);
        const data = (await reader.exact(size)) ?? Buffer.alloc(0);
        if (data.length !== size) throw truncated();
        await reader.skip((BLOCK - (size % BLOCK)) % BLOCK);
        if (flag === 'x') pax = parsePax(data);
        else if (flag === 'L') longName = readString(data, 0, data.length);
        else if (flag === 'K') longLink = readString(data, 0, data.length);
        continue; // 'g': ignored
      }

      let name = readString(block, 0, 100);
      if (isUstar) {
        const prefix = readString(block, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      let linkname = readString(block, 157, 100);
      let uid = readNumber(block, 108, 8, 'uid');
      let gid = readNumber(block, 116, 8, 'gid');
      let mtime = readNumber(block, 136, 12, 'mtime');
      let entrySize = size;
      let uname = readString(block, 265, 32);
      let gname = readString(block, 297, 32);
      const xattrs: Record<string, Buffer> = {};
      if (longName !== undefined) name = longName;
      if (longLink !== undefined) linkname = longLink;
      if (pax) {
        const num = (key: string, current: number): number => {
          const v = pax!.get(key);
          if (v === undefined) return current;
          const n = Number(v.toString('latin1'));
          if (!Number.isFinite(n)) throw invalid(`bad PAX ${key} "${v.toString('latin1')}"`);
          return n;
        };
        const str = (key: string, current: string): string => pax!.get(key)?.toString('utf8') ?? current;
        name = str('path', name);
        linkname = str('linkpath', linkname);
        uname = str('uname', uname);
        gname = str('gname', gname);
        uid = num('uid', uid);
        gid = num('gid', gid);
        mtime = num('mtime', mtime);
        entrySize = num('size', entrySize);
        for (const [k, v] of pax) {
          if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
        }
      }
      pax = undefined;
      longName = undefined;
      longLink = undefined;

      let type = TYPE_OF_FLAG[flag];
      if (type === 'file' && flag !== '7' && name.endsWith('/')) type = 'dir'; // V7 directories
      // Only regular files carry content; other types' size field is ignored except for
      // skipping (Go's reader does the same for links and directories).
      const dataSize = entrySize;
      const contentSize = type === 'file' ? dataSize : 0;
      if (type === undefined) {
        if (!options.skipUnsupported) {
          throw new BuildImageError(
            'IMAGE_TAR_UNSUPPORTED_ENTRY',
            `unsupported tar entry type "${flag === '\0' ? '\\0' : flag}" for "${name}"`,
          );
        }
        await reader.skip(dataSize + ((BLOCK - (dataSize % BLOCK)) % BLOCK));
        continue;
      }

      const offset = reader.position;
      let remaining = dataSize;
      let current = true;
      let started = false;
      async function* content(): AsyncGenerator<Buffer> {
        let left = contentSize;
        while (left > 0) {
          if (!current) throw new BuildImageError('IMAGE_TAR_READ_ORDER', `tar entry "${name}" read after moving to the next entry`);
          const b = await reader.some(left);
          if (!b) throw truncated();
          left -= b.length;
          remaining -= b.length;
          yield b;
        }
      }
      const entry: TarReadEntry = {
        path: name,
        type,
        mode: readNumber(block, 100, 8, 'mode') & 0o7777,
        uid,
        gid,
        uname,
        gname,
        mtime,
        size: contentSize,
        linkname,
        devmajor: type === 'char' || type === 'block' ? readNumber(block, 329, 8, 'devmajor') : 0,
        devminor: type === 'char' || type === 'block' ? readNumber(block, 337, 8, 'devminor') : 0,
        xattrs,
        offset,
        body() {
          if (started) throw new BuildImageError('IMAGE_TAR_READ_ORDER', `tar entry "${name}": body() called twice`);
          started = true;
          return Readable.from(content(), { objectMode: false });
        },
        async bytes() {
          if (started) throw new BuildImageError('IMAGE_TAR_READ_ORDER', `tar entry "${name}": body() called twice`);
          started = true;
          return readAll(content());
        },
      };
      yield entry;
      current = false;
      await reader.skip(remaining + ((BLOCK - (dataSize % BLOCK)) % BLOCK));
    }
  } finally {
    await reader.close();
  }
}
