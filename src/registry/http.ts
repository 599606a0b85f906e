/**
 * The HTTP layer under the registry client: node:http/https with keep-alive, streaming bodies
 * both ways, redirects (dropping credentials when the host changes, as Go's net/http does),
 * and retries with exponential backoff on connection errors, 5xx and 429 (honouring
 * `Retry-After`). A request body is retried only when it can be produced again (bytes or an
 * opener).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { BuildImageError } from '../errors.js';

/** A request body: bytes, or an opener called for every attempt. */
export type RequestBody = Uint8Array | (() => Readable | Promise<Readable>);

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody | undefined;
  /** Length of an opener body (sent as Content-Length; chunked encoding otherwise). */
  readonly contentLength?: number | undefined;
  /** Follow redirects (default true). */
  readonly followRedirects?: boolean;
  /** Retry on 5xx/429/connection errors (default true). */
  readonly retry?: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Accept any TLS certificate (insecure registries). */
  readonly insecureTls?: boolean | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  readonly url: URL;
  /** The body stream; read it, or call `discard()`. */
  readonly body: IncomingMessage;
  text(): Promise<string>;
  bytes(): Promise<Buffer>;
  discard(): void;
  header(name: string): string | undefined;
}

export interface RetryPolicy {
  /** Total attempts, the first included (default 5). */
  readonly attempts: number;
  /** First backoff delay in ms, doubled each time (default 200). */
  readonly baseDelayMs: number;
  /** Longest backoff delay in ms (default 10 s). */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

export interface TransportOptions {
  readonly retry?: Partial<RetryPolicy>;
  /** Socket inactivity timeout in ms (default 60 s); a stalled transfer fails and is retried. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Waits between retries (tests pass a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each retry, for logging/progress. */
  readonly onRetry?: (info: { url: URL; attempt: number; delayMs: number; reason: string }) => void;
  /** Accept any TLS certificate on every request (per request: `HttpRequest.insecureTls`). */
  readonly insecureTls?: boolean;
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'HPE_INVALID_CONSTANT',
]);

/** True for network failures worth retrying (reset, refused, timeout, premature close …). */
export function isRetryableNetworkError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.code !== undefined && RETRYABLE_CODES.has(e.code)) return true;
  return e.message === 'socket hang up' || e.message === 'aborted' || /timed out/.test(e.message ?? '');
}

/** True for statuses worth retrying: 408, 429 and 5xx except 501/505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** The backoff before attempt `attempt + 1` (0-based `attempt` just failed), without jitter. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
}

/** `Retry-After` in ms (seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

async function readBody(body: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function wrap(res: IncomingMessage, url: URL): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? http.STATUS_CODES[res.statusCode ?? 0] ?? '',
    headers: res.headers,
    url,
    body: res,
    bytes: () => readBody(res),
    text: async () => (await readBody(res)).toString('utf8'),
    discard: () => {
      res.resume();
    },
    header(name: string) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Creates a transport (one per build; it keeps connections alive). */
export function createTransport(options: TransportOptions = {}): HttpTransport {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? 60_000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: !options.insecureTls });
  const insecureAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
  const userAgent = options.userAgent ?? 'build-image';

  function once(req: HttpRequest, url: URL, headers: Record<string, string>, body: Uint8Array | Readable | undefined): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      const h: Record<string, string> = { 'User-Agent': userAgent, ...headers };
      if (body instanceof Uint8Array) h['Content-Length'] = String(body.byteLength);
      else if (body !== undefined && req.contentLength !== undefined) h['Content-Length'] = String(req.contentLength);
      else if (body === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')) h['Content-Length'] = '0';
      const r = (isHttps ? https : http).request(url, {
        method: req.method,
        headers: h,
        agent: isHttps ? (req.insecureTls ? insecureAgent : httpsAgent) : httpAgent,
        signal: req.signal,
      });
      r.setTimeout(timeoutMs, () => {
        const err = new Error(`request to ${url.host} timed out after ${timeoutMs} ms of inactivity`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        r.destroy(err);
      });
      // The request's socket timer also covers a response body that stalls: the socket is
      // destroyed and the body stream fails (which blob downloads resume from).
      r.on('response', resolve);
      r.on('error', reject);
      if (body === undefined) r.end();
      else if (body instanceof Uint8Array) r.end(body);
      else {
        body.on('error', (err) => r.destroy(err));
        r.on('error', () => body.destroy());
        body.pipe(r);
      }
    });
  }

  async function attempt(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let headers: Record<string, string> = { ...req.headers };
    let body = req.body;
    let insecureTls = req.insecureTls;
    for (let hop = 0; ; hop++) {
      const payload = body === undefined || body instanceof Uint8Array ? body : await body();
      const res = await once({ ...req, method, insecureTls }, url, headers, payload);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (req.followRedirects === false || !REDIRECTS.has(status) || location === undefined) return wrap(res, url);
      res.resume();
      if (hop >= 10) throw new BuildImageError('REGISTRY_HTTP_ERROR', `stopped after 10 redirects from ${req.url.href}`);
      const next = new URL(location, url);
      if (next.host !== url.host || next.protocol !== url.protocol) {
        // Never send registry credentials to another host (blob storage, CDN), and verify
        // its certificate even when the registry's is not.
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
        insecureTls = false;
      }
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const canRetry = req.retry !== false && (req.body === undefined || req.body instanceof Uint8Array || typeof req.body === 'function');
      for (let i = 0; ; i++) {
        const last = !canRetry || i + 1 >= policy.attempts;
        let res: HttpResponse;
        try {
          res = await attempt(req);
        } catch (err) {
          if (err instanceof BuildImageError || last || !isRetryableNetworkError(err) || req.signal?.aborted) throw err;
          const ms = backoffDelay(policy, i);
          options.onRetry?.({ url: req.url, attempt: i + 1, delayMs: ms, reason: (err as Error).message });
          await sleep(ms);
          continue;
        }
        if (last || !isRetryableStatus(res.status)) return res;
        res.discard();
        const ms = Math.min(policy.maxDelayMs, retryAfterMs(res.header('retry-after')) ?? backoffDelay(policy, i));
        options.onRetry?.({ url: req.url, attempt: i + 1, delayMs: ms, reason: `${res.status} ${res.statusText}` });
        await sleep(ms);
      }
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
      insecureAgent.destroy();
    },
  };
}
