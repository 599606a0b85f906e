/**
 * Pulling images: resolve a reference to a manifest (through an index or manifest list when
 * the tag points at one, picking the build platform as BuildKit does), fetch the manifest and
 * config into the store, then the layers — in parallel, each once, verified as it streams.
 *
 * Resolution is the part cache keys need: `resolveImage` gets the manifest and config only
 * (small), so the planner knows the base image's digest and config before any layer moves;
 * `pullImage` also fetches the layers.
 *
 * Tags and `--pull`: a session resolves each reference once (a build sees one digest per tag).
 * Across builds, a tag resolved before is reused from the store without asking the registry
 * (like `docker build` reusing a local image), unless `pull` is set (`--pull`), which always
 * asks the registry. Digest references never need the registry once their manifest is stored.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../errors.js';
import { isDigest, sha256Digest, type Digest } from '../image/digest.js';
import { makeImage, type Image } from '../image/image.js';
import { canonicalJsonBytes } from '../image/json.js';
import { layerFromBlob } from '../image/layer.js';
import {
  MediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  sniffManifestKind,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from '../image/schema.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Store } from '../store/store.js';
import { fetchBlob, recordBlobSources } from './blobs.js';
import { repositoryScope } from './challenge.js';
import { responseError } from './client.js';
import { formatPlatform, hostPlatform, normalizePlatform, platformMatches, selectPlatformManifest, type Platform } from './platform.js';
import { formatReference, manifestReference, parseImageReference, referenceName, withDigest, type ImageReference } from './reference.js';
import type { RegistrySession } from './session.js';

/** What `Accept` lists when fetching manifests: indexes and manifests, OCI and Docker. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
].join(', ');

/** Manifests larger than this are refused (the distribution spec suggests 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ResolveOptions {
  readonly session: RegistrySession;
  readonly store: Store;
  /** The platform to pick from an index; default the host's (linux/<arch>). */
  readonly platform?: Platform | undefined;
  /** `--pull`: ask the registry for tags even when an earlier build resolved them. */
  readonly pull?: boolean | undefined;
}

/** A base image whose manifest and config are in the store (layers maybe not yet). */
export interface ResolvedImage {
  /** The reference as given (parsed). */
  readonly reference: ImageReference;
  /** `registry/repository@digest` of the platform manifest. */
  readonly pinned: string;
  /** The digest of the platform image's manifest: part of cache keys. */
  readonly digest: Digest;
  /** The index (or manifest list) the tag pointed at, if any. */
  readonly indexDigest: Digest | undefined;
  readonly manifest: ImageManifest;
  readonly mediaType: string;
  readonly config: ImageConfig;
  readonly configDigest: Digest;
  /** The image's platform from its config. */
  readonly platform: Platform;
  /** The platform that was asked for. */
  readonly requestedPlatform: Platform;
  /** True when an earlier build's resolution of this tag was reused (no registry request). */
  readonly fromCache: boolean;
  /** The image; its layers read from the store (fetch them first with `fetchLayers`). */
  readonly image: Image;
}

interface TagRecord {
  readonly reference: string;
  readonly platform: string;
  readonly digest: Digest;
  readonly indexDigest?: Digest | undefined;
}

async function tagRecordPath(store: Store, ref: ImageReference, platform: Platform): Promise<string> {
  const key = sha256Digest(`${formatReference(ref)}\n${formatPlatform(normalizePlatform(platform))}`).slice('sha256:'.length);
  return join(await store.stateDir('registry-tags'), `${key}.json`);
}

async function readTagRecord(store: Store, ref: ImageReference, platform: Platform): Promise<TagRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(await tagRecordPath(store, ref, platform), 'utf8')) as TagRecord;
    return typeof rec.digest === 'string' && rec.reference === formatReference(ref) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Fetches a manifest (by tag or digest) and stores it. Returns its digest, bytes and media type. */
async function fetchManifest(
  options: ResolveOptions,
  ref: ImageReference,
  reference: string,
  expected?: { digest: Digest; size?: number },
): Promise<{ digest: Digest; bytes: Buffer; mediaType: string | undefined }> {
  const client = options.session.client(ref.registry);
  const what = `manifest ${referenceName(ref)}:${reference}`.replace(/:sha256:/, '@sha256:');
  const res = await client.request({
    method: 'GET',
    path: `/v2/${ref.repository}/manifests/${reference}`,
    headers: { Accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(ref.repository, ['pull'])],
    what,
  });
  if (res.status !== 200) throw await responseError(ref.registry, res, 'GET', what);
  const declared = Number(res.header('content-length') ?? '0');
  if (declared > MAX_MANIFEST_BYTES) {
    res.discard();
    throw new BuildImageError('REGISTRY_MANIFEST_TOO_BIG', `${what} is ${declared} bytes; manifests over ${MAX_MANIFEST_BYTES} bytes are refused`);
  }
  const bytes = await res.bytes();
  const digest = sha256Digest(bytes);
  if (expected !== undefined && (digest !== expected.digest || (expected.size !== undefined && bytes.length !== expected.size))) {
    throw new BuildImageError(
      'REGISTRY_DIGEST_MISMATCH',
      `${what}: the registry sent a manifest with digest ${digest} (${bytes.length} bytes), expected ${expected.digest}` +
        (expected.size !== undefined ? ` (${expected.size} bytes)` : '') +
        '; nothing was stored',
    );
  }
  await options.store.putBlob(bytes, { digest, size: bytes.length });
  options.session.noteBlobSource(ref.registry, ref.repository, digest);
  const contentType = res.header('content-type')?.split(';')[0]?.trim();
  return { digest, bytes, mediaType: contentType };
}

