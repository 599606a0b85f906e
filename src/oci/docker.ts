/**
 * Docker archives: the `docker save` / `docker load` format (also skopeo's `docker-archive:`):
 *
 *     manifest.json        [{"Config":"<config hex>.json","Layers":["<diffID hex>.tar",…],"RepoTags":[…]}]
 *     repositories         {"<name>":{"<tag>":"<top layer diffID hex>"}} (legacy; only with tags)
 *     <config hex>.json    the image config, byte for byte
 *     <diffID hex>.tar     each layer, uncompressed
 *
 * `docker load` checks each layer's sha256 against the config's diff_ids, which is why layers
 * are written uncompressed. Written deterministically (sorted entries, mode 0644, owner 0:0,
 * mtime 0) to a temp file and renamed into place.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { BuildImageError } from '../errors.js';
import { digestHex } from '../image/digest.js';
import type { Image } from '../image/image.js';
import type { Layer } from '../image/layer.js';
import { canonicalJsonBytes } from '../image/json.js';
import { writeTar, type TarEntry } from '../image/tar.js';
import { writeStreamToTemp } from '../store/atomic.js';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?$`);

/**
 * A docker tag as `docker load` wants it: `name:tag`, `:latest` added when missing. Throws
 * `OCI_INVALID_TAG` for what Docker would refuse (upper case, a digest, …).
 */
export function normalizeDockerTag(ref: string): { name: string; tag: string; ref: string } {
  const m = REFERENCE.exec(ref);
  if (!m || m[1]!.length > 255) {
    throw new BuildImageError('OCI_INVALID_TAG', `invalid tag "${ref}": expected [registry/]name[:tag] in lower case`, {
      suggestion: ref !== ref.toLowerCase() ? `repository names must be lower case: "${ref.toLowerCase()}"` : undefined,
    });
  }
  const name = m[1]!;
  const tag = m[2] ?? 'latest';
  return { name, tag, ref: `${name}:${tag}` };
}

export interface WriteDockerArchiveOptions {
  /** RepoTags, e.g. `["busybox:latest"]` (`:latest` is added to a bare name). */
  readonly tags?: readonly string[] | undefined;
  /** mtime of every entry (default 0). */
  readonly mtime?: number | undefined;
}

/** Size of a layer's uncompressed tar: known from the layer, or counted by reading it. */
async function uncompressedSize(layer: Layer): Promise<number> {
  if (layer.uncompressedSize !== undefined) return layer.uncompressedSize;
  let size = 0;
  for await (const chunk of await layer.openUncompressed()) size += (chunk as Buffer).length;
  return size;
}

/**
 * The entries of a docker archive of `image`. Tar headers come before content, so a layer
 * whose uncompressed size is unknown is read once here to measure it.
 */
export async function dockerArchiveEntries(image: Image, options: WriteDockerArchiveOptions = {}): Promise<TarEntry[]> {
  const mtime = options.mtime ?? 0;
  const tags = (options.tags ?? []).map(normalizeDockerTag);
  const configName = `${digestHex(image.configDigest())}.json`;
  const layerNames = image.layers.map((l) => `${digestHex(l.diffID)}.tar`);
  const file = (path: string, data: Uint8Array): TarEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, data });
  const entries: TarEntry[] = [
    file(configName, image.configBytes()),
    file('manifest.json', canonicalJsonBytes([{ Config: configName, RepoTags: [...new Set(tags.map((t) => t.ref))], Layers: layerNames }])),
  ];
  const seen = new Set<string>();
  for (const [i, layer] of image.layers.entries()) {
    const name = layerNames[i]!;
    if (seen.has(name)) continue;
    seen.add(name);
    const size = await uncompressedSize(layer);
    entries.push({ path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, size, open: () => layer.openUncompressed() });
  }
  if (tags.length > 0 && image.layers.length > 0) {
    const top = digestHex(image.layers[image.layers.length - 1]!.diffID);
    const repos: Record<string, Record<string, string>> = {};
    for (const t of tags) (repos[t.name] ??= {})[t.tag] = top;
    entries.push(file('repositories', canonicalJsonBytes(repos)));
  }
  return entries;
}

/** Streams a docker archive of `image`. */
export async function dockerArchiveStream(image: Image, options: WriteDockerArchiveOptions = {}): Promise<Readable> {
  return writeTar(await dockerArchiveEntries(image, options));
}

/** Writes a docker archive of `image` to `file`, atomically. */
export async function writeDockerArchive(file: string, image: Image, options: WriteDockerArchiveOptions = {}): Promise<void> {
  const stream = await dockerArchiveStream(image, options);
  await mkdir(dirname(file), { recursive: true });
  const tmp = await writeStreamToTemp(file, stream);
  await tmp.commit();
}
