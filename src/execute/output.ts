/**
 * Build outputs, with BuildKit's `--output`/`-o` syntax (docker buildx util/buildflags
 * `ParseExports`): comma-separated `key=value` fields (CSV quoting allowed, keys case-
 * insensitive), `type` required — except the shorthands `-o DIR` (= `type=local,dest=DIR`)
 * and `-o -` (= `type=tar,dest=-`); `type=registry` means `type=image,push=true`.
 *
 *     type=oci,dest=FILE[,name=REF]          OCI archive (dest=- writes to stdout)
 *     type=oci,dest=DIR,tar=false[,name=REF] OCI layout directory (the image is added to it)
 *     type=docker,dest=FILE[,name=REF]       `docker load` archive (dest=- writes to stdout)
 *     type=local,dest=DIR                    the root filesystem, unpacked
 *     type=tar,dest=FILE                     the root filesystem as one tar (dest=- stdout)
 *     type=registry,name=REF                 pushed through the injected pusher
 *     type=image,name=REF,push=true          the same
 *
 * `type=local` applies the layers in order onto DIR (confined, whiteouts applied, see
 * src/image/extract.ts): files get their modes and mtimes; owners are set only when running
 * as root (otherwise everything belongs to the current user), xattrs are not set, device nodes
 * need root. Existing files in DIR are replaced, others are left alone, as BuildKit's local
 * exporter does.
 */
import { mkdir } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildImageError } from '../errors.js';
import type { Digest } from '../image/digest.js';
import { applyLayer } from '../image/extract.js';
import type { Image } from '../image/image.js';
import { writeTar, type TarEntry } from '../image/tar.js';
import { ociArchiveStream, writeOciArchive } from '../oci/archive.js';
import { dockerArchiveStream, normalizeDockerTag, writeDockerArchive } from '../oci/docker.js';
import { CONTAINERD_IMAGE_NAME_ANNOTATION, writeOciLayout } from '../oci/layout.js';
import { writeStreamToTemp } from '../store/atomic.js';
import { didYouMean } from '../suggest.js';
import { openNode } from './rootfs.js';
import type { LayerSnapshots } from './snapshots.js';

export type OutputSpec =
  | { readonly type: 'oci'; readonly dest: string; readonly tar: boolean; readonly name?: string | undefined }
  | { readonly type: 'docker'; readonly dest: string; readonly name?: string | undefined }
  | { readonly type: 'local'; readonly dest: string }
  | { readonly type: 'tar'; readonly dest: string }
  | { readonly type: 'registry'; readonly name: string };

/** Pushes an image to a registry (wired to src/registry by the caller). */
export type ImagePusher = (image: Image, ref: string, options: { readonly signal?: AbortSignal | undefined }) => Promise<{ readonly digest: Digest }>;

const TYPES = ['oci', 'docker', 'local', 'tar', 'registry', 'image'] as const;
const KEYS: Record<string, readonly string[]> = {
  oci: ['dest', 'tar', 'name'],
  docker: ['dest', 'name'],
  local: ['dest'],
  tar: ['dest'],
  image: ['name', 'push'],
};
/** BuildKit exporter attributes we recognise but do not implement (a clear error, not a silent no-op). */
const UNSUPPORTED = [
  'compression',
  'compression-level',
  'force-compression',
  'oci-mediatypes',
  'oci-artifact',
  'buildinfo',
  'buildinfo-attrs',
  'attest',
  'store',
  'unpack',
  'dangling-name-prefix',
  'name-canonical',
  'registry.insecure',
  'push-by-digest',
  'insecure',
  'rewrite-timestamp',
  'platform-split',
  'annotation',
];

function invalid(message: string, suggestion?: string): BuildImageError {
  return new BuildImageError('EXEC_OUTPUT_INVALID', message, { suggestion });
}

