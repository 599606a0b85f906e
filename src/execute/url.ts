/**
 * ADD <url>: the download, as BuildKit's HTTP source does it (source/http/source.go): the file
 * is named after the last element of the URL path (`__unnamed__` when there is none), gets mode
 * 0600, the Last-Modified time (or 1970-01-01), root ownership, and is never unpacked. With
 * `--checksum` the sha256 of the body must match.
 *
 * The body is streamed to a temp file (never held in memory) and hashed on the way.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildImageError } from '../errors.js';
import type { Digest } from '../image/digest.js';

export interface UrlResponse {
  readonly body: Readable;
  /** The Last-Modified header, if any. */
  readonly lastModified?: string | undefined;
}

/** Fetches a URL (following redirects); fails for statuses other than 2xx. */
export type UrlFetcher = (url: string, options: { signal?: AbortSignal | undefined }) => Promise<UrlResponse>;

const MAX_REDIRECTS = 10;

/** The default fetcher: node:http / node:https. */
export const httpFetcher: UrlFetcher = (url, options) => fetchFollowing(url, options.signal, 0);

function fetchFollowing(url: string, signal: AbortSignal | undefined, redirects: number): Promise<UrlResponse> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      reject(new BuildImageError('EXEC_URL_INVALID', `invalid URL ${JSON.stringify(url)}`, { cause }));
      return;
    }
    const mod = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (mod === undefined) {
      reject(new BuildImageError('EXEC_URL_INVALID', `unsupported URL scheme in ${url}: only http and https can be downloaded`));
      return;
    }
    const req = mod.get(parsed, { signal, headers: { 'user-agent': 'build-image' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new BuildImageError('EXEC_URL_FAILED', `${url}: stopped after ${MAX_REDIRECTS} redirects`));
          return;
        }
        fetchFollowing(new URL(res.headers.location, parsed).toString(), signal, redirects + 1).then(resolve, reject);
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        reject(new BuildImageError('EXEC_URL_FAILED', `invalid response status ${status} downloading ${url}`));
        return;
      }
      const lm = res.headers['last-modified'];
      resolve({ body: res, lastModified: typeof lm === 'string' ? lm : undefined });
    });
    req.on('error', (cause) => {
      if (signal?.aborted) reject(signal.reason);
      else reject(new BuildImageError('EXEC_URL_FAILED', `cannot download ${url}: ${cause.message}`, { cause }));
    });
  });
}

/** BuildKit's file name for a URL: `path.Base(u.Path)`, or `__unnamed__`. */
export function urlFileName(url: string): string {
  let path: string;
  try {
    const u = new URL(url);
    try {
      path = decodeURIComponent(u.pathname);
    } catch {
      path = u.pathname;
    }
  } catch {
    return '__unnamed__';
  }
  const trimmed = path.replace(/\/+$/, '');
  const base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return base === '' || base === '.' ? '__unnamed__' : base;
}

/** An HTTP date (RFC 1123/850/asctime) in seconds, or 0 (BuildKit's default) when absent or invalid. */
export function httpTime(value: string | undefined): number {
  if (value === undefined) return 0;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

export interface Downloaded {
  /** The temp file holding the body. */
  readonly file: string;
  readonly name: string;
  readonly size: number;
  readonly digest: Digest;
  /** Seconds since the epoch. */
  readonly mtime: number;
}

/** Downloads `url` into `dir` (a fresh temp directory), verifying `checksum` when given. */
export async function downloadUrl(
  url: string,
  dir: string,
  options: { fetcher?: UrlFetcher | undefined; checksum?: Digest | undefined; signal?: AbortSignal | undefined },
): Promise<Downloaded> {
  const fetcher = options.fetcher ?? httpFetcher;
  const res = await fetcher(url, { signal: options.signal });
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const file = join(dir, 'download');
  try {
    await pipeline(res.body, tap, createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
  } catch (cause) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new BuildImageError('EXEC_URL_FAILED', `cannot download ${url}: ${(cause as Error).message}`, { cause });
  }
  const digest = `sha256:${hash.digest('hex')}` as Digest;
  if (options.checksum !== undefined && digest !== options.checksum) {
    throw new BuildImageError('EXEC_URL_CHECKSUM', `digest mismatch for ${url}: ${digest} (expected: ${options.checksum})`);
  }
  return { file, name: urlFileName(url), size, digest, mtime: httpTime(res.lastModified) };
}
