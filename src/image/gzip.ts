/**
 * Layer compression: deterministic gzip, decompression, compression sniffing, and the one-pass
 * "compress and hash" used to make layers (compressed digest + size and uncompressed diffID
 * computed while the bytes stream through, never held in memory).
 *
 * Layers are gzipped as a series of gzip members of 1 MiB of input each (ParallelGzip), so
 * that they compress on several threads and data that does not compress is stored, not
 * deflated. Every member has the fixed header `1f 8b 08 00 00000000 XFL ff` — no file name,
 * no comment, MTIME 0, XFL as zlib/Go set it for the level (2 at level 9, 4 at level 1, else 0)
 * and OS byte 0xff ("unknown"). 0xff is what Go's compress/gzip writes, i.e. what BuildKit and containerd put in
 * every layer they compress; zlib would write 3 ("Unix"), which would make our header depend on
 * the build host's zlib. The deflate body comes from Node's bundled zlib, so it is stable for a
 * given Node release (a different zlib may compress differently; diffIDs never change).
 */
import { Readable, Transform, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { BuildImageError } from '../errors.js';
import { DigestHasher, type Digest } from './digest.js';
import type { Compression } from './schema.js';

/** The OS byte of every gzip header we write: 255, "unknown", as Go's compress/gzip. */
export const GZIP_OS_BYTE = 0xff;

/** The default gzip level: 6, zlib's and Go's default (gzip.DefaultCompression). */
export const DEFAULT_GZIP_LEVEL = 6;

/** Uncompressed bytes per gzip member: the unit of parallel compression. */
export const GZIP_CHUNK = 1 << 20;

/** Bytes of a chunk test-compressed to decide whether the chunk compresses at all. */
const SAMPLE = 16 * 1024;

/** Chunks compressing at once (zlib runs them on the libuv thread pool). */
const IN_FLIGHT = 4;

function gzipHeader(level: number): Buffer {
  // 1f 8b, deflate, no flags, MTIME 0, XFL as Go/zlib set it, OS 0xff.
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, GZIP_OS_BYTE]);
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (zlib's, where this Node has it). */
function crc32(data: Buffer): number {
  const native = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
  if (native) return native(data) >>> 0;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function deflateRaw(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zlib.deflateRaw(data, { level, chunkSize: Math.max(64 * 1024, data.length + 1024) }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * Stored deflate blocks (RFC 1951 BTYPE 00) for `data`, without copying it: a 5-byte header
 * per block of at most 65535 bytes, the last one with BFINAL set. Exactly what zlib writes at
 * level 0, minus the copies.
 */
function storedBlocks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const MAX = 65535;
  if (data.length === 0) return [Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff])];
  for (let off = 0; off < data.length; off += MAX) {
    const len = Math.min(MAX, data.length - off);
    const head = Buffer.alloc(5);
    head[0] = off + len >= data.length ? 0x01 : 0x00;
    head.writeUInt16LE(len, 1);
    head.writeUInt16LE(~len & 0xffff, 3);
    out.push(head, data.subarray(off, off + len));
  }
  return out;
}

/**
 * One gzip member for one chunk, as buffers to write in order. A chunk whose first 16 KiB do
 * not shrink at level 1 (already compressed or random data) is stored instead of deflated:
 * zlib gains nothing on such data and spends as long on it as on text. The decision depends on
 * the bytes only.
 */
async function gzipMember(chunk: Buffer, level: number): Promise<Buffer[]> {
  let store = level === 0;
  if (!store && chunk.length > SAMPLE) {
    const sample = zlib.deflateRawSync(chunk.subarray(0, SAMPLE), { level: 1 });
    store = sample.length >= SAMPLE * 0.97;
  }
  const body = store ? storedBlocks(chunk) : [await deflateRaw(chunk, level)];
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(chunk), 0);
  trailer.writeUInt32LE(chunk.length >>> 0, 4);
  return [gzipHeader(store ? 0 : level), ...body, trailer];
}

/**
 * Deterministic gzip, compressed in parallel: the input is cut into 1 MiB chunks, each
 * becomes a gzip member (RFC 1952 allows a series of members; Go's, zlib's, Python's and
 * Node's readers all read them as one stream), compressed on the thread pool several at a
 * time and written in order. Output depends only on the input bytes and the level.
 */
export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private readonly queue: Promise<Buffer[]>[] = [];
  private sawInput = false;

  constructor(private readonly level: number = DEFAULT_GZIP_LEVEL) {
    super();
  }

  /** Pushes finished members in order; waits while too many are in flight. */
  private async drain(limit: number): Promise<void> {
    while (this.queue.length > limit) for (const b of await this.queue.shift()!) this.push(b);
  }

  private schedule(chunk: Buffer): void {
    const p = gzipMember(chunk, this.level);
    p.catch(() => {}); // observed when drained
    this.queue.push(p);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sawInput = true;
    this.pending.push(chunk);
    this.pendingSize += chunk.length;
    if (this.pendingSize < GZIP_CHUNK) {
      cb();
      return;
    }
    (async () => {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingSize);
      let offset = 0;
      while (all.length - offset >= GZIP_CHUNK) {
        this.schedule(all.subarray(offset, offset + GZIP_CHUNK));
        offset += GZIP_CHUNK;
        await this.drain(IN_FLIGHT - 1);
      }
      const rest = all.subarray(offset);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingSize = rest.length;
    })().then(() => cb(), (err: Error) => cb(err));
  }

  override _flush(cb: (err?: Error | null) => void): void {
    if (this.pendingSize > 0 || !this.sawInput || this.queue.length === 0) {
      this.schedule(Buffer.concat(this.pending, this.pendingSize));
      this.pending = [];
      this.pendingSize = 0;
    }
    this.drain(0).then(() => cb(), (err: Error) => cb(err));
  }
}