/** Go's encoding/csv on one line (as csvvalue.Fields): `,` separates, `"…"` quotes, `""` escapes. */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw invalid(`invalid output "${line}": unterminated quote`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw invalid(`invalid output "${line}": extraneous text after a quoted field`);
    } else {
      const j = line.indexOf(',', i);
      field = j < 0 ? line.slice(i) : line.slice(i, j);
      if (field.includes('"')) throw invalid(`invalid output "${line}": bare " in a field`);
      i = j < 0 ? line.length : j;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/** Go's strconv.ParseBool. */
function parseBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw invalid(`invalid value "${value}" for ${key}: expected true or false`);
}

/** Parses one `--output` value (see the module comment). Throws `EXEC_OUTPUT_INVALID`. */
export function parseOutput(text: string): OutputSpec {
  const fields = csvFields(text);
  if (fields.length === 1 && fields[0] === text && !text.startsWith('type=')) {
    if (text === '') throw invalid('empty output', 'use -o DIR, or -o type=…,dest=…');
    return text === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: text };
  }
  const attrs = new Map<string, string>();
  let type: string | undefined;
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw invalid(`invalid value ${field} in output "${text}": expected key=value`);
    const k = field.slice(0, eq).trim().toLowerCase();
    const v = field.slice(eq + 1);
    if (k === 'type') type = v;
    else attrs.set(k, v);
  }
  if (type === undefined || type === '') throw invalid(`type is required for output "${text}"`, 'add type=local, type=oci, type=docker or type=registry');
  if (!(TYPES as readonly string[]).includes(type)) {
    throw invalid(`unsupported output type "${type}"`, didYouMean(type, TYPES) ?? `supported types: ${TYPES.join(', ')}`);
  }
  if (type === 'registry') {
    type = 'image';
    attrs.set('push', 'true');
  }
  const allowed = KEYS[type]!;
  for (const k of attrs.keys()) {
    if (allowed.includes(k)) continue;
    if (UNSUPPORTED.includes(k) || k.startsWith('annotation')) throw invalid(`output attribute "${k}" is not supported by build-image`);
    throw invalid(`unknown attribute "${k}" for type=${type} output`, didYouMean(k, allowed) ?? `${type} outputs take ${allowed.join(', ')}`);
  }
  const dest = attrs.get('dest');
  const name = attrs.get('name');
  const needDest = () => {
    if (dest === undefined || dest === '') throw invalid(`type=${type} output needs dest=…`, `e.g. type=${type},dest=${type === 'local' ? 'out' : 'image.tar'}`);
    return dest;
  };
  switch (type) {
    case 'oci': {
      const tar = attrs.has('tar') ? parseBool('tar', attrs.get('tar')!) : true;
      const d = needDest();
      if (!tar && d === '-') throw invalid('type=oci,tar=false writes a directory: dest cannot be -');
      return { type: 'oci', dest: d, tar, name };
    }
    case 'docker':
      return { type: 'docker', dest: needDest(), name };
    case 'local': {
      const d = needDest();
      if (d === '-') throw invalid('type=local writes a directory: dest cannot be -', 'use type=tar,dest=- for a tar on stdout');
      return { type: 'local', dest: d };
    }
    case 'tar':
      return { type: 'tar', dest: needDest() };
    default: {
      if (name === undefined || name === '') throw invalid(`type=${type} output needs name=<image reference>`);
      if (!parseBool('push', attrs.get('push') ?? 'false')) {
        throw invalid('type=image without push=true has nowhere to go: build-image has no image store', 'use type=registry,name=… or push=true');
      }
      return { type: 'registry', name };
    }
  }
}

