/**
 * Pushing images: every blob the registry lacks (asked with HEAD first) is mounted from
 * another repository of the same registry when we know one that has it, or uploaded —
 * monolithically (POST, then PUT with the bytes) or in chunks (POST, PATCH…, PUT) — then the
 * manifest is PUT, and for a multi-platform image the index after its manifests.
 *
 * A failed upload restarts from a new upload session (a registry may have dropped the old
 * one); the layer is re-opened from its source each time.
 */
import { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { sha256Digest, type Digest } from '../image/digest.js';
import type { Image } from '../image/image.js';
import { canonicalJsonBytes } from '../image/json.js';
import { MediaType, type Descriptor, type ImageIndex } from '../image/schema.js';
import type { Store } from '../store/store.js';
import { fetchBlob, knownSources, recordBlobSources } from './blobs.js';
import { repositoryScope } from './challenge.js';
import { responseError, type RegistryClient } from './client.js';
import { backoffDelay, DEFAULT_RETRY, isRetryableNetworkError, isRetryableStatus } from './http.js';
import { formatReference, parseImageReference, withDigest, type ImageReference } from './reference.js';
import type { RegistrySession } from './session.js';

export interface PushOptions {
  readonly session: RegistrySession;
  /** A store to remember and look up where blobs were seen (for mounts across builds). */
  readonly store?: Store | undefined;
  /** Upload in chunks of this many bytes (PATCH); default monolithic. */
  readonly chunkSize?: number | undefined;
  /** Repositories of the same registry to try mounting blobs from (besides known sources). */
  readonly mountFrom?: readonly string[] | undefined;
}

export interface PushResult {
  /** The reference pushed to. */
  readonly reference: ImageReference;
  /** The manifest (or index) digest the registry stores. */
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  /** `registry/repository@digest`. */
  readonly pinned: string;
}

/** A blob to push: descriptor plus a way to read it (again). */
export interface PushBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly kind: string;
  open(): Promise<Readable>;
}

const UPLOAD_ATTEMPTS = 4;
const OCTET = 'application/octet-stream';

function uploadUrl(client: RegistryClient, location: string | undefined, what: string): URL {
  if (!location) {
    throw new BuildImageError('REGISTRY_HTTP_ERROR', `registry ${client.registry} started an upload for ${what} without a Location header`);
  }
  return new URL(location, client.baseUrl);
}

async function blobExists(client: RegistryClient, repository: string, blob: PushBlob): Promise<boolean> {
  const what = `${blob.kind} ${blob.digest}`;
  const res = await client.request({
    method: 'HEAD',
    path: `/v2/${repository}/blobs/${blob.digest}`,
    scopes: [repositoryScope(repository, ['pull', 'push'])],
    what,
  });
  res.discard();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await responseError(client.registry, res, 'HEAD', what);
}

/** Tries a cross-repository mount; returns the upload URL to use when it did not happen. */
async function tryMount(client: RegistryClient, repository: string, blob: PushBlob, from: string): Promise<{ mounted: true } | { mounted: false; location: URL }> {
  const what = `${blob.kind} ${blob.digest} (mount from ${from})`;
  const q = new URLSearchParams({ mount: blob.digest, from });
  const res = await client.request({
    method: 'POST',
    path: `/v2/${repository}/blobs/uploads/?${q.toString()}`,
    scopes: [repositoryScope(repository, ['pull', 'push']), repositoryScope(from, ['pull'])],
    what,
  });
  res.discard();
  if (res.status === 201) return { mounted: true };
  if (res.status === 202) return { mounted: false, location: uploadUrl(client, res.header('location'), what) };
  throw await responseError(client.registry, res, 'POST', what);
}

async function startUpload(client: RegistryClient, repository: string, blob: PushBlob): Promise<{ location: URL; minChunk: number }> {
  const what = `${blob.kind} ${blob.digest}`;
  const res = await client.request({
    method: 'POST',
    path: `/v2/${repository}/blobs/uploads/`,
    scopes: [repositoryScope(repository, ['pull', 'push'])],
    what,
  });
  res.discard();
  if (res.status !== 202) throw await responseError(client.registry, res, 'POST', what);
  return { location: uploadUrl(client, res.header('location'), what), minChunk: Number(res.header('oci-chunk-min-length') ?? '0') || 0 };
}

function withDigestParam(url: URL, digest: Digest): string {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u.href;
}

async function uploadMonolithic(client: RegistryClient, repository: string, blob: PushBlob, location: URL): Promise<void> {
  const what = `${blob.kind} ${blob.digest}`;
  const res = await client.request({
    method: 'PUT',
    path: withDigestParam(location, blob.digest),
    headers: { 'Content-Type': OCTET },
    body: () => blob.open(),
    contentLength: blob.size,
    scopes: [repositoryScope(repository, ['pull', 'push'])],
    what,
    retry: false,
  });
  if (res.status !== 201 && res.status !== 204) throw await responseError(client.registry, res, 'PUT', what);
  res.discard();
}

