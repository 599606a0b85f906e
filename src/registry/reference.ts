/**
 * Image references as Docker reads them (`busybox`, `ghcr.io/org/base:1.2@sha256:…`,
 * `localhost:5000/app`): the grammar of distribution/reference (regexp.go) and Docker's
 * normalisation (normalize.go, ParseNormalizedNamed): the default registry `docker.io`, the
 * `library/` prefix for official images on Docker Hub, `index.docker.io` read as `docker.io`,
 * and the default tag `latest` when neither a tag nor a digest is given.
 *
 * Pure: no I/O.
 */
import { BuildImageError } from '../errors.js';
import type { Digest } from '../image/digest.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** The registry as written (`docker.io` for Docker Hub, `localhost:5000`, `[::1]:5000` …). */
  readonly registry: string;
  /** The repository path in the registry (`library/busybox`, `org/app`). */
  readonly repository: string;
  /** The tag; `latest` when the reference had neither a tag nor a digest. */
  readonly tag: string | undefined;
  /** The digest, when pinned; pulls use it and ignore the tag. */
  readonly digest: Digest | undefined;
}

/** The registry of images with no registry in their name. */
export const DEFAULT_REGISTRY = 'docker.io';
/** The host that serves the registry API of `docker.io`. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** distribution/reference: RepositoryNameTotalLengthMax. */
export const MAX_REPOSITORY_LENGTH = 255;

// The grammar of distribution/reference/regexp.go, piece by piece.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const TAG_RE = new RegExp(`^${tagPat}$`);
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const PATH_COMPONENT_RE = new RegExp(`^${pathComponent}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

function fail(input: string, detail: string, suggestion?: string): never {
  throw new BuildImageError('REGISTRY_BAD_REFERENCE', `invalid reference format "${input}": ${detail}`, { suggestion });
}

/**
 * Splits a name into registry and remainder as Docker's splitDockerDomain does: the first
 * component is a registry when it is `localhost`, contains `.` or `:`, or has upper-case
 * letters; otherwise the registry is `docker.io`, and one-component names there get `library/`.
 */
function splitDockerDomain(name: string): { registry: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { registry: DEFAULT_REGISTRY, remainder: OFFICIAL_PREFIX + name };
  const maybeDomain = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let registry: string;
  let remainder: string;
  if (maybeDomain === 'localhost') [registry, remainder] = [maybeDomain, rest];
  else if (maybeDomain === LEGACY_DEFAULT_REGISTRY) [registry, remainder] = [DEFAULT_REGISTRY, rest];
  else if (/[.:]/.test(maybeDomain)) [registry, remainder] = [maybeDomain, rest];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [registry, remainder] = [maybeDomain, rest];
  else [registry, remainder] = [DEFAULT_REGISTRY, name];
  if (registry === DEFAULT_REGISTRY && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return { registry, remainder };
}

/** Explains why `input` (already normalised to `registry/remainder`) does not parse. */
function diagnose(input: string, registry: string, remainder: string): never {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    fail(input, 'a reference has no URL scheme', `write it without the scheme: ${input.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')}`);
  }
  let rest = remainder;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!DOMAIN_RE.test(registry)) fail(input, `invalid registry host "${registry}"`);
  const components = rest.split('/');
  for (const c of components) {
    if (c === '') fail(input, 'repository path has an empty component');
    if (!PATH_COMPONENT_RE.test(c)) {
      fail(
        input,
        `invalid repository path component "${c}": use lowercase letters and digits, separated by single ".", "_", "__" or dashes`,
      );
    }
  }
  if (tag !== undefined && !TAG_RE.test(tag)) {
    fail(input, `invalid tag "${tag}": a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }
  if (digest !== undefined) fail(input, `invalid digest "${digest}": expected sha256:<64 lowercase hex characters>`);
  fail(input, 'invalid reference format');
}

/**
 * Parses an image reference as `docker pull` does (ParseNormalizedNamed + TagNameOnly).
 * Throws `REGISTRY_BAD_REFERENCE` with the reason for malformed references.
 */
export function parseImageReference(input: string): ImageReference {
  if (input === '') fail(input, 'repository name must have at least one component');
  if (IDENTIFIER_RE.test(input)) fail(input, 'cannot specify 64-byte hexadecimal strings as a repository name');
  const { registry, remainder } = splitDockerDomain(input);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep === -1 ? remainder.split('@')[0]! : remainder.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) {
    fail(input, `repository name (${remote}) must be lowercase`, `write it in lowercase: ${remote.toLowerCase()}`);
  }
  const full = `${registry}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (m === null) diagnose(input, registry, remainder);
  const nameMatch = ANCHORED_NAME_RE.exec(m[1]!);
  if (nameMatch === null || nameMatch[1] === undefined) diagnose(input, registry, remainder);
  const repository = nameMatch[2]!;
  if (repository.length > MAX_REPOSITORY_LENGTH) {
    fail(input, `repository name must not be more than ${MAX_REPOSITORY_LENGTH} characters`);
  }
  const tag = m[2];
  const digestText = m[3];
  let digest: Digest | undefined;
  if (digestText !== undefined) digest = checkDigest(input, digestText);
  return {
    registry: nameMatch[1],
    repository,
    tag: tag ?? (digest === undefined ? DEFAULT_TAG : undefined),
    digest,
  };
}

/** Validates the digest of a reference as go-digest's Parse does (we support sha256 only). */
function checkDigest(input: string, text: string): Digest {
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon);
  const encoded = text.slice(colon + 1);
  if (algorithm !== 'sha256') {
    fail(input, `unsupported digest algorithm "${algorithm}" (only sha256 is supported)`);
  }
  if (encoded.length !== 64) fail(input, `invalid checksum digest length: "${text}" (sha256 has 64 hex characters)`);
  if (!/^[a-f0-9]{64}$/.test(encoded)) fail(input, `invalid checksum digest format: "${text}" (use lowercase hex)`);
  return text as Digest;
}

