/**
 * A Layer is a value: its media type, compressed digest and size, uncompressed diffID, and two
 * openers that re-open the bytes on every call (never a buffered copy), like
 * go-containerregistry's `tarball.LayerFromOpener`. All digests are known when the value
 * exists; the constructors that need to compute them read the bytes once, streaming.
 *
 * Every stream a layer opens is verified as it is read: if the bytes do not hash to the
 * digest the layer claims, the stream fails at its end with `IMAGE_DIGEST_MISMATCH`.
 */
import { Readable, Transform, pipeline } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { DigestHasher, type Digest } from './digest.js';
import { compressAndHash, decompress } from './gzip.js';
import { layerCompression, layerMediaType, type Compression, type Descriptor, type MediaTypeFormat } from './schema.js';
import { writeTar, type TarEntry, type TarWriteOptions } from './tar.js';

/** Re-opens some bytes from the start. */
export type Opener = () => Readable | Promise<Readable>;

export interface Layer {
  readonly mediaType: string;
  /** Digest of the (compressed) blob. */
  readonly digest: Digest;
  /** Digest of the uncompressed tar (what rootfs.diff_ids lists). */
  readonly diffID: Digest;
  /** Size of the (compressed) blob in bytes. */
  readonly size: number;
  /** Size of the uncompressed tar, when known without reading it. */
  readonly uncompressedSize?: number | undefined;
  /** Annotations of the layer's descriptor in the manifest. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** URLs of a foreign layer's descriptor. */
  readonly urls?: readonly string[] | undefined;
  /** The blob bytes, as stored/pushed. Opened anew on every call. */
  open(): Promise<Readable>;
  /** The uncompressed tar. Opened anew on every call. */
  openUncompressed(): Promise<Readable>;
}

/** Something blobs can be read from by digest (a Store, an OCI layout). */
export interface BlobReader {
  openBlob(digest: Digest, options?: { verify?: boolean }): Promise<Readable>;
}

/** Something blobs can be written to (a Store). */
export interface BlobWriter {
  /** Stores the bytes; with `expected`, a different digest is an error and nothing is kept. */
  putBlob(data: Readable | Uint8Array, expected?: Digest): Promise<{ digest: Digest; size: number }>;
}

/**
 * Wraps `stream` so that it fails at its end unless its bytes hash to `digest` (and, when
 * given, count `size`).
 */
export function verifyStream(stream: Readable, digest: Digest, size: number | undefined, what: string): Readable {
  const hasher = new DigestHasher();
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const got = hasher.digest();
      if (got !== digest || (size !== undefined && hasher.size !== size)) {
        cb(
          new BuildImageError(
            'IMAGE_DIGEST_MISMATCH',
            `${what}: content has digest ${got} (${hasher.size} bytes) but ${digest}${size !== undefined ? ` (${size} bytes)` : ''} was expected`,
          ),
        );
      } else cb();
    },
  });
  return pipeline(stream, check, () => {}) as unknown as Readable;
}

/** The descriptor of a layer, as it appears in a manifest. */
export function layerDescriptor(layer: Layer): Descriptor {
  return {
    mediaType: layer.mediaType,
    digest: layer.digest,
    size: layer.size,
    ...(layer.urls && layer.urls.length > 0 ? { urls: [...layer.urls] } : {}),
    ...(layer.annotations && Object.keys(layer.annotations).length > 0 ? { annotations: { ...layer.annotations } } : {}),
  } as Descriptor;
}

interface LayerParts {
  mediaType: string;
  digest: Digest;
  diffID: Digest;
  size: number;
  uncompressedSize?: number | undefined;
  annotations?: Readonly<Record<string, string>> | undefined;
  urls?: readonly string[] | undefined;
  open: () => Promise<Readable>;
  openUncompressed: () => Promise<Readable>;
}

function makeLayer(parts: LayerParts): Layer {
  return Object.freeze({ ...parts });
}

/** The default decompressing `openUncompressed` of a compressed blob opener, verified. */
function uncompressedFrom(openBlob: () => Promise<Readable>, mediaType: string, diffID: Digest, what: string) {
  const compression = layerCompression(mediaType);
  return async () => verifyStream(decompress(await openBlob(), compression), diffID, undefined, `${what} (uncompressed)`);
}

/**
 * A layer whose blob lives in a store or layout, described by its descriptor and diffID.
 * Nothing is read until the layer is opened.
 */
export function layerFromBlob(
  source: BlobReader,
  desc: {
    mediaType: string;
    digest: Digest;
    size: number;
    diffID: Digest;
    uncompressedSize?: number | undefined;
    annotations?: Readonly<Record<string, string>> | undefined;
    urls?: readonly string[] | undefined;
  },
): Layer {
  layerCompression(desc.mediaType); // validates the media type
  const what = `layer ${desc.digest}`;
  const open = async () => verifyStream(await source.openBlob(desc.digest, { verify: false }), desc.digest, desc.size, what);
  return makeLayer({
    mediaType: desc.mediaType,
    digest: desc.digest,
    diffID: desc.diffID,
    size: desc.size,
    uncompressedSize: desc.uncompressedSize ?? (layerCompression(desc.mediaType) === 'none' ? desc.size : undefined),
    annotations: desc.annotations,
    urls: desc.urls,
    open,
    openUncompressed: uncompressedFrom(open, desc.mediaType, desc.diffID, what),
  });
}

