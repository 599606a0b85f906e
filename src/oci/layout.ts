/**
 * OCI image layouts (image-spec image-layout.md): a directory with `oci-layout`, `index.json`
 * and `blobs/sha256/<hex>`.
 *
 * Writing (like go-containerregistry's layout.Write): each blob is skipped when it is already
 * there with the right size, else streamed to a temp file beside it and renamed; index.json is
 * rewritten atomically under a lock (`index.json.lock`, so two writers cannot lose each other's
 * tags). A tag is the `org.opencontainers.image.ref.name` annotation of the image's entry in
 * index.json: writing a tag again moves it, other tags stay.
 *
 * Reading returns an Image whose layers open lazily from the layout's blobs (verified as they
 * are read); config and manifest keep their original bytes, so copying never changes a digest.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { digestHex, sha256Digest, type Digest } from '../image/digest.js';
import { makeImage, hostPlatform, type Image } from '../image/image.js';
import { canonicalJsonBytes } from '../image/json.js';
import { layerFromBlob, type BlobReader } from '../image/layer.js';
import {
  MediaType,
  isIndexMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  sniffManifestKind,
  type Descriptor,
  type ImageIndex,
  type Platform,
} from '../image/schema.js';
import { closest } from '../suggest.js';
import { writeFileAtomic, writeStreamToTemp } from '../store/atomic.js';
import { withLock } from '../store/lock.js';

/** The annotation that names an image in index.json. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** BuildKit also records the full image name under this annotation. */
export const CONTAINERD_IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const OCI_LAYOUT_VERSION = '1.0.0';

const REF_NAME = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** Checks a tag against the ref.name grammar of image-spec annotations.md; throws `OCI_INVALID_TAG`. */
export function validateRefName(tag: string): string {
  if (!REF_NAME.test(tag)) {
    throw new BuildImageError(
      'OCI_INVALID_TAG',
      `invalid tag "${tag}": an OCI ref name is components of letters and digits joined by "-", ".", "_", ":", "@", "+" or "--", separated by "/"`,
    );
  }
  return tag;
}

export interface WriteLayoutOptions {
  /** Name of the image in index.json (`org.opencontainers.image.ref.name`), e.g. `busybox:latest` or `latest`. */
  readonly tag?: string | undefined;
  /** More annotations for the image's entry in index.json. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface WriteResult {
  /** Manifest digest. */
  readonly digest: Digest;
  /** The manifest descriptor as recorded in index.json. */
  readonly descriptor: Descriptor;
}

/** The blob path of a digest inside a layout (or archive). */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Writes one blob unless it is there with the right size. */
async function writeBlob(dir: string, digest: Digest, size: number, data: Uint8Array | (() => Promise<Readable>)): Promise<void> {
  const path = join(dir, blobPath(digest));
  if ((await sizeOf(path)) === size) return;
  if (data instanceof Uint8Array) {
    await writeFileAtomic(path, data);
    return;
  }
  // The layer's stream verifies its digest; a mismatch fails before the rename.
  const tmp = await writeStreamToTemp(path, await data());
  await tmp.commit();
}

/** The image's blobs: layers (deduplicated), config, manifest. */
export function imageBlobs(image: Image): { digest: Digest; size: number; data: Uint8Array | (() => Promise<Readable>) }[] {
  const seen = new Set<string>();
  const out: { digest: Digest; size: number; data: Uint8Array | (() => Promise<Readable>) }[] = [];
  for (const layer of image.layers) {
    if (seen.has(layer.digest)) continue;
    seen.add(layer.digest);
    out.push({ digest: layer.digest, size: layer.size, data: () => layer.open() });
  }
  if (!seen.has(image.configDigest())) {
    seen.add(image.configDigest());
    out.push({ digest: image.configDigest(), size: image.configBytes().length, data: image.configBytes() });
  }
  out.push({ digest: image.digest(), size: image.manifestBytes().length, data: image.manifestBytes() });
  return out;
}

/** The index.json entry of an image written with `options`. */
export function indexEntry(image: Image, options: WriteLayoutOptions): Descriptor {
  const annotations: Record<string, string> = { ...(options.annotations ?? {}) };
  if (options.tag !== undefined) annotations[REF_NAME_ANNOTATION] = validateRefName(options.tag);
  return image.descriptor({ platform: true, annotations });
}

/** The new index.json manifests list after adding `entry` (a tag moves; other tags stay). */
export function addToIndex(manifests: readonly Descriptor[], entry: Descriptor): Descriptor[] {
  const tag = entry.annotations?.[REF_NAME_ANNOTATION];
  const kept = manifests.filter((m) => {
    const t = m.annotations?.[REF_NAME_ANNOTATION];
    if (tag !== undefined) return t !== tag;
    return !(t === undefined && m.digest === entry.digest);
  });
  return [...kept, entry];
}

/** The bytes of an index.json holding `manifests`. */
export function indexBytes(manifests: readonly Descriptor[], annotations?: Readonly<Record<string, string>>): Buffer {
  return canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests,
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  });
}