/** Reads a stream in pieces of `size` bytes (the last may be shorter). */
async function* chunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    let rest = c;
    while (have + rest.length >= size) {
      const take = size - have;
      parts.push(rest.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      have = 0;
      rest = rest.subarray(take);
    }
    if (rest.length > 0) {
      parts.push(rest);
      have += rest.length;
    }
  }
  if (have > 0) yield Buffer.concat(parts);
}

async function uploadChunked(client: RegistryClient, repository: string, blob: PushBlob, start: URL, chunkSize: number): Promise<void> {
  const what = `${blob.kind} ${blob.digest}`;
  const scopes = [repositoryScope(repository, ['pull', 'push'])];
  let location = start;
  let offset = 0;
  for await (const chunk of chunks(await blob.open(), chunkSize)) {
    const res = await client.request({
      method: 'PATCH',
      path: location.href,
      headers: { 'Content-Type': OCTET, 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
      scopes,
      what,
      retry: false,
    });
    res.discard();
    if (res.status !== 202) throw await responseError(client.registry, res, 'PATCH', what);
    location = uploadUrl(client, res.header('location'), what);
    offset += chunk.length;
  }
  const res = await client.request({ method: 'PUT', path: withDigestParam(location, blob.digest), scopes, what, retry: false });
  if (res.status !== 201 && res.status !== 204) throw await responseError(client.registry, res, 'PUT', what);
  res.discard();
}

function isTransient(err: unknown): boolean {
  if (err instanceof BuildImageError) {
    if (err.code === 'REGISTRY_UNREACHABLE') return true;
    if (err.code === 'REGISTRY_HTTP_ERROR') {
      const m = / answered (\d{3}) /.exec(err.message);
      return m !== null && isRetryableStatus(Number(m[1]));
    }
    return false;
  }
  return isRetryableNetworkError(err);
}

/**
 * A base layer that was resolved but never downloaded (no step needed its files) is fetched
 * into the store from a repository known to have it, before it is uploaded elsewhere.
 */
async function fetchIfMissing(session: RegistrySession, store: Store | undefined, blob: PushBlob): Promise<void> {
  if (store === undefined || (await store.hasBlob(blob.digest, blob.size))) return;
  const source = (await knownSources(session, store, blob.digest))[0];
  if (source === undefined) return;
  const slash = source.indexOf('/');
  await fetchBlob(session, store, {
    registry: source.slice(0, slash),
    repository: source.slice(slash + 1),
    digest: blob.digest,
    size: blob.size,
    kind: blob.kind,
  });
}

/** Makes sure the repository has the blob: HEAD, then mount or upload. */
export async function pushBlob(session: RegistrySession, reference: ImageReference, blob: PushBlob, options: PushOptions): Promise<void> {
  const client = session.client(reference.registry);
  const repo = reference.repository;
  if (await blobExists(client, repo, blob)) {
    session.emit({ type: 'blob-exists', digest: blob.digest, repository: repo });
    session.noteBlobSource(reference.registry, repo, blob.digest);
    return;
  }
  const prefix = `${reference.registry}/`;
  const candidates = [
    ...(await knownSources(session, options.store, blob.digest)).filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length)),
    ...(options.mountFrom ?? []),
  ].filter((r, i, all) => r !== repo && all.indexOf(r) === i);
  let location: URL | undefined;
  for (const from of candidates) {
    const m = await tryMount(client, repo, blob, from);
    if (m.mounted) {
      session.emit({ type: 'blob-mounted', digest: blob.digest, from: `${reference.registry}/${from}` });
      session.noteBlobSource(reference.registry, repo, blob.digest);
      return;
    }
    location = m.location;
    break; // the 202 opened an upload session: use it
  }
  await fetchIfMissing(session, options.store, blob);
  const retry = { ...DEFAULT_RETRY, ...session.options.http?.retry };
  const sleep = session.options.http?.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const chunked = options.chunkSize !== undefined && options.chunkSize > 0;
  session.emit({ type: 'blob-upload', digest: blob.digest, size: blob.size, chunked });
  await session.limit(async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        let minChunk = 0;
        if (location === undefined) ({ location, minChunk } = await startUpload(client, repo, blob));
        if (chunked) await uploadChunked(client, repo, blob, location, Math.max(options.chunkSize!, minChunk));
        else await uploadMonolithic(client, repo, blob, location);
        return;
      } catch (err) {
        location = undefined;
        if (attempt + 1 >= UPLOAD_ATTEMPTS || !isTransient(err)) throw err;
        await sleep(backoffDelay(retry, attempt));
      }
    }
  });
  session.noteBlobSource(reference.registry, repo, blob.digest);
  session.emit({ type: 'blob-uploaded', digest: blob.digest });
}

