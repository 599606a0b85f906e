/**
 * OCI image-spec documents as zod schemas and TypeScript types: descriptors, image manifests,
 * image indexes and image configs (with the Docker fields BuildKit keeps even in OCI configs:
 * Healthcheck, OnBuild, Shell, ArgsEscaped), plus the media types of OCI and Docker v2
 * schema 2.
 *
 * Parsing keeps the fields listed here and drops the rest (as BuildKit does when it reads a
 * base image config into its Go struct); JSON `null` is read as "absent" (Go reads it as a nil
 * slice or map). An Image read from disk keeps its original bytes until it is changed, so
 * unknown fields survive a plain copy.
 */
import * as z from 'zod/mini';
import '../zod.js';
import { BuildImageError } from '../errors.js';
import type { Digest } from './digest.js';

// ---------------------------------------------------------------------------------------------
// Media types

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Which family of media types an image uses. */
export type MediaTypeFormat = 'oci' | 'docker';

/** How a layer blob is compressed. */
export type Compression = 'gzip' | 'zstd' | 'none';

const LAYER_TYPES: Record<string, Compression> = {
  [MediaType.ociLayer]: 'none',
  [MediaType.ociLayerGzip]: 'gzip',
  [MediaType.ociLayerZstd]: 'zstd',
  [MediaType.ociLayerNondistributable]: 'none',
  [MediaType.ociLayerNondistributableGzip]: 'gzip',
  [MediaType.ociLayerNondistributableZstd]: 'zstd',
  [MediaType.dockerLayer]: 'none',
  [MediaType.dockerLayerGzip]: 'gzip',
  [MediaType.dockerLayerZstd]: 'zstd',
  [MediaType.dockerForeignLayerGzip]: 'gzip',
};

/** True for the layer media types of OCI and Docker. */
export function isLayerMediaType(mediaType: string): boolean {
  return mediaType in LAYER_TYPES;
}

/** The compression of a layer media type; throws `IMAGE_UNSUPPORTED_MEDIA_TYPE` for others. */
export function layerCompression(mediaType: string): Compression {
  const c = LAYER_TYPES[mediaType];
  if (c === undefined) {
    throw new BuildImageError('IMAGE_UNSUPPORTED_MEDIA_TYPE', `unsupported layer media type "${mediaType}"`);
  }
  return c;
}

/** The layer media type for a format and compression. */
export function layerMediaType(format: MediaTypeFormat, compression: Compression): string {
  if (format === 'oci') {
    return compression === 'gzip' ? MediaType.ociLayerGzip : compression === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;
  }
  return compression === 'gzip'
    ? MediaType.dockerLayerGzip
    : compression === 'zstd'
      ? MediaType.dockerLayerZstd
      : MediaType.dockerLayer;
}

/** The manifest and config media types of a format. */
export function manifestMediaTypes(format: MediaTypeFormat): { manifest: string; config: string } {
  return format === 'oci'
    ? { manifest: MediaType.ociManifest, config: MediaType.ociConfig }
    : { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig };
}

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

// ---------------------------------------------------------------------------------------------
// Schemas

/** null or absent → undefined (Go reads JSON null as a nil slice/map). */
function opt<T extends z.ZodMiniType>(schema: T) {
  const nullToUndefined = z.transform((v: unknown) => (v === null ? undefined : v)) as unknown as z.ZodMiniType<
    z.input<T> | undefined,
    unknown
  >;
  return z.pipe(nullToUndefined, z.optional(schema));
}

export const digestSchema = z.pipe(
  z.string().check(z.regex(/^sha256:[0-9a-f]{64}$/, 'expected a digest sha256:<64 lowercase hex characters>')),
  z.transform((v: string) => v as Digest),
);

const stringMap = z.record(z.string(), z.string());
const emptyObjectSet = z.record(z.string(), z.object({}));

export const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  'os.version': opt(z.string()),
  'os.features': opt(z.array(z.string())),
  variant: opt(z.string()),
  features: opt(z.array(z.string())),
});
export type Platform = z.output<typeof platformSchema>;

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.int().check(z.nonnegative()),
  urls: opt(z.array(z.string())),
  annotations: opt(stringMap),
  data: opt(z.string()),
  platform: opt(platformSchema),
  artifactType: opt(z.string()),
});
/** A content descriptor (OCI descriptor.md). */
export type Descriptor = z.output<typeof descriptorSchema>;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: opt(z.string()),
  artifactType: opt(z.string()),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: opt(descriptorSchema),
  annotations: opt(stringMap),
});
/** An image manifest (OCI manifest.md or Docker v2 schema 2). */
export type ImageManifest = z.output<typeof manifestSchema>;

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: opt(z.string()),
  artifactType: opt(z.string()),
  manifests: z.array(descriptorSchema),
  subject: opt(descriptorSchema),
  annotations: opt(stringMap),
});
/** An image index (OCI image-index.md) or Docker manifest list. */
export type ImageIndex = z.output<typeof indexSchema>;

