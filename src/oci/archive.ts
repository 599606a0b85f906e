/**
 * OCI archives: a tar of an OCI layout (`oci-archive:` for skopeo, `type=oci` for BuildKit).
 *
 * Written deterministically with the layer tar writer: entries sorted, directories 0755 and
 * files 0644, owner 0:0, mtime 0 (or `mtime`), so the same image gives a byte-identical
 * archive. Blobs are streamed from the layers, never held whole in memory; the archive goes to
 * a temp file beside `file` and is renamed into place.
 *
 * Reading indexes the archive by seeking over its content (only headers are read) and opens
 * blobs as byte ranges of the file, lazily.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { sha256Digest, type Digest } from '../image/digest.js';
import type { Image } from '../image/image.js';
import type { BlobReader } from '../image/layer.js';
import { parseIndex } from '../image/schema.js';
import { readAll } from '../image/stream.js';
import { confinePath } from '../image/paths.js';
import { readTarFile, writeTar, type TarEntry } from '../image/tar.js';
import { writeStreamToTemp } from '../store/atomic.js';
import {
  blobPath,
  imageBlobs,
  imageFromManifest,
  indexBytes,
  indexEntry,
  ociLayoutBytes,
  selectEntry,
  type ReadImageOptions,
  type WriteLayoutOptions,
  type WriteResult,
} from './layout.js';

export interface WriteArchiveOptions extends WriteLayoutOptions {
  /** mtime of every entry (default 0; e.g. SOURCE_DATE_EPOCH). */
  readonly mtime?: number | undefined;
}

function fileEntry(path: string, size: number, data: Uint8Array | (() => Promise<Readable>), mtime: number): TarEntry {
  return data instanceof Uint8Array
    ? { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, data }
    : { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, size, open: data };
}

/** The entries of an OCI archive of `image` (for callers that stream it elsewhere). */
export function ociArchiveEntries(image: Image, options: WriteArchiveOptions = {}): TarEntry[] {
  const mtime = options.mtime ?? 0;
  const entry = indexEntry(image, options);
  const dirs: TarEntry[] = ['blobs', 'blobs/sha256'].map((path) => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime }));
  return [
    ...dirs,
    ...imageBlobs(image).map((b) => fileEntry(blobPath(b.digest), b.size, b.data, mtime)),
    fileEntry('index.json', 0, indexBytes([entry]), mtime),
    fileEntry('oci-layout', 0, ociLayoutBytes(), mtime),
  ];
}

/** Streams an OCI archive of `image`. */
export function ociArchiveStream(image: Image, options: WriteArchiveOptions = {}): Readable {
  return writeTar(ociArchiveEntries(image, options));
}

/** Writes an OCI archive of `image` to `file`, atomically. */
export async function writeOciArchive(file: string, image: Image, options: WriteArchiveOptions = {}): Promise<WriteResult> {
  const descriptor = indexEntry(image, options);
  await mkdir(dirname(file), { recursive: true });
  const tmp = await writeStreamToTemp(file, ociArchiveStream(image, options));
  await tmp.commit();
  return { digest: image.digest(), descriptor };
}

/** Where each file of a tar archive is: content offset and size, by cleaned path. */
export async function indexTarFile(file: string): Promise<Map<string, { offset: number; size: number }>> {
  const index = new Map<string, { offset: number; size: number }>();
  try {
    for await (const e of readTarFile(file)) {
      if (e.type === 'file') index.set(confinePath(e.path), { offset: e.offset, size: e.size });
    }
  } catch (cause) {
    if (cause instanceof BuildImageError) {
      throw new BuildImageError('OCI_INVALID_ARCHIVE', `${file} is not a readable tar archive: ${cause.message}`, { cause });
    }
    throw cause;
  }
  return index;
}

/** Blobs and files of a tar archive on disk, read as byte ranges. */
export function archiveFiles(file: string, index: Map<string, { offset: number; size: number }>) {
  const open = (path: string): Readable => {
    const at = index.get(path);
    if (!at) throw new BuildImageError('OCI_BLOB_NOT_FOUND', `${path} is missing from the archive ${file}`);
    return at.size === 0 ? Readable.from([]) : createReadStream(file, { start: at.offset, end: at.offset + at.size - 1 });
  };
  const blobs: BlobReader = {
    async openBlob(digest: Digest) {
      return open(blobPath(digest));
    },
  };
  const readFile = async (path: string) => readAll(open(path));
  const readBlob = async (digest: Digest) => {
    const bytes = await readFile(blobPath(digest));
    const got = sha256Digest(bytes);
    if (got !== digest) throw new BuildImageError('OCI_DIGEST_MISMATCH', `blob ${digest} in ${file} has digest ${got}: the archive is corrupt`);
    return bytes;
  };
  return { open, blobs, readFile, readBlob };
}

/** Reads an image from an OCI archive (by `tag`, `digest`, or the only one); layers open lazily. */
export async function readOciArchive(file: string, options: ReadImageOptions = {}): Promise<Image> {
  const files = archiveFiles(file, await indexTarFile(file));
  const where = `OCI archive ${file}`;
  let indexJson: Buffer;
  try {
    indexJson = await files.readFile('index.json');
  } catch (cause) {
    throw new BuildImageError('OCI_INVALID_ARCHIVE', `${file} is not an OCI archive: index.json is missing`, { cause });
  }
  const entry = selectEntry(parseIndex(indexJson), options, where);
  return imageFromManifest(await files.readBlob(entry.digest), files.readBlob, files.blobs, options, where);
}
