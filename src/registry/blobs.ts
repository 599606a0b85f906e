/**
 * Downloading blobs into the store: streamed, hashed while they stream (the store's putBlob
 * checks the digest and keeps nothing on a mismatch), skipped when already stored, shared
 * between concurrent callers, and resumed after a dropped connection — with
 * `Range: bytes=<received>-` where the server honours it (206), otherwise by re-reading from
 * the start and skipping what was already received.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { BuildImageError } from '../errors.js';
import { digestHex, type Digest } from '../image/digest.js';
import { canonicalJsonBytes } from '../image/json.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Store } from '../store/store.js';
import { repositoryScope } from './challenge.js';
import { responseError } from './client.js';
import { backoffDelay, DEFAULT_RETRY, isRetryableNetworkError } from './http.js';
import type { RegistrySession } from './session.js';

export interface BlobTarget {
  readonly registry: string;
  readonly repository: string;
  readonly digest: Digest;
  readonly size: number;
  /** For error messages (`layer`, `config` …). */
  readonly kind?: string;
}

/** How many times a blob transfer is resumed after its connection breaks. */
const MAX_RESUMES = 6;

function parseContentRangeStart(value: string | undefined): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The blob's bytes as one stream, however many requests it takes. */
function blobStream(session: RegistrySession, t: BlobTarget): Readable {
  const client = session.client(t.registry);
  const what = `${t.kind ?? 'blob'} ${t.digest} of ${t.registry}/${t.repository}`;
  const path = `/v2/${t.repository}/blobs/${t.digest}`;
  const retry = { ...DEFAULT_RETRY, ...session.options.http?.retry };
  const sleep = session.options.http?.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  async function* bytes(): AsyncGenerator<Buffer> {
    let received = 0;
    for (let resumes = 0; ; resumes++) {
      const headers: Record<string, string> = received > 0 ? { Range: `bytes=${received}-` } : {};
      const res = await client.request({
        method: 'GET',
        path,
        headers,
        scopes: [repositoryScope(t.repository, ['pull'])],
        what,
      });
      let skip = 0;
      if (res.status === 206 && received > 0 && parseContentRangeStart(res.header('content-range')) === received) {
        skip = 0;
      } else if (res.status === 200) {
        skip = received; // the server ignored Range: skip what we already have
      } else {
        throw await responseError(t.registry, res, 'GET', what);
      }
      const length = Number(res.header('content-length') ?? Number.NaN);
      const start = received;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            const n = Math.min(skip, c.length);
            skip -= n;
            c = c.subarray(n);
            if (c.length === 0) continue;
          }
          received += c.length;
          yield c;
        }
        if (skip > 0) throw Object.assign(new Error('connection closed before the resume point'), { code: 'ECONNRESET' });
        // Go's net/http reports a body shorter than its Content-Length as an error; node ends
        // the stream quietly when the server closes early, so check the length ourselves.
        const got = received - start + (res.status === 200 ? start : 0);
        if (Number.isFinite(length) && got < length) {
          throw Object.assign(new Error(`connection closed after ${received} of ${t.size} bytes`), { code: 'ECONNRESET' });
        }
        return;
      } catch (err) {
        res.body.destroy();
        if (!isRetryableNetworkError(err) || resumes >= MAX_RESUMES) {
          throw new BuildImageError('REGISTRY_BLOB_INTERRUPTED', `downloading ${what} failed after ${received} of ${t.size} bytes: ${(err as Error).message}`, { cause: err });
        }
        session.emit({ type: 'blob-resume', digest: t.digest, offset: received, reason: (err as Error).message });
        await sleep(backoffDelay(retry, resumes));
      }
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

/**
 * Makes sure the store has a blob, downloading it when missing. A blob is fetched at most
 * once at a time per store; content that does not match the digest fails with
 * REGISTRY_DIGEST_MISMATCH naming the blob, and leaves nothing in the store.
 */
export async function fetchBlob(session: RegistrySession, store: Store, t: BlobTarget): Promise<void> {
  if (await store.hasBlob(t.digest, t.size)) return;
  const key = `${store.root}\0${t.digest}`;
  let running = session.downloads.get(key);
  if (running === undefined) {
    running = session.limit(async () => {
      if (await store.hasBlob(t.digest, t.size)) return;
      session.emit({ type: 'blob-fetch', digest: t.digest, size: t.size });
      try {
        await store.putBlob(blobStream(session, t), { digest: t.digest, size: t.size });
      } catch (err) {
        if (err instanceof BuildImageError && err.code === 'STORE_DIGEST_MISMATCH') {
          throw new BuildImageError(
            'REGISTRY_DIGEST_MISMATCH',
            `${t.kind ?? 'blob'} ${t.digest} from ${t.registry}/${t.repository} does not match its digest: ${err.message.replace(/^blob [^:]+:[0-9a-f]+: /, '')}; nothing was stored`,
            { cause: err },
          );
        }
        throw err;
      }
      session.noteBlobSource(t.registry, t.repository, t.digest);
      session.emit({ type: 'blob-fetched', digest: t.digest, size: t.size });
    });
    session.downloads.set(key, running);
    running.then(
      () => session.downloads.delete(key),
      () => session.downloads.delete(key),
    );
  }
  return running;
}

async function blobSourcesPath(store: Store, digest: Digest): Promise<string> {
  return join(await store.stateDir('registry-sources'), `${digestHex(digest)}.json`);
}

/** Repositories (`registry/repo`) a blob is known to exist in, from the session and the store. */
export async function knownSources(session: RegistrySession, store: Store | undefined, digest: Digest): Promise<string[]> {
  const out = new Set(session.blobSources.get(digest) ?? []);
  if (store !== undefined) {
    try {
      for (const s of JSON.parse(await readFile(await blobSourcesPath(store, digest), 'utf8')) as string[]) out.add(s);
    } catch {
      // none recorded
    }
  }
  return [...out];
}

/** Remembers in the store where blobs were seen (called after pulls and pushes). */
export async function recordBlobSources(session: RegistrySession, store: Store, digests: readonly Digest[]): Promise<void> {
  for (const digest of digests) {
    const path = await blobSourcesPath(store, digest);
    const recorded = await readFile(path).catch(() => undefined);
    const sources = await knownSources(session, store, digest);
    if (sources.length === 0) continue;
    const bytes = canonicalJsonBytes(sources.sort());
    // Written only when something new was learnt (a no-op build writes nothing).
    if (recorded === undefined || !recorded.equals(bytes)) await writeFileAtomic(path, bytes);
  }
}