/** PUTs a manifest or index under a tag or digest; checks the digest the registry reports. */
export async function putManifest(
  session: RegistrySession,
  reference: ImageReference,
  tagOrDigest: string,
  bytes: Buffer,
  mediaType: string,
): Promise<Digest> {
  const client = session.client(reference.registry);
  const digest = sha256Digest(bytes);
  const what = `manifest ${reference.registry}/${reference.repository}:${tagOrDigest}`.replace(/:sha256:/, '@sha256:');
  const res = await client.request({
    method: 'PUT',
    path: `/v2/${reference.repository}/manifests/${tagOrDigest}`,
    headers: { 'Content-Type': mediaType },
    body: bytes,
    scopes: [repositoryScope(reference.repository, ['pull', 'push'])],
    what,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 204) throw await responseError(reference.registry, res, 'PUT', what);
  res.discard();
  const reported = res.header('docker-content-digest');
  if (reported !== undefined && reported !== digest) {
    throw new BuildImageError('REGISTRY_DIGEST_MISMATCH', `${what}: the registry stored digest ${reported}, but the manifest sent has digest ${digest}`);
  }
  session.emit({ type: 'manifest-pushed', reference: `${reference.registry}/${reference.repository}:${tagOrDigest}`, digest });
  return digest;
}

/** The blobs of an image: config first, then layers. */
export function imageBlobs(image: Image): PushBlob[] {
  const config = image.configBytes();
  return [
    { digest: image.configDigest(), size: config.length, kind: 'config', open: async () => Readable.from([config]) },
    ...image.layers.map((l) => ({ digest: l.digest, size: l.size, kind: 'layer', open: () => l.open() })),
  ];
}

async function pushImageContent(image: Image, ref: ImageReference, options: PushOptions): Promise<void> {
  const { session } = options;
  const blobs = imageBlobs(image).filter((b, i, all) => all.findIndex((o) => o.digest === b.digest) === i);
  // In parallel; uploads (and downloads) take turns within the session's limit.
  const results = await Promise.allSettled(blobs.map((b) => pushBlob(session, ref, b, options)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  if (options.store) await recordBlobSources(session, options.store, blobs.map((b) => b.digest));
}

function destination(reference: string | ImageReference): ImageReference {
  const ref = typeof reference === 'string' ? parseImageReference(reference) : reference;
  return ref;
}

function tagOf(ref: ImageReference, digest: Digest): string {
  if (ref.digest !== undefined && ref.digest !== digest) {
    throw new BuildImageError('REGISTRY_DIGEST_MISMATCH', `cannot push an image with digest ${digest} to ${formatReference(ref)}: the reference pins another digest`);
  }
  return ref.tag ?? digest;
}

/** Pushes one image (blobs, then manifest) to `reference` (`registry/repo:tag`). */
export async function pushImage(image: Image, reference: string | ImageReference, options: PushOptions): Promise<PushResult> {
  const ref = destination(reference);
  await pushImageContent(image, ref, options);
  const bytes = image.manifestBytes();
  const digest = await putManifest(options.session, ref, tagOf(ref, image.digest()), bytes, image.mediaType);
  return { reference: ref, digest, mediaType: image.mediaType, size: bytes.length, pinned: formatReference(withDigest({ ...ref, tag: undefined }, digest)) };
}

/**
 * Pushes a multi-platform image: each image by digest, then an index (OCI, or a Docker
 * manifest list when every image is in Docker format) listing them with their platforms.
 */
export async function pushIndex(
  images: readonly Image[],
  reference: string | ImageReference,
  options: PushOptions & { annotations?: Readonly<Record<string, string>> },
): Promise<PushResult> {
  const ref = destination(reference);
  const manifests: Descriptor[] = [];
  for (const image of images) {
    await pushImageContent(image, ref, options);
    await putManifest(options.session, ref, image.digest(), image.manifestBytes(), image.mediaType);
    manifests.push(image.descriptor({ platform: true }));
  }
  const docker = images.length > 0 && images.every((i) => i.format === 'docker');
  const mediaType = docker ? MediaType.dockerManifestList : MediaType.ociIndex;
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType,
    manifests,
    ...(options.annotations && Object.keys(options.annotations).length > 0 ? { annotations: { ...options.annotations } } : {}),
  } as ImageIndex;
  const bytes = canonicalJsonBytes(index);
  const digest = await putManifest(options.session, ref, tagOf(ref, sha256Digest(bytes)), bytes, mediaType);
  return { reference: ref, digest, mediaType, size: bytes.length, pinned: formatReference(withDigest({ ...ref, tag: undefined }, digest)) };
}

/** What `--metadata-file` gets for a pushed image, with BuildKit's keys. */
export function pushMetadata(result: PushResult): Record<string, unknown> {
  return {
    'containerimage.digest': result.digest,
    'containerimage.descriptor': { mediaType: result.mediaType, digest: result.digest, size: result.size },
    'image.name': formatReference(result.reference),
  };
}