export interface LayerFromTarOptions {
  /** Default 'gzip'. */
  readonly compression?: Compression;
  /** Media type family; default 'oci'. Ignored when `mediaType` is given. */
  readonly format?: MediaTypeFormat;
  /** Exact media type (must match `compression`). */
  readonly mediaType?: string;
  /** gzip level (default 6). */
  readonly level?: number;
  /** Store the compressed blob while it is computed; the layer then reads from there. */
  readonly store?: (BlobWriter & BlobReader) | undefined;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * A layer from an opener of an uncompressed tar. The tar is read once, here, to compress and
 * hash it (one pass). With `store`, the compressed bytes are stored on the way and the layer
 * reads them back from the store; without, `open()` compresses again on every call (the gzip
 * output is deterministic) and checks the result against the digest.
 */
export async function layerFromTar(openTar: Opener, options: LayerFromTarOptions = {}): Promise<Layer> {
  const compression = options.compression ?? (options.mediaType ? layerCompression(options.mediaType) : 'gzip');
  const mediaType = options.mediaType ?? layerMediaType(options.format ?? 'oci', compression);
  if (layerCompression(mediaType) !== compression) {
    throw new BuildImageError('IMAGE_UNSUPPORTED_MEDIA_TYPE', `media type ${mediaType} does not match ${compression} compression`);
  }
  const level = options.level;
  const pass = compressAndHash(await openTar(), compression, level === undefined ? {} : { level });
  let info;
  if (options.store) {
    const [stored, computed] = await Promise.all([options.store.putBlob(pass.stream), pass.done]);
    info = computed;
    if (stored.digest !== info.digest) {
      throw new BuildImageError('IMAGE_DIGEST_MISMATCH', `stored layer digest ${stored.digest} differs from computed ${info.digest}`);
    }
    return layerFromBlob(options.store, {
      mediaType,
      digest: info.digest,
      size: info.size,
      diffID: info.diffID,
      uncompressedSize: info.uncompressedSize,
      annotations: options.annotations,
    });
  }
  pass.stream.resume();
  info = await pass.done;
  const { digest, size, diffID, uncompressedSize } = info;
  const what = `layer ${digest}`;
  const openUncompressed = async () => verifyStream(await openTar(), diffID, undefined, `${what} (uncompressed)`);
  const open = async () => {
    const again = compressAndHash(await openTar(), compression, level === undefined ? {} : { level });
    again.done.catch(() => {});
    return verifyStream(again.stream, digest, size, `${what} (recompressed; did its source change?)`);
  };
  return makeLayer({ mediaType, digest, diffID, size, uncompressedSize, annotations: options.annotations, open, openUncompressed });
}

/** A layer made from tar entries (see `writeTar`): `layerFromTar(() => writeTar(entries))`. */
export function layerFromEntries(
  entries: readonly TarEntry[],
  options: LayerFromTarOptions & { tar?: TarWriteOptions } = {},
): Promise<Layer> {
  return layerFromTar(() => writeTar(entries, options.tar), options);
}

/**
 * A layer from an opener of its compressed blob (as pulled from a registry or found in an
 * archive). Digest, size and diffID are computed by reading the blob once unless all three
 * are given.
 */
export async function layerFromCompressed(
  openBlob: Opener,
  options: {
    mediaType: string;
    digest?: Digest;
    size?: number;
    diffID?: Digest;
    annotations?: Readonly<Record<string, string>>;
    urls?: readonly string[];
  },
): Promise<Layer> {
  const { mediaType } = options;
  const compression = layerCompression(mediaType);
  let { digest, size, diffID } = options;
  let uncompressedSize: number | undefined;
  if (digest === undefined || size === undefined || diffID === undefined) {
    const outer = new DigestHasher();
    const inner = new DigestHasher();
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        outer.update(chunk);
        cb(null, chunk);
      },
    });
    const blob = pipeline(await openBlob(), tap, () => {}) as unknown as Readable;
    for await (const chunk of decompress(blob, compression)) inner.update(chunk as Buffer);
    const gotDigest = outer.digest();
    if (digest !== undefined && gotDigest !== digest) {
      throw new BuildImageError('IMAGE_DIGEST_MISMATCH', `layer blob has digest ${gotDigest} but ${digest} was expected`);
    }
    digest = gotDigest;
    size = outer.size;
    diffID = diffID ?? inner.digest();
    uncompressedSize = inner.size;
  }
  const what = `layer ${digest}`;
  const d = digest;
  const s = size;
  const open = async () => verifyStream(await openBlob(), d, s, what);
  return makeLayer({
    mediaType,
    digest,
    diffID,
    size,
    uncompressedSize: uncompressedSize ?? (compression === 'none' ? size : undefined),
    annotations: options.annotations,
    urls: options.urls,
    open,
    openUncompressed: uncompressedFrom(open, mediaType, diffID, what),
  });
}

/**
 * The same layer under another media type of the same compression (e.g. OCI ↔ Docker).
 * Throws `IMAGE_UNSUPPORTED_MEDIA_TYPE` if the compression differs.
 */
export function withLayerMediaType(layer: Layer, mediaType: string): Layer {
  if (layer.mediaType === mediaType) return layer;
  if (layerCompression(mediaType) !== layerCompression(layer.mediaType)) {
    throw new BuildImageError(
      'IMAGE_UNSUPPORTED_MEDIA_TYPE',
      `cannot relabel a ${layer.mediaType} layer as ${mediaType}: the compression differs`,
    );
  }
  return makeLayer({
    mediaType,
    digest: layer.digest,
    diffID: layer.diffID,
    size: layer.size,
    uncompressedSize: layer.uncompressedSize,
    annotations: layer.annotations,
    urls: layer.urls,
    open: () => layer.open(),
    openUncompressed: () => layer.openUncompressed(),
  });
}
