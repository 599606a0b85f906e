/**
 * Content digests. build-image uses sha256 everywhere: a `Digest` is the string
 * `sha256:<64 lowercase hex>`, validated when it is made (like go-containerregistry's
 * `v1.NewHash`), so a value of this type is always well formed.
 */
import { createHash } from 'node:crypto';
import { BuildImageError } from '../errors.js';

declare const digestBrand: unique symbol;

/** `sha256:<64 lowercase hex>`; make one with `parseDigest`, `sha256Digest` or `hashStream`. */
export type Digest = string & { readonly [digestBrand]: true };

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** True when `value` is a well-formed sha256 digest. */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/**
 * Validates `value` as a digest. Throws `IMAGE_INVALID_DIGEST` for anything else (another
 * algorithm, upper-case hex, a wrong length).
 */
export function parseDigest(value: string): Digest {
  if (isDigest(value)) return value;
  const algo = value.includes(':') ? value.slice(0, value.indexOf(':')) : undefined;
  const why =
    algo !== undefined && algo !== 'sha256'
      ? `unsupported digest algorithm "${algo}" (only sha256 is supported)`
      : 'expected sha256:<64 lowercase hex characters>';
  throw new BuildImageError('IMAGE_INVALID_DIGEST', `invalid digest "${value}": ${why}`);
}

/** The 64 hex characters of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** The digest of a hex string (64 hex characters, no prefix). */
export function digestFromHex(hex: string): Digest {
  return parseDigest(`sha256:${hex}`);
}

/** sha256 of bytes (a string is taken as UTF-8). */
export function sha256Digest(data: Uint8Array | string): Digest;
/** sha256 of every byte of a stream. */
export function sha256Digest(data: AsyncIterable<Uint8Array>): Promise<Digest>;
export function sha256Digest(data: Uint8Array | string | AsyncIterable<Uint8Array>): Digest | Promise<Digest> {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
  }
  return hashStream(data).then((r) => r.digest);
}

/** sha256 and byte count of a stream, read to its end. */
export async function hashStream(stream: AsyncIterable<Uint8Array>): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hash.digest('hex')}` as Digest, size };
}

/** An incremental hasher: feed it chunks, then read the digest once. */
export class DigestHasher {
  private readonly hash = createHash('sha256');
  size = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}` as Digest;
  }
}