/** The bytes of the `oci-layout` file. */
export function ociLayoutBytes(): Buffer {
  return canonicalJsonBytes({ imageLayoutVersion: OCI_LAYOUT_VERSION });
}

async function readJson(path: string, code: string, what: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BuildImageError(code, `cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes `image` into the OCI layout at `dir` (created if needed) and records it in
 * index.json, tagged with `options.tag` when given.
 */
export async function writeOciLayout(dir: string, image: Image, options: WriteLayoutOptions = {}): Promise<WriteResult> {
  const entry = indexEntry(image, options);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  if ((await sizeOf(join(dir, 'oci-layout'))) === undefined) await writeFileAtomic(join(dir, 'oci-layout'), ociLayoutBytes());
  for (const blob of imageBlobs(image)) await writeBlob(dir, blob.digest, blob.size, blob.data);
  await withLock(join(dir, 'index.json.lock'), async () => {
    const existing = await readIndex(dir, { optional: true });
    const manifests = addToIndex(existing?.manifests ?? [], entry);
    await writeFileAtomic(join(dir, 'index.json'), indexBytes(manifests, existing?.annotations));
  });
  return { digest: image.digest(), descriptor: entry };
}

/** Reads and validates index.json of a layout. Throws `OCI_INVALID_LAYOUT` when it is not one. */
export async function readIndex(dir: string, options: { optional?: boolean } = {}): Promise<ImageIndex | undefined> {
  const bytes = await readJson(join(dir, 'index.json'), 'OCI_INVALID_LAYOUT', 'index');
  if (!bytes) {
    if (options.optional) return undefined;
    throw new BuildImageError('OCI_INVALID_LAYOUT', `${dir} is not an OCI image layout: index.json is missing`);
  }
  try {
    return parseIndex(bytes);
  } catch (cause) {
    throw new BuildImageError('OCI_INVALID_LAYOUT', `${dir}/index.json: ${(cause as Error).message}`, { cause });
  }
}

/** Blobs of the layout at `dir`, by digest. */
export function layoutBlobs(dir: string): BlobReader & { readBlob(digest: Digest): Promise<Buffer> } {
  const missing = (digest: Digest) =>
    new BuildImageError('OCI_BLOB_NOT_FOUND', `blob ${digest} is missing from the OCI layout ${dir}`);
  return {
    async openBlob(digest: Digest): Promise<Readable> {
      const path = join(dir, blobPath(digest));
      if ((await sizeOf(path)) === undefined) throw missing(digest);
      return createReadStream(path);
    },
    async readBlob(digest: Digest): Promise<Buffer> {
      const bytes = await readFile(join(dir, blobPath(digest))).catch(() => undefined);
      if (!bytes) throw missing(digest);
      const got = sha256Digest(bytes);
      if (got !== digest) {
        throw new BuildImageError('OCI_DIGEST_MISMATCH', `blob ${digest} in ${dir} has digest ${got}: the layout is corrupt`);
      }
      return bytes;
    },
  };
}

export interface ReadImageOptions {
  /** Pick the index.json entry with this ref name. */
  readonly tag?: string | undefined;
  /** Pick the manifest (or index) with this digest. */
  readonly digest?: Digest | undefined;
  /** For a multi-platform index: the platform wanted (default: linux and the host architecture). */
  readonly platform?: Partial<Platform> | undefined;
  /** For a multi-platform index: choose among its manifests (overrides `platform`). */
  readonly selectManifest?: ((manifests: readonly Descriptor[]) => Descriptor | undefined) | undefined;
}

/** The tag of a ref name like `name:tag` (undefined when it has none). */
function refTag(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const colon = name.lastIndexOf(':');
  return colon !== -1 && !name.slice(colon + 1).includes('/') ? name.slice(colon + 1) : undefined;
}

function refNames(manifests: readonly Descriptor[]): string[] {
  return manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).filter((t): t is string => t !== undefined);
}

/** Chooses the index.json entry an `ReadImageOptions` asks for. */
export function selectEntry(index: ImageIndex, options: ReadImageOptions, where: string): Descriptor {
  const { manifests } = index;
  if (options.digest !== undefined) {
    const found = manifests.find((m) => m.digest === options.digest);
    if (found) return found;
    // A digest not listed in index.json (a child of an index) is still readable.
    return { mediaType: '', digest: options.digest, size: -1 } as Descriptor;
  }
  if (options.tag !== undefined) {
    const found = manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === options.tag);
    if (found.length > 0) return found[found.length - 1]!;
    // A ref name that is a whole reference (`busybox:latest`) also answers to its tag part,
    // since `oci-layout://PATH:TAG` cannot carry a colon in TAG.
    const byTag = manifests.filter((m) => refTag(m.annotations?.[REF_NAME_ANNOTATION]) === options.tag);
    if (byTag.length > 0 && new Set(byTag.map((m) => m.digest)).size === 1) return byTag[byTag.length - 1]!;
    const names = refNames(manifests);
    const near = closest(options.tag, names, true);
    throw new BuildImageError(
      'OCI_TAG_NOT_FOUND',
      `tag "${options.tag}" not found in ${where}` + (names.length ? ` (it has ${names.map((n) => `"${n}"`).join(', ')})` : ' (it has no tags)'),
      { suggestion: near ? `did you mean "${near}"?` : undefined },
    );
  }
  if (manifests.length === 1) return manifests[0]!;
  if (manifests.length === 0) throw new BuildImageError('OCI_EMPTY_LAYOUT', `${where} holds no image`);
  throw new BuildImageError('OCI_AMBIGUOUS_IMAGE', `${where} holds ${manifests.length} images: say which with a tag or digest`, {
    suggestion: refNames(manifests).length ? `tags: ${refNames(manifests).join(', ')}` : undefined,
  });
}

