/**
 * A client for one registry, speaking the OCI distribution API with the registry's
 * authentication: none, Basic, or the Docker token flow (`WWW-Authenticate: Bearer realm=…,
 * service=…, scope=…` → GET the realm with the scopes, Basic credentials when we have them →
 * a bearer token, cached per scope set until it expires).
 *
 * Like containerd and go-containerregistry, the client first pings `GET /v2/` to learn which
 * scheme the registry wants, so request bodies are not sent only to be refused. A 401 on a
 * later request (a token that expired or lacks a scope) refreshes the token once with the
 * scopes the new challenge names.
 */
import { BuildImageError } from '../errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { anonymousCredentials, type CredentialStore, type Credentials } from './credentials.js';
import { createTransport, type HttpResponse, type HttpTransport, type RequestBody } from './http.js';
import { isInsecureRegistry, registryApiHost } from './reference.js';

export interface RegistryRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path (`/v2/…`) on the registry, or an absolute URL it handed out (upload locations). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: RequestBody | undefined;
  readonly contentLength?: number | undefined;
  /** Scopes the request needs (`repository:library/busybox:pull`). */
  readonly scopes: readonly string[];
  /** What is being done, for error messages (`manifest busybox:latest`). */
  readonly what: string;
  readonly followRedirects?: boolean;
  readonly retry?: boolean;
  readonly signal?: AbortSignal | undefined;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Registry error bodies: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}`. */
export interface RegistryErrorEntry {
  readonly code?: string;
  readonly message?: string;
  readonly detail?: unknown;
}

/** Options shared by every registry a session talks to. */
export interface ClientOptions {
  readonly credentials?: CredentialStore;
  /** Registries (host[:port] or host) spoken to over plain HTTP besides localhost/loopback. */
  readonly insecureRegistries?: readonly string[];
  readonly transport?: HttpTransport;
  /** Current time in ms (tests). */
  readonly now?: () => number;
}

/** A token is renewed this long before it expires. */
const TOKEN_MARGIN_MS = 10_000;
/** distribution token spec: a token without expires_in lasts 60 s. */
const DEFAULT_TOKEN_SECONDS = 60;

export class RegistryClient {
  readonly registry: string;
  /**
   * True for localhost, loopback addresses and `--insecure-registry` hosts: as Docker does for
   * insecure registries, HTTPS is tried first without verifying the certificate, and plain
   * HTTP when the registry does not speak TLS.
   */
  readonly insecure: boolean;
  #baseUrl: URL;
  readonly #transport: HttpTransport;
  readonly #credentials: CredentialStore;
  readonly #now: () => number;
  #ping: Promise<Challenge | undefined> | undefined;
  /** The challenge in force: undefined = anonymous. */
  #challenge: Challenge | undefined;
  #creds: Promise<Credentials | undefined> | undefined;
  readonly #tokens = new Map<string, Promise<CachedToken>>();

  constructor(registry: string, options: ClientOptions = {}) {
    this.registry = registry;
    this.insecure = isInsecureRegistry(registry, options.insecureRegistries);
    this.#baseUrl = new URL(`https://${registryApiHost(registry)}`);
    this.#transport = options.transport ?? createTransport();
    this.#credentials = options.credentials ?? anonymousCredentials;
    this.#now = options.now ?? Date.now;
  }

  /** `https://registry-1.docker.io`, or `http://127.0.0.1:5000` once a ping found no TLS there. */
  get baseUrl(): URL {
    return this.#baseUrl;
  }

  /** True when the registry is spoken to over plain HTTP. */
  get plainHttp(): boolean {
    return this.#baseUrl.protocol === 'http:';
  }

  /** The credentials for this registry (looked up once). */
  credentials(): Promise<Credentials | undefined> {
    return (this.#creds ??= this.#credentials.get(this.registry));
  }

  /** Learns the registry's auth scheme from `GET /v2/` (once). */
  ping(): Promise<Challenge | undefined> {
    this.#ping ??= (async () => {
      const what = 'the registry API (/v2/)';
      let url = new URL('/v2/', this.#baseUrl);
      let res: HttpResponse | undefined;
      if (this.insecure && this.#baseUrl.protocol === 'https:') {
        try {
          res = await this.#send({ method: 'GET', path: url.href, scopes: [], what, retry: false }, url, undefined);
        } catch (err) {
          if (!(err instanceof BuildImageError) || err.code !== 'REGISTRY_UNREACHABLE') throw err;
          this.#baseUrl = new URL(`http://${registryApiHost(this.registry)}`);
          url = new URL('/v2/', this.#baseUrl);
        }
      }
      res ??= await this.#send({ method: 'GET', path: url.href, scopes: [], what }, url, undefined);
      res.discard();
      if (res.status === 401) {
        this.#challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
        return this.#challenge;
      }
      if (res.status >= 200 && res.status < 300) return undefined;
      throw new BuildImageError(
        'REGISTRY_HTTP_ERROR',
        `${this.registry} does not look like a container registry: GET ${url.href} answered ${res.status} ${res.statusText}`,
      );
    })();
    this.#ping.catch(() => {
      this.#ping = undefined;
    });
    return this.#ping;
  }

  /**
   * Sends a request with the right Authorization, re-authenticating once on a 401. Returns
   * every response but 401 (which throws REGISTRY_UNAUTHORIZED): callers check the status.
   */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    await this.ping();
    const url = new URL(req.path, this.baseUrl);
    let auth = await this.#authorization(req.scopes, false);
    let res = await this.#send(req, url, auth);
    if (res.status !== 401) return res;
    const challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
    const body = await res.text().catch(() => '');
    const bodyRetriable = req.body === undefined || req.body instanceof Uint8Array || typeof req.body === 'function';
    if (challenge !== undefined && bodyRetriable) {
      this.#challenge = challenge;
      const extra = challenge.params['scope'];
      const scopes = extra && !req.scopes.includes(extra) ? [...req.scopes, extra] : req.scopes;
      const again = await this.#authorization(scopes, true);
      // Sending the same Basic credentials (or none) again cannot change the answer.
      if (again === auth && challenge.scheme !== 'bearer') throw await this.#unauthorized(req, url, res, body);
      auth = again;
      res = await this.#send(req, url, auth);
      if (res.status !== 401) return res;
      throw await this.#unauthorized(req, url, res, await res.text().catch(() => ''));
    }
    throw await this.#unauthorized(req, url, res, body);
  }

  #send(req: RegistryRequest, url: URL, authorization: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers };
    if (authorization !== undefined) headers['Authorization'] = authorization;
    return this.#transport
      .request({
        method: req.method,
        url,
        headers,
        body: req.body,
        contentLength: req.contentLength,
        followRedirects: req.followRedirects,
        retry: req.retry,
        signal: req.signal,
        insecureTls: this.insecure,
      })
      .catch((err: unknown) => {
        if (err instanceof BuildImageError) throw err;
        throw unreachable(this.registry, url, err);
      });
  }

  async #unauthorized(req: RegistryRequest, url: URL, res: HttpResponse, body: string): Promise<BuildImageError> {
    const creds = await this.credentials();
    const detail = errorSummary(body);
    return new BuildImageError(
      'REGISTRY_UNAUTHORIZED',
      `registry ${this.registry} answered 401 Unauthorized to ${req.method} ${url.pathname} (${req.what})` +
        (detail ? `: ${detail}` : '') +
        (creds === undefined ? '; no credentials were found for it' : '; the credentials for it were refused'),
      {
        suggestion:
          creds === undefined
            ? `log in with \`docker login ${this.registry}\`, or add an "auths" entry for ${this.registry} to $DOCKER_CONFIG/config.json (default ~/.docker/config.json)`
            : `check the credentials for ${this.registry} in your docker config (or log in again with \`docker login ${this.registry}\`)`,
      },
    );
  }

  async #authorization(scopes: readonly string[], refresh: boolean): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (challenge === undefined) return undefined;
    const creds = await this.credentials();
    if (challenge.scheme === 'basic') {
      if (creds?.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer') {
      throw new BuildImageError(
        'REGISTRY_AUTH_FAILED',
        `registry ${this.registry} asks for "${challenge.scheme}" authentication, which build-image does not support (only Basic and Bearer)`,
      );
    }
    if (creds?.registryToken !== undefined) return `Bearer ${creds.registryToken}`;
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.#tokens.get(key);
    if (cached !== undefined && !refresh) {
      const t = await cached.catch(() => undefined);
      if (t !== undefined && t.expiresAt - TOKEN_MARGIN_MS > this.#now()) return `Bearer ${t.token}`;
    }
    const fetching = this.#fetchToken(challenge, [...new Set(scopes)].sort(), creds);
    this.#tokens.set(key, fetching);
    fetching.catch(() => this.#tokens.delete(key));
    return `Bearer ${(await fetching).token}`;
  }

  async #fetchToken(challenge: Challenge, scopes: readonly string[], creds: Credentials | undefined): Promise<CachedToken> {
    const realmText = challenge.params['realm'];
    if (!realmText) {
      throw new BuildImageError('REGISTRY_AUTH_FAILED', `registry ${this.registry} sent a Bearer challenge without a realm`);
    }
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new BuildImageError('REGISTRY_AUTH_FAILED', `registry ${this.registry} sent an invalid token realm "${realmText}"`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.insecure)) {
      throw new BuildImageError(
        'REGISTRY_AUTH_FAILED',
        `registry ${this.registry} sent token realm ${realm.href}; only https realms are accepted for a registry reached over https`,
      );
    }
    const service = challenge.params['service'];
    const started = this.#now();
    let res: HttpResponse;
    if (creds?.identityToken !== undefined) {
      // OAuth2 refresh-token grant (docker login with an identity token).
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.identityToken);
      form.set('client_id', 'build-image');
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.#tokenRequest(realm, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) {
        url.searchParams.set('account', creds.username);
        headers['Authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      }
      res = await this.#tokenRequest(url, { method: 'GET', headers });
    }
    const text = await res.text().catch(() => '');
    if (res.status === 401 || res.status === 403) {
      throw new BuildImageError(
        'REGISTRY_UNAUTHORIZED',
        `registry ${this.registry}: token server ${realm.origin}${realm.pathname} answered ${res.status} ${res.statusText} for ${scopes.join(' ') || 'the registry'}` +
          (errorSummary(text) ? `: ${errorSummary(text)}` : '') +
          (creds === undefined ? '; no credentials were found for it' : '; the credentials for it were refused'),
        {
          suggestion:
            creds === undefined
              ? `log in with \`docker login ${this.registry}\`, or add an "auths" entry for ${this.registry} to $DOCKER_CONFIG/config.json (default ~/.docker/config.json)`
              : `check the credentials for ${this.registry} in your docker config`,
        },
      );
    }
    if (res.status !== 200) {
      throw new BuildImageError(
        'REGISTRY_AUTH_FAILED',
        `registry ${this.registry}: token server ${realm.origin}${realm.pathname} answered ${res.status} ${res.statusText}` +
          (errorSummary(text) ? `: ${errorSummary(text)}` : ''),
      );
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new BuildImageError('REGISTRY_AUTH_FAILED', `registry ${this.registry}: token server ${realm.origin}${realm.pathname} answered something that is not JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new BuildImageError('REGISTRY_AUTH_FAILED', `registry ${this.registry}: token server ${realm.origin}${realm.pathname} answered without a token`);
    }
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    return { token, expiresAt: started + seconds * 1000 };
  }

  #tokenRequest(url: URL, init: { method: string; headers: Record<string, string>; body?: Uint8Array }): Promise<HttpResponse> {
    return this.#transport.request({ url, ...init, insecureTls: this.insecure }).catch((err: unknown) => {
      if (err instanceof BuildImageError) throw err;
      throw unreachable(this.registry, url, err, 'token server');
    });
  }
}

/** Bearer over Basic over anything else, as Docker prefers it. */
function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? challenges[0];
}

function unreachable(registry: string, url: URL, err: unknown, what = 'registry'): BuildImageError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
  return new BuildImageError('REGISTRY_UNREACHABLE', `cannot reach ${what === 'registry' ? 'registry ' + registry : `the token server of ${registry}`} at ${url.origin}: ${reason}`, {
    cause: err,
    suggestion:
      url.protocol === 'https:' && /EPROTO|wrong version number|SSL/i.test(reason)
        ? `if ${registry} serves plain HTTP, pass --insecure-registry ${registry}`
        : undefined,
  });
}

/** The registry errors of a response body, or []. */
export function parseRegistryErrors(body: string): RegistryErrorEntry[] {
  try {
    const doc = JSON.parse(body) as { errors?: unknown };
    return Array.isArray(doc.errors) ? (doc.errors as RegistryErrorEntry[]) : [];
  } catch {
    return [];
  }
}

/** `MANIFEST_UNKNOWN: manifest unknown` style summary of an error body (or its start). */
export function errorSummary(body: string): string {
  const errors = parseRegistryErrors(body);
  if (errors.length === 0) {
    // Token servers answer {"details": …} (Docker) or OAuth2's {"error", "error_description"}.
    try {
      const doc = JSON.parse(body) as Record<string, unknown>;
      for (const k of ['details', 'error_description', 'error', 'message']) {
        if (typeof doc[k] === 'string' && doc[k] !== '') return doc[k];
      }
    } catch {
      // not JSON
    }
  }
  if (errors.length > 0) {
    return errors
      .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x !== '').join(': '))
      .filter((s) => s !== '')
      .join('; ');
  }
  const t = body.trim();
  if (t === '' || t.startsWith('<')) return '';
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/**
 * Turns an unexpected response into a BuildImageError: REGISTRY_NOT_FOUND for 404 (and the
 * *_UNKNOWN codes), REGISTRY_DENIED for 403, REGISTRY_HTTP_ERROR otherwise.
 */
export async function responseError(registry: string, res: HttpResponse, method: string, what: string): Promise<BuildImageError> {
  const body = method === 'HEAD' ? '' : await res.text().catch(() => '');
  const detail = errorSummary(body);
  const codes = parseRegistryErrors(body).map((e) => e.code);
  const where = `${method} ${res.url.pathname}`;
  if (res.status === 404 || codes.some((c) => c === 'MANIFEST_UNKNOWN' || c === 'NAME_UNKNOWN' || c === 'BLOB_UNKNOWN')) {
    return new BuildImageError('REGISTRY_NOT_FOUND', `${what}: not found in registry ${registry} (${res.status} ${res.statusText} to ${where}${detail ? `: ${detail}` : ''})`);
  }
  if (res.status === 403) {
    return new BuildImageError('REGISTRY_DENIED', `registry ${registry} answered 403 Forbidden to ${where} (${what})${detail ? `: ${detail}` : ''}`, {
      suggestion: `the credentials for ${registry} do not allow this; check the account's access to the repository`,
    });
  }
  return new BuildImageError('REGISTRY_HTTP_ERROR', `registry ${registry} answered ${res.status} ${res.statusText} to ${where} (${what})${detail ? `: ${detail}` : ''}`);
}