export interface OutputDeps {
  /** For `type=registry`. */
  readonly pusher?: ImagePusher | undefined;
  /** Where `dest=-` goes (default: process.stdout). */
  readonly stdout?: Writable | undefined;
  /** Layer snapshots (needed by `type=tar`). */
  readonly snapshots?: LayerSnapshots | undefined;
  /** mtime of the entries of OCI/docker archives (SOURCE_DATE_EPOCH; default 0). */
  readonly epoch?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface OutputResult {
  readonly spec: OutputSpec;
  /** The image's manifest digest (for registry outputs: as pushed). */
  readonly digest: Digest;
}

/** The tar of an image's root filesystem, read from its layers' snapshots. */
async function rootfsEntries(image: Image, snapshots: LayerSnapshots): Promise<TarEntry[]> {
  const view = await snapshots.view(image.layers);
  const out: TarEntry[] = [];
  for (const e of view.walk('')) {
    if (e.path === '') continue;
    out.push({
      path: e.path,
      type: e.type,
      mode: e.type === 'symlink' ? 0o777 : e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      ...(e.type === 'file' ? { size: e.size, open: () => openNode(e, e.path) } : {}),
      ...(e.type === 'symlink' ? { linkname: e.linkTarget ?? '' } : {}),
      ...(e.type === 'char' || e.type === 'block' ? { devmajor: e.devMajor ?? 0, devminor: e.devMinor ?? 0 } : {}),
      ...(e.xattrs !== undefined ? { xattrs: e.xattrs } : {}),
    });
  }
  return out;
}

async function toFileOrStdout(dest: string, stream: Readable, deps: OutputDeps): Promise<void> {
  if (dest === '-') {
    await pipeline(stream, deps.stdout ?? process.stdout, { end: deps.stdout !== undefined, signal: deps.signal });
    return;
  }
  const tmp = await writeStreamToTemp(dest, stream);
  await tmp.commit();
}

/** Writes `image` to one output. Throws `EXEC_OUTPUT_FAILED` with the cause on failure. */
export async function writeOutput(image: Image, spec: OutputSpec, deps: OutputDeps = {}): Promise<OutputResult> {
  deps.signal?.throwIfAborted();
  try {
    switch (spec.type) {
      case 'oci': {
        const named = spec.name !== undefined ? normalizeDockerTag(spec.name) : undefined;
        const options = {
          tag: named?.tag,
          annotations: named !== undefined ? { [CONTAINERD_IMAGE_NAME_ANNOTATION]: named.ref } : undefined,
          mtime: deps.epoch,
        };
        if (!spec.tar) await writeOciLayout(spec.dest, image, options);
        else if (spec.dest === '-') await toFileOrStdout('-', ociArchiveStream(image, options), deps);
        else await writeOciArchive(spec.dest, image, options);
        return { spec, digest: image.digest() };
      }
      case 'docker': {
        const options = { tags: spec.name !== undefined ? [spec.name] : [], mtime: deps.epoch };
        if (spec.dest === '-') await toFileOrStdout('-', await dockerArchiveStream(image, options), deps);
        else await writeDockerArchive(spec.dest, image, options);
        return { spec, digest: image.digest() };
      }
      case 'local': {
        await mkdir(spec.dest, { recursive: true });
        for (const layer of image.layers) {
          deps.signal?.throwIfAborted();
          await applyLayer(spec.dest, await layer.openUncompressed());
        }
        return { spec, digest: image.digest() };
      }
      case 'tar': {
        if (deps.snapshots === undefined) throw new BuildImageError('EXEC_INTERNAL', 'type=tar outputs need the layer snapshots');
        await toFileOrStdout(spec.dest, writeTar(await rootfsEntries(image, deps.snapshots)), deps);
        return { spec, digest: image.digest() };
      }
      case 'registry': {
        if (deps.pusher === undefined) {
          throw new BuildImageError('EXEC_OUTPUT_INVALID', `cannot push to ${spec.name}: no registry access was configured`);
        }
        const r = await deps.pusher(image, spec.name, { signal: deps.signal });
        return { spec, digest: r.digest };
      }
    }
  } catch (err) {
    if (err instanceof BuildImageError || deps.signal?.aborted) throw err;
    throw new BuildImageError('EXEC_OUTPUT_FAILED', `cannot write the ${spec.type} output: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes every output in order. */
export async function writeOutputs(image: Image, specs: readonly OutputSpec[], deps: OutputDeps = {}): Promise<OutputResult[]> {
  const out: OutputResult[] = [];
  for (const spec of specs) out.push(await writeOutput(image, spec, deps));
  return out;
}
