/**
 * Layer compression: deterministic gzip, decompression, compression sniffing, and the one-pass
 * "compress and hash" used to make layers (compressed digest + size and uncompressed diffID
 * computed while the bytes stream through, never held in memory).
 *
 * The gzip header is fixed: `1f 8b 08 00 00000000 XFL ff` — no file name, no comment, MTIME 0,
 * XFL as zlib/Go set it for the level (2 at level 9, 4 at level 1, else 0) and OS byte 0xff
 * ("unknown"). 0xff is what Go's compress/gzip writes, i.e. what BuildKit and containerd put in
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

/**
 * The transforms that gzip with the fixed header: zlib's gzip, then a patch of header byte 9
 * (OS) to 0xff. Use them inside a pipeline, or call `compress(input, 'gzip')`.
 */
export function gzipTransforms(options: { level?: number } = {}): Transform[] {
  const gz = zlib.createGzip({ level: options.level ?? DEFAULT_GZIP_LEVEL });
  let offset = 0; // bytes of output seen so far, to find header byte 9
  const fix = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (offset <= 9 && offset + chunk.length > 9) {
        chunk = Buffer.from(chunk); // never write into zlib's buffer
        chunk[9 - offset] = GZIP_OS_BYTE;
      }
      offset += chunk.length;
      cb(null, chunk);
    },
  });
  return [gz, fix];
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
