/**
 * The HTTP transport and the registry client against small in-process servers: retries and
 * backoff, redirects, and the authentication flows in detail (token caching and expiry,
 * identity tokens, registry tokens, scope upgrades).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { fetchBlob } from '../../src/registry/blobs.js';
import { RegistryClient } from '../../src/registry/client.js';
import { anonymousCredentials, staticCredentials } from '../../src/registry/credentials.js';
import { createRegistrySession, type RegistryEvent } from '../../src/registry/session.js';
import { openStore } from '../../src/store/store.js';
import {
  backoffDelay,
  createTransport,
  DEFAULT_RETRY,
  isRetryableNetworkError,
  isRetryableStatus,
  retryAfterMs,
  type HttpTransport,
} from '../../src/registry/http.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: http.Server[] = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

async function serve(handler: Handler): Promise<{ host: string; port: number; requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] }> {
  const requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, port, requests };
}

function transport(delays: number[] = []): HttpTransport {
  const t = createTransport({ sleep: async (ms) => void delays.push(ms) });
  transports.push(t);
  return t;
}

describe('retry policy helpers', () => {
  it.each([
    [200, false],
    [404, false],
    [408, true],
    [429, true],
    [500, true],
    [501, false],
    [502, true],
    [503, true],
    [505, false],
  ])('isRetryableStatus(%i) = %s', (status, expected) => expect(isRetryableStatus(status)).toBe(expected));

  it('backs off exponentially up to the maximum', () => {
    expect([0, 1, 2, 3, 10].map((i) => backoffDelay(DEFAULT_RETRY, i))).toEqual([200, 400, 800, 1600, 10_000]);
  });

  it.each([
    ['3', 3000],
    ['0', 0],
    ['Thu, 01 Jan 1970 00:00:05 GMT', 5000],
    ['soon', undefined],
    [undefined, undefined],
  ])('retryAfterMs(%s) = %s', (value, ms) => expect(retryAfterMs(value, 0)).toBe(ms));

  it.each([
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    [new Error('socket hang up'), true],
    [new Error('aborted'), true],
    [new Error('something else'), false],
    [undefined, false],
  ])('isRetryableNetworkError(%s) = %s', (err, expected) => expect(isRetryableNetworkError(err)).toBe(expected));
});

describe('transport', () => {
  it('retries 5xx and 429 with backoff, honouring Retry-After', async () => {
    let n = 0;
    const s = await serve((_req, res) => {
      n++;
      if (n === 1) res.writeHead(503).end();
      else if (n === 2) res.writeHead(429, { 'Retry-After': '2' }).end();
      else res.writeHead(200).end('ok');
    });
    const delays: number[] = [];
    const res = await transport(delays).request({ method: 'GET', url: new URL(`http://${s.host}/x`) });
    expect([res.status, await res.text(), delays]).toEqual([200, 'ok', [200, 2000]]);
  });

  it('returns the last response when retries run out, and never retries 404', async () => {
    const s = await serve((req, res) => res.writeHead(req.url === '/missing' ? 404 : 502).end());
    const delays: number[] = [];
    const t = transport(delays);
    const bad = await t.request({ method: 'GET', url: new URL(`http://${s.host}/bad`) });
    bad.discard();
    expect([bad.status, delays]).toEqual([502, [200, 400, 800, 1600]]);
    const missing = await t.request({ method: 'GET', url: new URL(`http://${s.host}/missing`) });
    missing.discard();
    expect(missing.status).toBe(404);
    expect(s.requests.map((r) => r.url)).toEqual(['/bad', '/bad', '/bad', '/bad', '/bad', '/missing']);
  });

  it('retries a reset connection, re-opening the body', async () => {
    let n = 0;
    const s = await serve((req, res) => {
      if (++n === 1) req.socket.destroy();
      else res.writeHead(201).end();
    });
    let opened = 0;
    const res = await transport().request({
      method: 'PUT',
      url: new URL(`http://${s.host}/upload`),
      body: () => {
        opened++;
        return Readable.from([Buffer.from('payload')]);
      },
      contentLength: 7,
    });
    expect([res.status, opened, s.requests.map((r) => r.body)]).toEqual([201, 2, ['payload', 'payload']]);
  });

  it('fails a response body that stalls, with a retryable error', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('abc');
    });
    const t = createTransport({ timeoutMs: 200 });
    transports.push(t);
    const res = await t.request({ method: 'GET', url: new URL(`http://${s.host}/`) });
    const err = await res.bytes().catch((e: unknown) => e);
    expect(isRetryableNetworkError(err)).toBe(true);
  });

  it('resumes a blob download whose body stalls', async () => {
    const blob = Buffer.from('0123456789'.repeat(1000));
    const digest = sha256Digest(blob);
    const s = await serve((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range) {
        const from = Number(range[1]);
        res.writeHead(206, { 'Content-Length': String(blob.length - from), 'Content-Range': `bytes ${from}-${blob.length - 1}/${blob.length}` });
        res.end(blob.subarray(from));
        return;
      }
      res.writeHead(200, { 'Content-Length': String(blob.length) });
      res.write(blob.subarray(0, 4000)); // …and nothing more
    });
    const dir = await mkdtemp(join(tmpdir(), 'bi-stall-'));
    try {
      const store = await openStore({ root: dir });
      const events: RegistryEvent[] = [];
      const session = createRegistrySession({
        credentials: anonymousCredentials,
        http: { timeoutMs: 200, retry: { baseDelayMs: 1 } },
        onEvent: (e) => events.push(e),
      });
      transports.push(session.transport);
      await fetchBlob(session, store, { registry: s.host, repository: 'a/b', digest, size: blob.length });
      expect((await store.readBlob(digest)).equals(blob)).toBe(true);
      expect(events.filter((e) => e.type === 'blob-resume').map((e) => (e.type === 'blob-resume' ? e.offset : -1))).toEqual([4000]);
      expect(s.requests.map((r) => [r.url, r.headers.range])).toEqual([
        ['/v2/', undefined],
        [`/v2/a/b/blobs/${digest}`, undefined],
        [`/v2/a/b/blobs/${digest}`, 'bytes=4000-'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows redirects, dropping Authorization when the host changes', async () => {
    const storage = await serve((_req, res) => res.writeHead(200).end('blob'));
    const storageUrl = `http://localhost:${storage.port}/blob`;
    const reg = await serve((req, res) => {
      if (req.url === '/same') res.writeHead(307, { Location: '/final' }).end();
      else if (req.url === '/other') res.writeHead(307, { Location: storageUrl }).end();
      else res.writeHead(200).end('final');
    });
    const t = transport();
    const headers = { Authorization: 'Bearer secret', Range: 'bytes=5-' };
    const same = await t.request({ method: 'GET', url: new URL(`http://${reg.host}/same`), headers });
    expect([same.status, await same.text(), same.url.pathname]).toEqual([200, 'final', '/final']);
    expect(reg.requests[1]!.headers.authorization).toBe('Bearer secret');
    const other = await t.request({ method: 'GET', url: new URL(`http://${reg.host}/other`), headers });
    expect([other.status, await other.text()]).toEqual([200, 'blob']);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    expect(storage.requests[0]!.headers.range).toBe('bytes=5-');
  });
});

describe('RegistryClient authentication', () => {
  /** A registry that wants a bearer token from its own /token endpoint. */
  async function tokenRegistry(options: { expiresIn?: number; tokenField?: string; tokenStatus?: number } = {}) {
    let issued = 0;
    const s = await serve((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        if (options.tokenStatus) {
          res.writeHead(options.tokenStatus, { 'Content-Type': 'application/json' }).end('{"details":"token server trouble"}');
          return;
        }
        issued++;
        const scopes = req.method === 'POST' ? new URLSearchParams(body).get('scope') ?? '' : url.searchParams.getAll('scope').join(' ');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ [options.tokenField ?? 'token']: `tok${issued}|${scopes}`, ...(options.expiresIn ? { expires_in: options.expiresIn } : {}) }));
        return;
      }
      const auth = req.headers.authorization ?? '';
      const granted = auth.startsWith('Bearer ') ? auth.slice(7).split('|')[1] ?? '' : '';
      const need = url.pathname.includes('/push/') ? 'repository:a/b:pull,push' : 'repository:a/b:pull';
      if (url.pathname === '/v2/' ? auth === '' : !granted.split(' ').includes(need)) {
        const scope = url.pathname === '/v2/' ? '' : `,scope="${need}"`;
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${req.headers.host}/token",service="test"${scope}` });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      res.writeHead(200).end('ok');
    });
    return s;
  }

  it('caches a token per scope until shortly before it expires', async () => {
    const s = await tokenRegistry({ expiresIn: 60 });
    let now = 1_000_000;
    const client = new RegistryClient(s.host, { transport: transport(), now: () => now });
    const get = async () => {
      const res = await client.request({ method: 'GET', path: '/v2/a/b/manifests/1', scopes: ['repository:a/b:pull'], what: 'x' });
      return [res.status, await res.text()];
    };
    expect(await get()).toEqual([200, 'ok']);
    now += 45_000;
    expect(await get()).toEqual([200, 'ok']);
    now += 10_000; // 55 s: within the 10 s margin
    expect(await get()).toEqual([200, 'ok']);
    const tokenGets = s.requests.filter((r) => r.url.startsWith('/token'));
    expect(tokenGets.map((r) => r.url)).toEqual([
      '/token?service=test&scope=repository%3Aa%2Fb%3Apull',
      '/token?service=test&scope=repository%3Aa%2Fb%3Apull',
    ]);
    expect(s.requests.filter((r) => r.url === '/v2/').length).toBe(1);
  });

  it('asks for the scope a 401 challenge names and retries once', async () => {
    const s = await tokenRegistry();
    const client = new RegistryClient(s.host, { transport: transport() });
    // the caller asks for too little: the registry's challenge adds pull,push
    const res = await client.request({ method: 'PUT', path: '/v2/a/b/push/x', body: Buffer.from('m'), scopes: ['repository:a/b:pull'], what: 'x' });
    expect(res.status).toBe(200);
    expect(s.requests.filter((r) => r.url.startsWith('/token')).map((r) => new URL(r.url, 'http://x').searchParams.getAll('scope'))).toEqual([
      ['repository:a/b:pull'],
      ['repository:a/b:pull', 'repository:a/b:pull,push'],
    ]);
  });

  it('sends Basic credentials and the account to the token server', async () => {
    const s = await tokenRegistry({ tokenField: 'access_token' });
    const client = new RegistryClient(s.host, {
      transport: transport(),
      credentials: staticCredentials({ [s.host]: { username: 'u', password: 'p:w' } }),
    });
    const res = await client.request({ method: 'GET', path: '/v2/a/b/manifests/1', scopes: ['repository:a/b:pull'], what: 'x' });
    expect(res.status).toBe(200);
    const tok = s.requests.find((r) => r.url.startsWith('/token'))!;
    expect(tok.headers.authorization).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
    expect(new URL(tok.url, 'http://x').searchParams.get('account')).toBe('u');
  });

  it('exchanges an identity token with the OAuth2 refresh-token grant', async () => {
    const s = await tokenRegistry();
    const client = new RegistryClient(s.host, { transport: transport(), credentials: staticCredentials({ [s.host]: { identityToken: 'refresh-123' } }) });
    const res = await client.request({ method: 'GET', path: '/v2/a/b/manifests/1', scopes: ['repository:a/b:pull'], what: 'x' });
    expect(res.status).toBe(200);
    const tok = s.requests.find((r) => r.url.startsWith('/token'))!;
    expect(tok.method).toBe('POST');
    expect(Object.fromEntries(new URLSearchParams(tok.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-123',
      client_id: 'build-image',
      service: 'test',
      scope: 'repository:a/b:pull',
    });
  });

  it('sends a registry token as is', async () => {
    const s = await serve((req, res) => {
      if (req.headers.authorization === 'Bearer raw') res.writeHead(200).end('ok');
      else res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${req.headers.host}/token"` }).end();
    });
    const client = new RegistryClient(s.host, { transport: transport(), credentials: staticCredentials({ [s.host]: { registryToken: 'raw' } }) });
    const res = await client.request({ method: 'GET', path: '/v2/a/b/manifests/1', scopes: [], what: 'x' });
    expect(res.status).toBe(200);
    expect(s.requests.some((r) => r.url.startsWith('/token'))).toBe(false);
  });

  it('reports a failing token server', async () => {
    const s = await tokenRegistry({ tokenStatus: 500 });
    const client = new RegistryClient(s.host, { transport: createTransport({ retry: { attempts: 1 } }) });
    await expect(client.request({ method: 'GET', path: '/v2/a/b/manifests/1', scopes: ['repository:a/b:pull'], what: 'x' })).rejects.toMatchObject({
      code: 'REGISTRY_AUTH_FAILED',
      message: `registry ${s.host}: token server http://${s.host}/token answered 500 Internal Server Error: token server trouble`,
    });
  });

  it('refuses authentication schemes it does not know', async () => {
    const s = await serve((_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Negotiate' }).end());
    const client = new RegistryClient(s.host, { transport: transport() });
    await expect(client.request({ method: 'GET', path: '/v2/x/manifests/1', scopes: [], what: 'x' })).rejects.toMatchObject({
      code: 'REGISTRY_AUTH_FAILED',
      message: `registry ${s.host} asks for "negotiate" authentication, which build-image does not support (only Basic and Bearer)`,
    });
  });

  it('says when a host is not a registry', async () => {
    const s = await serve((_req, res) => res.writeHead(404).end('<html>'));
    const client = new RegistryClient(s.host, { transport: transport() });
    await expect(client.request({ method: 'GET', path: '/v2/x/manifests/1', scopes: [], what: 'x' })).rejects.toMatchObject({
      code: 'REGISTRY_HTTP_ERROR',
      message: `${s.host} does not look like a container registry: GET http://${s.host}/v2/ answered 404 Not Found`,
    });
  });

  it('is insecure (HTTPS without verification, else HTTP) only for loopback and --insecure-registry hosts', () => {
    const insecure = (registry: string, list: string[] = []) => new RegistryClient(registry, { insecureRegistries: list }).insecure;
    expect([insecure('127.0.0.1:5000'), insecure('localhost'), insecure('[::1]:5000'), insecure('docker.io'), insecure('reg.internal:5000')]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(insecure('reg.internal:5000', ['reg.internal:5000'])).toBe(true);
    expect(new RegistryClient('docker.io').baseUrl.href).toBe('https://registry-1.docker.io/');
  });

  it('falls back to plain HTTP when an insecure registry does not speak TLS', async () => {
    const s = await serve((_req, res) => res.writeHead(200).end('{}'));
    const client = new RegistryClient(s.host, { transport: transport() });
    expect(client.baseUrl.protocol).toBe('https:');
    await client.ping();
    expect([client.baseUrl.href, client.plainHttp]).toEqual([`http://${s.host}/`, true]);
  });
});