/** True when `input` parses as an image reference. */
export function isImageReference(input: string): boolean {
  try {
    parseImageReference(input);
    return true;
  } catch {
    return false;
  }
}

/** `registry/repository`, e.g. `docker.io/library/busybox`. */
export function referenceName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The fully qualified text: `docker.io/library/busybox:latest`, with `@digest` when pinned. */
export function formatReference(ref: ImageReference): string {
  return `${referenceName(ref)}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/** The short form Docker shows: `busybox:latest`, `org/app:1`, `ghcr.io/x/y:2`. */
export function familiarReference(ref: ImageReference): string {
  let name = referenceName(ref);
  if (ref.registry === DEFAULT_REGISTRY) {
    name = ref.repository;
    const rest = name.startsWith(OFFICIAL_PREFIX) ? name.slice(OFFICIAL_PREFIX.length) : undefined;
    if (rest !== undefined && !rest.includes('/')) name = rest;
  }
  return `${name}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/** The same reference with another tag (validated). */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!TAG_RE.test(tag)) fail(`${referenceName(ref)}:${tag}`, `invalid tag "${tag}"`);
  return { ...ref, tag };
}

/** The same repository pinned to a digest (the tag is kept for display). */
export function withDigest(ref: ImageReference, digest: Digest): ImageReference {
  return { ...ref, digest };
}

/** What to ask the registry for: the digest when pinned, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** The host[:port] that serves the registry API: `registry-1.docker.io` for `docker.io`. */
export function registryApiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_API_HOST : registry;
}

/** The host name of a registry without port or IPv6 brackets (`[::1]:5000` → `::1`). */
export function registryHostname(registry: string): string {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    return registry.slice(1, end === -1 ? undefined : end);
  }
  const colon = registry.lastIndexOf(':');
  return colon === -1 ? registry : registry.slice(0, colon);
}

/**
 * Whether a registry is insecure — HTTPS without certificate checks, or plain HTTP when it
 * does not speak TLS: only `localhost`, 127.0.0.0/8, `::1` (as Docker treats them) and the
 * registries listed with `--insecure-registry` (a `host[:port]`, or a host for every port).
 * Every other registry is HTTPS with verified certificates.
 */
export function isInsecureRegistry(registry: string, insecureRegistries: readonly string[] = []): boolean {
  const hostname = registryHostname(registry).toLowerCase();
  if (hostname === 'localhost' || hostname === '::1' || /^127(\.\d{1,3}){3}$/.test(hostname)) return true;
  return insecureRegistries.some((r) => {
    const entry = r.replace(/^https?:\/\//, '').replace(/\/+$/, '').toLowerCase();
    return entry === registry.toLowerCase() || entry === hostname;
  });
}