/** Docker's HEALTHCHECK settings; durations are integer nanoseconds, 0 means "inherit". */
export const healthcheckSchema = z.object({
  Test: opt(z.array(z.string())),
  Interval: opt(z.int()),
  Timeout: opt(z.int()),
  StartPeriod: opt(z.int()),
  StartInterval: opt(z.int()),
  Retries: opt(z.int()),
});
export type Healthcheck = z.output<typeof healthcheckSchema>;

/** The `config` object of an image config: what a container runs with. */
export const containerConfigSchema = z.object({
  User: opt(z.string()),
  ExposedPorts: opt(emptyObjectSet),
  Env: opt(z.array(z.string())),
  Entrypoint: opt(z.array(z.string())),
  Cmd: opt(z.array(z.string())),
  Volumes: opt(emptyObjectSet),
  WorkingDir: opt(z.string()),
  Labels: opt(stringMap),
  StopSignal: opt(z.string()),
  ArgsEscaped: opt(z.boolean()),
  Healthcheck: opt(healthcheckSchema),
  OnBuild: opt(z.array(z.string())),
  Shell: opt(z.array(z.string())),
});
export type ContainerConfig = z.output<typeof containerConfigSchema>;

export const historySchema = z.object({
  created: opt(z.string()),
  created_by: opt(z.string()),
  author: opt(z.string()),
  comment: opt(z.string()),
  empty_layer: opt(z.boolean()),
});
/** One history entry; `empty_layer: true` for steps that changed only the config. */
export type HistoryEntry = z.output<typeof historySchema>;

export const rootfsSchema = z.object({
  type: z.literal('layers'),
  diff_ids: z.array(digestSchema),
});

export const imageConfigSchema = z.object({
  created: opt(z.string()),
  author: opt(z.string()),
  architecture: z.string(),
  os: z.string(),
  'os.version': opt(z.string()),
  'os.features': opt(z.array(z.string())),
  variant: opt(z.string()),
  config: opt(containerConfigSchema),
  rootfs: rootfsSchema,
  history: opt(z.array(historySchema)),
});
/** An image config (OCI config.md plus BuildKit's Docker extensions). */
export type ImageConfig = z.output<typeof imageConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Parsing

function parseWith<T extends z.ZodMiniType>(schema: T, what: string, code: string, input: Uint8Array | string | unknown): z.output<T> {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new BuildImageError(code, `invalid ${what}: not JSON (${(cause as Error).message})`, { cause });
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new BuildImageError(code, `invalid ${what}: ${z.prettifyError(result.error).replace(/\n/g, ' ')}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Parses an image config (bytes, text or a parsed object). Throws `IMAGE_INVALID_CONFIG`. */
export function parseImageConfig(input: Uint8Array | string | unknown): ImageConfig {
  return parseWith(imageConfigSchema, 'image config', 'IMAGE_INVALID_CONFIG', input);
}

/** Parses an image manifest. Throws `IMAGE_INVALID_MANIFEST`. */
export function parseManifest(input: Uint8Array | string | unknown): ImageManifest {
  return parseWith(manifestSchema, 'image manifest', 'IMAGE_INVALID_MANIFEST', input);
}

/** Parses an image index. Throws `IMAGE_INVALID_INDEX`. */
export function parseIndex(input: Uint8Array | string | unknown): ImageIndex {
  return parseWith(indexSchema, 'image index', 'IMAGE_INVALID_INDEX', input);
}

/** Parses a descriptor. Throws `IMAGE_INVALID_DESCRIPTOR`. */
export function parseDescriptor(input: Uint8Array | string | unknown): Descriptor {
  return parseWith(descriptorSchema, 'descriptor', 'IMAGE_INVALID_DESCRIPTOR', input);
}

/**
 * What a manifest-or-index blob is, from its `mediaType` field or, when that is missing, its
 * shape (`manifests` → index, `config` → manifest), as containerd does.
 */
export function sniffManifestKind(input: Uint8Array | string): 'index' | 'manifest' {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch (cause) {
    throw new BuildImageError('IMAGE_INVALID_MANIFEST', 'invalid manifest: not JSON', { cause });
  }
  if (doc === null || typeof doc !== 'object') throw new BuildImageError('IMAGE_INVALID_MANIFEST', 'invalid manifest: not an object');
  const o = doc as Record<string, unknown>;
  const mt = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
  if (isIndexMediaType(mt)) return 'index';
  if (isManifestMediaType(mt)) return 'manifest';
  if (Array.isArray(o['manifests'])) return 'index';
  if (o['config'] !== undefined) return 'manifest';
  throw new BuildImageError('IMAGE_INVALID_MANIFEST', `unsupported manifest media type "${mt ?? '(none)'}"`);
}
