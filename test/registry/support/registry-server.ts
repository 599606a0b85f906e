/**
 * Starts the real CNCF distribution server (Debian package `docker-registry`, binary
 * /usr/bin/docker-registry) on 127.0.0.1 with a free port, storing in a temp dir: open, with
 * htpasswd Basic auth, or with token auth against an issuer the test runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface RegistryAuthHtpasswd {
  readonly htpasswd: { readonly users: Readonly<Record<string, string>> };
}
export interface RegistryAuthToken {
  readonly token: { readonly realm: string; readonly service: string; readonly issuer: string; readonly certPem: string };
}

export interface RunningRegistry {
  /** `127.0.0.1:<port>` — the registry part of image references. */
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** What the server printed (for failing tests). */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    };
    const req = url.startsWith('https:') ? https.get(url, { rejectUnauthorized: false }, onResponse) : http.get(url, onResponse);
    req.on('error', reject);
  });
}

export interface RegistryOptions {
  /** Serve HTTPS with this certificate and key (PEM). */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

export async function startRegistry(auth?: RegistryAuthHtpasswd | RegistryAuthToken, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'bi-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: build-image-test-secret',
  ];
  if (options.tls) {
    await writeFile(join(dir, 'tls.crt'), options.tls.certPem);
    await writeFile(join(dir, 'tls.key'), options.tls.keyPem, { mode: 0o600 });
    lines.push('  tls:', `    certificate: ${join(dir, 'tls.crt')}`, `    key: ${join(dir, 'tls.key')}`);
  }
  if (auth && 'htpasswd' in auth) {
    const file = join(dir, 'htpasswd');
    const entries = Object.entries(auth.htpasswd.users).map(([user, password]) =>
      execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim(),
    );
    await writeFile(file, entries.join('\n') + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: build-image-test', `    path: ${file}`);
  } else if (auth && 'token' in auth) {
    const bundle = join(dir, 'token-ca.pem');
    await writeFile(bundle, auth.token.certPem);
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${auth.token.realm}`,
      `    service: ${auth.token.service}`,
      `    issuer: ${auth.token.issuer}`,
      `    rootcertbundle: ${bundle}`,
    );
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, lines.join('\n') + '\n');
  const out: string[] = [];
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => out.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => out.push(c.toString()));
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, delay(5000)]);
      if (!exited) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (exited) {
      await stop();
      throw new Error(`docker-registry exited at start:\n${out.join('')}`);
    }
    try {
      const status = await get(`${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/v2/`);
      if (status === 200 || status === 401) break;
    } catch {
      // not listening yet
    }
    if (i > 200) {
      await stop();
      throw new Error(`docker-registry did not start on port ${port}:\n${out.join('')}`);
    }
    await delay(50);
  }
  return { host: `127.0.0.1:${port}`, port, dir, log: () => out.join(''), stop };
}