function platformMatches(p: Platform | undefined, want: Partial<Platform>): boolean {
  if (!p) return false;
  if (want.os !== undefined && p.os !== want.os) return false;
  if (want.architecture !== undefined && p.architecture !== want.architecture) return false;
  if (want.variant !== undefined && p.variant !== undefined && p.variant !== want.variant) return false;
  return true;
}

/**
 * Builds an Image from manifest-or-index bytes, reading referenced blobs through `readBlob`
 * and layers through `blobs`. Shared by layouts and archives.
 */
export async function imageFromManifest(
  manifestBytes: Buffer,
  readBlob: (digest: Digest) => Promise<Buffer>,
  blobs: BlobReader,
  options: ReadImageOptions,
  where: string,
): Promise<Image> {
  let bytes = manifestBytes;
  for (let depth = 0; sniffManifestKind(bytes) === 'index'; depth++) {
    if (depth > 4) throw new BuildImageError('OCI_INVALID_IMAGE', `${where}: image indexes nested too deeply`);
    const index = parseIndex(bytes);
    const host = hostPlatform();
    const want = options.platform ?? { os: 'linux', architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) };
    const candidates = index.manifests.filter((m) => platformMatches(m.platform, want));
    const chosen = options.selectManifest
      ? options.selectManifest(index.manifests)
      : (candidates.find((m) => (m.platform?.variant ?? '') === (want.variant ?? '')) ?? candidates[0]);
    if (!chosen) {
      const have = index.manifests.map((m) => (m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/') : '(no platform)'));
      throw new BuildImageError(
        'OCI_PLATFORM_NOT_FOUND',
        `${where}: no image for platform ${[want.os, want.architecture, want.variant].filter(Boolean).join('/')} (it has ${have.join(', ')})`,
      );
    }
    bytes = await readBlob(chosen.digest);
  }
  const manifest = parseManifest(bytes);
  const configBytes = await readBlob(manifest.config.digest);
  const config = parseImageConfig(configBytes);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new BuildImageError(
      'OCI_INVALID_IMAGE',
      `${where}: the manifest lists ${manifest.layers.length} layers but the config ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  const layers = manifest.layers.map((l, i) =>
    layerFromBlob(blobs, { mediaType: l.mediaType, digest: l.digest, size: l.size, diffID: config.rootfs.diff_ids[i]!, annotations: l.annotations, urls: l.urls }),
  );
  const isDocker = (manifest.mediaType ?? '') === MediaType.dockerManifest || manifest.config.mediaType === MediaType.dockerConfig;
  return makeImage({
    config,
    layers,
    format: isDocker ? 'docker' : 'oci',
    annotations: manifest.annotations,
    rawConfig: configBytes,
    configMediaType: manifest.config.mediaType,
    rawManifest: bytes,
  });
}

/**
 * Reads an image from the OCI layout at `dir`: by `tag`, by `digest`, or the only image.
 * Layers are not read until opened.
 */
export async function readOciLayout(dir: string, options: ReadImageOptions = {}): Promise<Image> {
  const layoutFile = await readJson(join(dir, 'oci-layout'), 'OCI_INVALID_LAYOUT', 'oci-layout');
  if (!layoutFile) throw new BuildImageError('OCI_INVALID_LAYOUT', `${dir} is not an OCI image layout: oci-layout is missing`);
  let version: unknown;
  try {
    version = (JSON.parse(layoutFile.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    version = undefined;
  }
  if (typeof version !== 'string') throw new BuildImageError('OCI_INVALID_LAYOUT', `${dir}/oci-layout has no imageLayoutVersion`);
  const index = (await readIndex(dir))!;
  const entry = selectEntry(index, options, `OCI layout ${dir}`);
  const blobs = layoutBlobs(dir);
  const bytes = await blobs.readBlob(entry.digest);
  if (isIndexMediaType(entry.mediaType) && sniffManifestKind(bytes) !== 'index') {
    throw new BuildImageError('OCI_INVALID_IMAGE', `${dir}: ${entry.digest} is listed as an index but is not one`);
  }
  return imageFromManifest(bytes, (d) => blobs.readBlob(d), blobs, options, `OCI layout ${dir}`);
}
