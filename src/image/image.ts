/**
 * An Image is a value: a config, its layers, a media type family and manifest annotations.
 * The config bytes, manifest and their digests are computed when first asked for, then kept.
 * Operations (`appendLayers`, `setConfig`, `addHistory`, `setCreated` …) return a NEW image;
 * nothing is modified in place (the config is frozen), as go-containerregistry's mutate does.
 *
 * Determinism: configs and manifests are written as canonical JSON (sorted keys, no
 * whitespace); `created` defaults to 1970-01-01T00:00:00Z (see time.ts). An image read from
 * disk keeps its original config and manifest bytes until an operation changes it, so copying
 * an image never changes its digest.
 *
 * Invariant (checked on every construction): `config.rootfs.diff_ids` lists exactly the
 * layers' diffIDs, in order.
 */
import { BuildImageError } from '../errors.js';
import { sha256Digest, type Digest } from './digest.js';
import { canonicalJsonBytes } from './json.js';
import { layerDescriptor, withLayerMediaType, type Layer } from './layer.js';
import {
  layerCompression,
  layerMediaType,
  manifestMediaTypes,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageManifest,
  type MediaTypeFormat,
  type Platform,
} from './schema.js';
import { DEFAULT_CREATED, formatTimestamp } from './time.js';

export interface ImageInit {
  readonly config: ImageConfig;
  readonly layers: readonly Layer[];
  /** Media types to use for the manifest and config; default 'oci'. */
  readonly format?: MediaTypeFormat;
  /** Manifest annotations. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** The config's original bytes (must parse to `config`); kept for exact copies. */
  readonly rawConfig?: Uint8Array | undefined;
  /** The config descriptor's media type in the original manifest. */
  readonly configMediaType?: string | undefined;
  /** The manifest's original bytes (must describe this config and these layers). */
  readonly rawManifest?: Uint8Array | undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** A copy with `undefined` properties removed (so canonical JSON and equality agree). */
function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export class Image {
  readonly config: ImageConfig;
  readonly layers: readonly Layer[];
  readonly format: MediaTypeFormat;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly #rawConfig: Buffer | undefined;
  readonly #rawManifest: Buffer | undefined;
  readonly #configMediaType: string;
  #configBytes: Buffer | undefined;
  #configDigest: Digest | undefined;
  #manifest: ImageManifest | undefined;
  #manifestBytes: Buffer | undefined;
  #digest: Digest | undefined;

  constructor(init: ImageInit) {
    const diffIDs = init.layers.map((l) => l.diffID);
    const listed = init.config.rootfs.diff_ids;
    if (listed.length !== diffIDs.length || listed.some((d, i) => d !== diffIDs[i])) {
      throw new BuildImageError(
        'IMAGE_DIFFID_MISMATCH',
        `image config lists ${listed.length} diff_ids that do not match its ${diffIDs.length} layers` +
          ` (config: ${listed.join(', ') || 'none'}; layers: ${diffIDs.join(', ') || 'none'})`,
      );
    }
    this.config = deepFreeze(clean(init.config));
    this.layers = Object.freeze([...init.layers]);
    this.format = init.format ?? 'oci';
    this.annotations = init.annotations ? Object.freeze({ ...init.annotations }) : undefined;
    this.#rawConfig = init.rawConfig ? Buffer.from(init.rawConfig) : undefined;
    this.#rawManifest = init.rawManifest ? Buffer.from(init.rawManifest) : undefined;
    this.#configMediaType = init.configMediaType ?? manifestMediaTypes(this.format).config;
  }

  /** The config as stored: the original bytes, or canonical JSON of `config`. */
  configBytes(): Buffer {
    return (this.#configBytes ??= this.#rawConfig ?? canonicalJsonBytes(this.config));
  }

  configDigest(): Digest {
    return (this.#configDigest ??= sha256Digest(this.configBytes()));
  }

  configDescriptor(): Descriptor {
    return { mediaType: this.#configMediaType, digest: this.configDigest(), size: this.configBytes().length } as Descriptor;
  }

  /** The image manifest (OCI or Docker v2 schema 2, by `format`). */
  manifest(): ImageManifest {
    if (this.#manifest) return this.#manifest;
    if (this.#rawManifest) {
      this.#manifest = deepFreeze(JSON.parse(this.#rawManifest.toString('utf8')) as ImageManifest);
    } else {
      this.#manifest = deepFreeze({
        schemaVersion: 2,
        mediaType: manifestMediaTypes(this.format).manifest,
        config: this.configDescriptor(),
        layers: this.layers.map(layerDescriptor),
        ...(this.annotations && Object.keys(this.annotations).length > 0 ? { annotations: { ...this.annotations } } : {}),
      } as ImageManifest);
    }
    return this.#manifest;
  }

  manifestBytes(): Buffer {
    return (this.#manifestBytes ??= this.#rawManifest ?? canonicalJsonBytes(this.manifest()));
  }

  /** The manifest digest: the image's identity in a registry or layout. */
  digest(): Digest {
    return (this.#digest ??= sha256Digest(this.manifestBytes()));
  }

  /** The manifest's media type. */
  get mediaType(): string {
    return this.manifest().mediaType ?? manifestMediaTypes(this.format).manifest;
  }

  /** The platform the config declares. */
  platform(): Platform {
    const c = this.config;
    return {
      architecture: c.architecture,
      os: c.os,
      ...(c.variant ? { variant: c.variant } : {}),
      ...(c['os.version'] ? { 'os.version': c['os.version'] } : {}),
      ...(c['os.features'] ? { 'os.features': [...c['os.features']] } : {}),
    } as Platform;
  }

  /** The manifest's descriptor, with the platform (for an index). */
  descriptor(options: { platform?: boolean; annotations?: Record<string, string> } = {}): Descriptor {
    return {
      mediaType: this.mediaType,
      digest: this.digest(),
      size: this.manifestBytes().length,
      ...(options.annotations && Object.keys(options.annotations).length > 0 ? { annotations: { ...options.annotations } } : {}),
      ...(options.platform ? { platform: this.platform() } : {}),
    } as Descriptor;
  }
}

/** A new image from parts (config, layers …); checks the diff_ids invariant. */
export function makeImage(init: ImageInit): Image {
  return new Image(init);
}

/** The parts of an image, minus the original bytes (any change drops them). */
function parts(image: Image): ImageInit {
  return { config: image.config, layers: image.layers, format: image.format, annotations: image.annotations };
}

/** OCI platform of the running Node.js process (`linux/amd64`, `linux/arm64`, `linux/arm/v7` …). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
  const architecture = arch[process.arch] ?? process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>)['arm_version'];
    return { os, architecture, variant: `v${typeof v === 'string' || typeof v === 'number' ? v : '7'}` } as Platform;
  }
  return { os, architecture } as Platform;
}

/**
 * The scratch image: no layers, an empty container config, the given platform (default the
 * host's, os linux) and `created` (default 1970-01-01T00:00:00Z).
 */
export function emptyImage(options: { platform?: Partial<Platform>; created?: string; format?: MediaTypeFormat } = {}): Image {
  const host = hostPlatform();
  const p = options.platform ?? {};
  const config = {
    architecture: p.architecture ?? host.architecture,
    os: p.os ?? 'linux',
    ...(p.variant ? { variant: p.variant } : p.architecture === undefined && host.variant ? { variant: host.variant } : {}),
    ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}),
    ...(p['os.features'] ? { 'os.features': p['os.features'] } : {}),
    created: options.created ?? DEFAULT_CREATED,
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
  } as ImageConfig;
  return new Image({ config, layers: [], format: options.format ?? 'oci' });
}

/** A layer to append and the history entry that describes it. */
export interface LayerAddition {
  readonly layer: Layer;
  /** `empty_layer` is ignored (forced false). */
  readonly history?: HistoryEntry | undefined;
}

/**
 * A new image with `additions` appended (layers, diff_ids and, for each, a history entry).
 * Layers whose media type belongs to the other family (OCI/Docker) are relabelled to match
 * the image's format.
 */
export function appendLayers(image: Image, ...additions: LayerAddition[]): Image {
  if (additions.length === 0) return image;
  const layers = [...image.layers];
  const diffIDs = [...image.config.rootfs.diff_ids];
  const history = [...(image.config.history ?? [])];
  for (const a of additions) {
    const layer = withLayerMediaType(a.layer, layerMediaType(image.format, layerCompression(a.layer.mediaType)));
    layers.push(layer);
    diffIDs.push(layer.diffID);
    const { empty_layer: _ignored, ...entry } = a.history ?? {};
    history.push(entry);
  }
  return new Image({
    ...parts(image),
    layers,
    config: { ...image.config, rootfs: { type: 'layers', diff_ids: diffIDs }, history },
  });
}

/** A new image with one more history entry marked `empty_layer: true` (a metadata-only step). */
export function addHistory(image: Image, entry: HistoryEntry): Image {
  const history = [...(image.config.history ?? []), { ...entry, empty_layer: true }];
  return new Image({ ...parts(image), config: { ...image.config, history } });
}

/**
 * A new image whose container config has the fields of `patch` set; a field set to
 * `undefined` is removed.
 */
export function setConfig(image: Image, patch: Partial<ContainerConfig>): Image {
  const next: Record<string, unknown> = { ...(image.config.config ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete next[k];
    else next[k] = v;
  }
  return new Image({ ...parts(image), config: { ...image.config, config: next as ContainerConfig } });
}

/**
 * A new image with its whole config replaced by `update(config)` (an escape hatch for fields
 * without their own operation: author, os.version …). `rootfs` must keep matching the layers.
 */
export function updateConfig(image: Image, update: (config: ImageConfig) => ImageConfig): Image {
  return new Image({ ...parts(image), config: update(clean(image.config)) });
}

/** A new image with `created` set (RFC 3339 text, seconds since the epoch, or a Date). */
export function setCreated(image: Image, created: string | number | Date): Image {
  const text = typeof created === 'string' ? created : formatTimestamp(created);
  return new Image({ ...parts(image), config: { ...image.config, created: text } });
}

/** A new image with these platform fields. */
export function setPlatform(image: Image, platform: Partial<Platform>): Image {
  return updateConfig(image, (c) => {
    const next: Record<string, unknown> = { ...c };
    for (const key of ['architecture', 'os', 'variant', 'os.version', 'os.features'] as const) {
      if (key in platform) {
        const v = platform[key];
        if (v === undefined) delete next[key];
        else next[key] = v;
      }
    }
    return next as ImageConfig;
  });
}

/** A new image with manifest annotations replaced (undefined removes them all). */
export function setAnnotations(image: Image, annotations: Readonly<Record<string, string>> | undefined): Image {
  return new Image({ ...parts(image), annotations });
}

/**
 * The image under the other media type family: OCI ↔ Docker v2 schema 2 (manifest, config and
 * layer media types; the bytes of config and layers stay the same).
 */
export function setFormat(image: Image, format: MediaTypeFormat): Image {
  if (format === image.format) return image;
  const layers = image.layers.map((l) => withLayerMediaType(l, layerMediaType(format, layerCompression(l.mediaType))));
  return new Image({ ...parts(image), format, layers, rawConfig: image.configBytes() });
}
