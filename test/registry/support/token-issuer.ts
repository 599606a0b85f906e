/**
 * A tiny Docker token issuer for the distribution server's `auth.token` mode: it checks Basic
 * credentials, grants the requested actions to known users (nothing to anonymous callers
 * unless the repository starts with `public/`, which anyone may pull), and signs ES256 JWTs
 * whose `x5c` header carries its self-signed certificate, which the registry trusts through
 * `rootcertbundle` (see cert.ts).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { certificatePem, selfSignedCert } from './cert.js';

export interface TokenRequestLog {
  readonly method: string;
  readonly account: string | undefined;
  readonly user: string | undefined;
  readonly scopes: readonly string[];
  readonly service: string | undefined;
}

export interface TokenIssuer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly certPem: string;
  readonly requests: TokenRequestLog[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Starts the issuer on 127.0.0.1 with a free port. `users`: name → password. */
export async function startTokenIssuer(options: {
  users: Readonly<Record<string, string>>;
  service?: string;
  issuer?: string;
  expiresIn?: number;
}): Promise<TokenIssuer> {
  const service = options.service ?? 'build-image-test-registry';
  const issuer = options.issuer ?? 'build-image-test-issuer';
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = selfSignedCert(issuer, privateKey, publicKey);
  const certPem = certificatePem(der);
  const requests: TokenRequestLog[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
      if (u !== undefined && options.users[u] !== undefined && options.users[u] === rest.join(':')) user = u;
      else {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'invalid username or password' }));
        return;
      }
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    requests.push({ method: req.method ?? 'GET', account: url.searchParams.get('account') ?? undefined, user, scopes, service: url.searchParams.get('service') ?? undefined });
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const name = rest.join(':');
      if (type !== 'repository') return [];
      const granted = user !== undefined ? actions : name.startsWith('public/') ? actions.filter((a) => a === 'pull') : [];
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + 300,
      nbf: now - 60,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: options.expiresIn ?? 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPem,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
