/**
 * A registry session: what one build shares while it talks to registries — one client per
 * registry (so tokens and pings are reused), one HTTP transport (keep-alive), a limit on
 * parallel blob transfers, the tags resolved so far, the blob downloads in flight (so a blob
 * two stages need is fetched once) and where each blob was seen (for cross-repository mounts).
 */
import { RegistryClient, type ClientOptions } from './client.js';
import { dockerConfigCredentials, type CredentialStore } from './credentials.js';
import { createTransport, type HttpTransport, type TransportOptions } from './http.js';
import { limiter } from '../limiter.js';

/** Something that happened, for progress output. */
export type RegistryEvent =
  | { readonly type: 'resolve'; readonly reference: string; readonly digest: string; readonly cached: boolean }
  | { readonly type: 'blob-fetch'; readonly digest: string; readonly size: number }
  | { readonly type: 'blob-fetched'; readonly digest: string; readonly size: number }
  | { readonly type: 'blob-resume'; readonly digest: string; readonly offset: number; readonly reason: string }
  | { readonly type: 'blob-exists'; readonly digest: string; readonly repository: string }
  | { readonly type: 'blob-mounted'; readonly digest: string; readonly from: string }
  | { readonly type: 'blob-upload'; readonly digest: string; readonly size: number; readonly chunked: boolean }
  | { readonly type: 'blob-uploaded'; readonly digest: string }
  | { readonly type: 'manifest-pushed'; readonly reference: string; readonly digest: string }
  | { readonly type: 'retry'; readonly url: string; readonly attempt: number; readonly delayMs: number; readonly reason: string };

export interface SessionOptions {
  /** Where credentials come from; default the Docker config (`dockerConfigCredentials()`). */
  readonly credentials?: CredentialStore;
  /** `--insecure-registry` hosts: plain HTTP besides localhost and loopback addresses. */
  readonly insecureRegistries?: readonly string[];
  /** Parallel blob transfers (default 4). */
  readonly concurrency?: number;
  /** A transport to use (tests); otherwise one is made from `http`. */
  readonly transport?: HttpTransport;
  readonly http?: TransportOptions;
  readonly onEvent?: (event: RegistryEvent) => void;
  /** Current time in ms (tests). */
  readonly now?: () => number;
}


export class RegistrySession {
  readonly options: SessionOptions;
  readonly transport: HttpTransport;
  /** Runs a blob transfer within the concurrency limit. */
  readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Resolutions made in this session, by reference and platform. */
  readonly resolutions = new Map<string, Promise<unknown>>();
  /** Blob downloads in flight, by store root and digest. */
  readonly downloads = new Map<string, Promise<void>>();
  /** Repositories (`registry/repo`) where a blob was seen. */
  readonly blobSources = new Map<string, Set<string>>();
  readonly #clients = new Map<string, RegistryClient>();
  readonly #ownsTransport: boolean;

  constructor(options: SessionOptions = {}) {
    this.options = options;
    this.#ownsTransport = options.transport === undefined;
    this.transport =
      options.transport ??
      createTransport({
        userAgent: 'build-image',
        ...options.http,
        onRetry: (info) => {
          options.http?.onRetry?.(info);
          options.onEvent?.({ type: 'retry', url: info.url.href, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason });
        },
      });
    this.limit = limiter(Math.max(1, options.concurrency ?? 4));
  }

  /** The client of a registry (`docker.io`, `localhost:5000` …), made once. */
  client(registry: string): RegistryClient {
    let c = this.#clients.get(registry);
    if (c === undefined) {
      const opts: ClientOptions = {
        credentials: this.options.credentials ?? dockerConfigCredentials(),
        insecureRegistries: this.options.insecureRegistries ?? [],
        transport: this.transport,
        ...(this.options.now ? { now: this.options.now } : {}),
      };
      c = new RegistryClient(registry, opts);
      this.#clients.set(registry, c);
    }
    return c;
  }

  emit(event: RegistryEvent): void {
    this.options.onEvent?.(event);
  }

  /** Records that `digest` exists in `registry/repository`. */
  noteBlobSource(registry: string, repository: string, digest: string): void {
    let s = this.blobSources.get(digest);
    if (s === undefined) this.blobSources.set(digest, (s = new Set()));
    s.add(`${registry}/${repository}`);
  }

  /** Closes idle connections (only of a transport the session made). */
  close(): void {
    if (this.#ownsTransport) this.transport.close();
  }
}

/** A session with the given options. Close it when the build ends. */
export function createRegistrySession(options: SessionOptions = {}): RegistrySession {
  return new RegistrySession(options);
}