/**
 * Resolves a tag as containerd does: HEAD first (the registry names the digest, and Docker
 * Hub does not count HEADs against pull limits), then the manifest from the store when we
 * have it, else GET by digest (verified). A registry that does not answer HEAD properly gets
 * a GET by tag.
 */
async function fetchTag(options: ResolveOptions, ref: ImageReference): Promise<{ digest: Digest; bytes: Buffer; mediaType: string | undefined }> {
  const client = options.session.client(ref.registry);
  const tag = manifestReference(ref);
  const head = await client.request({
    method: 'HEAD',
    path: `/v2/${ref.repository}/manifests/${tag}`,
    headers: { Accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(ref.repository, ['pull'])],
    what: `manifest ${referenceName(ref)}:${tag}`,
  });
  head.discard();
  const named = head.header('docker-content-digest');
  const mediaType = head.header('content-type')?.split(';')[0]?.trim();
  if (head.status === 200 && named !== undefined && isDigest(named)) {
    const size = Number(head.header('content-length') ?? Number.NaN);
    const known = Number.isFinite(size) ? { digest: named, size } : { digest: named };
    if (await options.store.hasBlob(named, known.size)) return { digest: named, bytes: await options.store.readBlob(named), mediaType };
    return fetchManifest(options, ref, named, known);
  }
  return fetchManifest(options, ref, tag);
}

/** A manifest by digest: from the store when there, else from the registry. */
async function manifestByDigest(options: ResolveOptions, ref: ImageReference, desc: { digest: Digest; size?: number }): Promise<Buffer> {
  if (await options.store.hasBlob(desc.digest, desc.size)) return options.store.readBlob(desc.digest);
  return (await fetchManifest(options, ref, desc.digest, desc)).bytes;
}

function kindOf(bytes: Buffer, contentType: string | undefined): 'index' | 'manifest' {
  const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; schemaVersion?: unknown };
  if (doc.schemaVersion === 1 || contentType?.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw new BuildImageError(
      'REGISTRY_UNSUPPORTED_MANIFEST',
      'the registry sent a Docker schema 1 manifest, which build-image does not support (push the image again with a current Docker or BuildKit)',
    );
  }
  return sniffManifestKind(bytes);
}