/** The transforms that gzip (deterministic header, parallel members). */
export function gzipTransforms(options: { level?: number } = {}): Transform[] {
  return [new ParallelGzip(options.level ?? DEFAULT_GZIP_LEVEL)];
}

/** A gzip decompressor (several concatenated members are read as one stream). */
export function gunzipStream(): Transform {
  return zlib.createGunzip();
}

function zstdAvailable(): boolean {
  return typeof (zlib as unknown as Record<string, unknown>)['createZstdDecompress'] === 'function';
}

function unsupported(compression: string): BuildImageError {
  return new BuildImageError(
    'IMAGE_UNSUPPORTED_COMPRESSION',
    `${compression} compression is not supported by this Node.js runtime (${process.version})`,
    { suggestion: compression === 'zstd' ? 'use gzip layers or Node.js >= 22.15 for zstd' : undefined },
  );
}

function compressTransforms(compression: Compression, options: { level?: number }): Transform[] {
  switch (compression) {
    case 'gzip':
      return gzipTransforms(options);
    case 'none':
      return [];
    case 'zstd': {
      if (!zstdAvailable()) throw unsupported('zstd');
      const create = (zlib as unknown as Record<string, () => Transform>)['createZstdCompress']!;
      return [create()];
    }
  }
}

function decompressTransforms(compression: Compression): Transform[] {
  switch (compression) {
    case 'gzip':
      return [gunzipStream()];
    case 'none':
      return [];
    case 'zstd': {
      if (!zstdAvailable()) throw unsupported('zstd');
      const create = (zlib as unknown as Record<string, () => Transform>)['createZstdDecompress']!;
      return [create()];
    }
  }
}

/** `input` compressed with `compression` ('none' returns the bytes unchanged). */
export function compress(input: Readable, compression: Compression, options: { level?: number } = {}): Readable {
  return chain(input, compressTransforms(compression, options));
}

/** `input` decompressed from `compression` ('none' returns the bytes unchanged). */
export function decompress(input: Readable, compression: Compression): Readable {
  return chain(input, decompressTransforms(compression));
}

/** input → transforms…, returning the last stream; an error anywhere destroys the output. */
function chain(input: Readable, transforms: Transform[]): Readable {
  if (transforms.length === 0) return input;
  return pipeline(input, ...(transforms as [Transform, ...Transform[]]), () => {}) as unknown as Readable;
}

/** Compression formats recognised by their magic bytes. */
export type SniffedCompression = Compression | 'bzip2' | 'xz';

/** The compression of a stream from its first bytes (6 are enough). */
export function detectCompression(head: Uint8Array): SniffedCompression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/**
 * Reads the first `n` bytes of a stream without losing them: returns those bytes and a stream
 * that yields everything, from the first byte.
 */
export async function peekStream(stream: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = stream[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const chunk = Buffer.from(r.value);
    seen.push(chunk);
    have += chunk.length;
  }
  const head = Buffer.concat(seen).subarray(0, n);
  async function* all(): AsyncGenerator<Buffer> {
    yield* seen;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value);
    }
  }
  return { head, stream: Readable.from(all(), { objectMode: false }) };
}

/**
 * Decompresses a stream whatever its compression (gzip, zstd where supported, or none), as
 * ADD does with local archives. bzip2 and xz are recognised but not supported: throws
 * `IMAGE_UNSUPPORTED_COMPRESSION`.
 */
export async function autoDecompress(stream: AsyncIterable<Uint8Array>): Promise<{ compression: SniffedCompression; stream: Readable }> {
  const peeked = await peekStream(stream, 6);
  const compression = detectCompression(peeked.head);
  if (compression === 'bzip2' || compression === 'xz') {
    peeked.stream.destroy();
    throw unsupported(compression);
  }
  return { compression, stream: decompress(peeked.stream, compression) };
}

/** What one pass over a layer tar computes. */
export interface CompressedInfo {
  /** sha256 of the compressed bytes. */
  readonly digest: Digest;
  /** Size of the compressed bytes. */
  readonly size: number;
  /** sha256 of the uncompressed tar. */
  readonly diffID: Digest;
  /** Size of the uncompressed tar. */
  readonly uncompressedSize: number;
}

/**
 * Compresses `input` (an uncompressed tar) and hashes both sides in one pass. Read `stream`
 * to its end (or pipe it somewhere); `done` then resolves with digests and sizes. An error on
 * either side destroys both and rejects `done`.
 */
export function compressAndHash(
  input: Readable,
  compression: Compression,
  options: { level?: number } = {},
): { stream: Readable; done: Promise<CompressedInfo> } {
  const inHash = new DigestHasher();
  const outHash = new DigestHasher();
  const tapIn = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      inHash.update(chunk);
      cb(null, chunk);
    },
  });
  let resolve!: (v: CompressedInfo) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<CompressedInfo>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {}); // the caller may only watch the stream
  const tapOut = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      outHash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const diffID = inHash.digest();
      const uncompressedSize = inHash.size;
      if (compression === 'none') {
        resolve({ digest: diffID, size: uncompressedSize, diffID, uncompressedSize });
      } else {
        resolve({ digest: outHash.digest(), size: outHash.size, diffID, uncompressedSize });
      }
      cb();
    },
  });
  pipeline(input, tapIn, ...compressTransforms(compression, options), tapOut, (err) => {
    if (err) reject(err);
  });
  return { stream: tapOut, done };
}