/** The platforms an index offers, for "no match" errors (attestation manifests left out). */
export function indexPlatforms(index: ImageIndex): string[] {
  return index.manifests
    .filter((d) => d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest')
    .map((d) => (d.platform ? formatPlatform(d.platform) : '(no platform)'));
}

async function resolveUncached(ref: ImageReference, options: ResolveOptions, platform: Platform): Promise<ResolvedImage> {
  const { store } = options;
  const fromCache = false;
  let top: { digest: Digest; bytes: Buffer; mediaType: string | undefined };
  if (ref.digest !== undefined) {
    top = { digest: ref.digest, bytes: await manifestByDigest(options, ref, { digest: ref.digest }), mediaType: undefined };
  } else {
    const record = options.pull ? undefined : await readTagRecord(store, ref, platform);
    if (record !== undefined && (await store.hasBlob(record.digest))) {
      const bytes = await store.readBlob(record.digest);
      return finish(ref, options, platform, record.digest, bytes, record.indexDigest, true);
    }
    top = await fetchTag(options, ref);
  }
  const kind = kindOf(top.bytes, top.mediaType);
  let resolved: ResolvedImage;
  if (kind === 'index') {
    const index = parseIndex(top.bytes);
    const chosen = selectPlatformManifest(index.manifests, platform);
    if (chosen === undefined) {
      const available = indexPlatforms(index);
      throw new BuildImageError(
        'REGISTRY_NO_MATCHING_PLATFORM',
        `no match for platform ${formatPlatform(platform)} in the manifest list of ${formatReference(ref)} (${top.digest}); available platforms: ${available.join(', ') || 'none'}`,
        { suggestion: available.length > 0 ? `build for one of them with --platform ${available[0]}` : undefined },
      );
    }
    const bytes = await manifestByDigest(options, ref, { digest: chosen.digest, size: chosen.size });
    if (kindOf(bytes, chosen.mediaType) !== 'manifest') {
      throw new BuildImageError('REGISTRY_UNSUPPORTED_MANIFEST', `${formatReference(ref)}: nested indexes are not supported (entry ${chosen.digest})`);
    }
    resolved = await finish(ref, options, platform, chosen.digest, bytes, top.digest, fromCache);
  } else {
    resolved = await finish(ref, options, platform, top.digest, top.bytes, undefined, fromCache);
  }
  if (ref.digest === undefined) {
    const rec: TagRecord = {
      reference: formatReference(ref),
      platform: formatPlatform(normalizePlatform(platform)),
      digest: resolved.digest,
      indexDigest: resolved.indexDigest,
    };
    await writeFileAtomic(await tagRecordPath(store, ref, platform), canonicalJsonBytes(rec));
  }
  return resolved;
}

async function finish(
  ref: ImageReference,
  options: ResolveOptions,
  requested: Platform,
  digest: Digest,
  bytes: Buffer,
  indexDigest: Digest | undefined,
  fromCache: boolean,
): Promise<ResolvedImage> {
  const manifest = parseManifest(bytes);
  const configDesc = manifest.config;
  await fetchBlob(options.session, options.store, {
    registry: ref.registry,
    repository: ref.repository,
    digest: configDesc.digest,
    size: configDesc.size,
    kind: 'config',
  });
  const rawConfig = await options.store.readBlob(configDesc.digest);
  const config = parseImageConfig(rawConfig);
  const diffIDs = config.rootfs.diff_ids;
  if (diffIDs.length !== manifest.layers.length) {
    throw new BuildImageError(
      'REGISTRY_INVALID_IMAGE',
      `${formatReference(ref)} (${digest}): the manifest lists ${manifest.layers.length} layers but the config ${diffIDs.length} diff_ids`,
    );
  }
  // The registry has these blobs in this repository: a push to the same registry can mount
  // them, and one elsewhere can fetch them, even when the build never needed the layers.
  for (const d of manifest.layers) options.session.noteBlobSource(ref.registry, ref.repository, d.digest);
  options.session.noteBlobSource(ref.registry, ref.repository, configDesc.digest);
  if (!fromCache) await recordBlobSources(options.session, options.store, manifest.layers.map((d) => d.digest));
  const layers = manifest.layers.map((d: Descriptor, i: number) =>
    layerFromBlob(options.store, {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      diffID: diffIDs[i]!,
      annotations: d.annotations,
      urls: d.urls,
    }),
  );
  const mediaType = manifest.mediaType ?? MediaType.ociManifest;
  const image = makeImage({
    config,
    layers,
    format: mediaType === MediaType.dockerManifest ? 'docker' : 'oci',
    annotations: manifest.annotations,
    rawConfig,
    configMediaType: configDesc.mediaType,
    rawManifest: bytes,
  });
  const platform: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  return {
    reference: ref,
    pinned: formatReference(withDigest({ ...ref, tag: undefined }, digest)),
    digest,
    indexDigest,
    manifest,
    mediaType,
    config,
    configDigest: configDesc.digest,
    platform,
    requestedPlatform: requested,
    fromCache,
    image,
  };
}

/**
 * Resolves a reference to the platform image's manifest and config, stored. Each reference
 * and platform is resolved once per session. Throws REGISTRY_BAD_REFERENCE,
 * REGISTRY_NOT_FOUND, REGISTRY_UNAUTHORIZED, REGISTRY_NO_MATCHING_PLATFORM …
 */
export function resolveImage(reference: string | ImageReference, options: ResolveOptions): Promise<ResolvedImage> {
  const ref = typeof reference === 'string' ? parseImageReference(reference) : reference;
  const platform = options.platform ?? hostPlatform();
  const key = `${options.store.root}\n${formatReference(ref)}\n${formatPlatform(normalizePlatform(platform))}`;
  const memo = options.session.resolutions;
  let p = memo.get(key) as Promise<ResolvedImage> | undefined;
  if (p === undefined) {
    p = resolveUncached(ref, options, platform).then((r) => {
      options.session.emit({ type: 'resolve', reference: formatReference(ref), digest: r.digest, cached: r.fromCache });
      return r;
    });
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

/** Downloads the layers of a resolved image that the store lacks (in parallel, each once). */
export async function fetchLayers(resolved: ResolvedImage, options: ResolveOptions): Promise<void> {
  const ref = resolved.reference;
  // Wait for every download to end before reporting a failure, so nothing is still writing
  // into the store when the caller hears of it.
  const results = await Promise.allSettled(
    resolved.manifest.layers.map((d) =>
      fetchBlob(options.session, options.store, { registry: ref.registry, repository: ref.repository, digest: d.digest, size: d.size, kind: 'layer' }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  // Remember where the layers came from, so a later push to the same registry can mount them.
  await recordBlobSources(options.session, options.store, resolved.manifest.layers.map((d) => d.digest));
}

/** Resolves and downloads an image: the result's layers are all in the store. */
export async function pullImage(reference: string | ImageReference, options: ResolveOptions): Promise<ResolvedImage> {
  const resolved = await resolveImage(reference, options);
  await fetchLayers(resolved, options);
  return resolved;
}

/** True when the image's config platform fits the one asked for (BuildKit only warns otherwise). */
export function platformFits(resolved: ResolvedImage): boolean {
  return platformMatches(resolved.requestedPlatform, resolved.platform);
}
