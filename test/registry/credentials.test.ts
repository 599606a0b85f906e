import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authKey,
  chainCredentials,
  convertToHostname,
  dockerConfigCredentials,
  dockerConfigDir,
  staticCredentials,
  type HelperRunner,
} from '../../src/registry/credentials.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bi-creds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function configDir(config: unknown): Promise<string> {
  const d = join(dir, `c${n++}`);
  await mkdir(d);
  await writeFile(join(d, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return d;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('keys', () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://localhost:5000', 'localhost:5000'],
    ['registry.example.com/v2/', 'registry.example.com'],
    ['ghcr.io', 'ghcr.io'],
  ])('convertToHostname(%s) = %s', (key, host) => expect(convertToHostname(key)).toBe(host));
  it.each([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'ghcr.io'],
  ])('authKey(%s) = %s', (registry, key) => expect(authKey(registry)).toBe(key));
  it('dockerConfigDir', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: '/x/y' })).toBe('/x/y');
    expect(dockerConfigDir({ HOME: '/home/u' })).toBe('/home/u/.docker');
  });
});

describe('dockerConfigCredentials: auths', () => {
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
      'http://127.0.0.1:5000/v2/': { auth: b64('alice:secret') },
      'ghcr.io': { username: 'bob', password: 'pw' },
      'quay.io': { identitytoken: 'refresh-me' },
      'tok.example.com': { registrytoken: 'raw-bearer' },
      'empty.example.com': {},
    },
  };
  it.each([
    ['docker.io', { username: 'hubuser', password: 'hub:pass' }],
    ['127.0.0.1:5000', { username: 'alice', password: 'secret' }],
    ['ghcr.io', { username: 'bob', password: 'pw' }],
    ['quay.io', { identityToken: 'refresh-me' }],
    ['tok.example.com', { registryToken: 'raw-bearer' }],
    ['empty.example.com', undefined],
    ['other.example.com', undefined],
  ])('%s', async (registry, expected) => {
    const store = dockerConfigCredentials({ configDir: await configDir(config) });
    expect(await store.get(registry)).toEqual(expected);
  });

  it('finds config.json through $DOCKER_CONFIG', async () => {
    const d = await configDir(config);
    expect(await dockerConfigCredentials({ env: { DOCKER_CONFIG: d } }).get('ghcr.io')).toEqual({ username: 'bob', password: 'pw' });
  });

  it('is anonymous without a config file', async () => {
    expect(await dockerConfigCredentials({ configDir: join(dir, 'missing') }).get('docker.io')).toBeUndefined();
  });

  it('reports a malformed config', async () => {
    const d = await configDir('{"auths": ');
    await expect(dockerConfigCredentials({ configDir: d }).get('x.io')).rejects.toMatchObject({
      code: 'REGISTRY_BAD_DOCKER_CONFIG',
      message: expect.stringMatching(/^invalid docker config .*config\.json: /),
    });
    const d2 = await configDir({ auths: { 'x.io': { auth: b64('nocolon') } } });
    await expect(dockerConfigCredentials({ configDir: d2 }).get('x.io')).rejects.toMatchObject({
      code: 'REGISTRY_BAD_DOCKER_CONFIG',
      message: `invalid auth configuration file ${join(d2, 'config.json')}: the "auth" of "x.io" is not base64 of user:password`,
    });
  });
});

describe('dockerConfigCredentials: credential helpers', () => {
  const calls: string[] = [];
  const runner: HelperRunner = async (helper, url) => {
    calls.push(`${helper} ${url}`);
    if (helper === 'pass' && url === 'ghcr.io') return { code: 0, stdout: '{"ServerURL":"ghcr.io","Username":"gh","Secret":"s1"}\n', stderr: '' };
    if (helper === 'desktop' && url === 'https://index.docker.io/v1/') {
      return { code: 0, stdout: JSON.stringify({ ServerURL: url, Username: '<token>', Secret: 'idtok' }), stderr: '' };
    }
    if (helper === 'broken') return { code: 1, stdout: 'boom: keychain locked\n', stderr: '' };
    if (helper === 'garbage') return { code: 0, stdout: 'not json', stderr: '' };
    return { code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' };
  };

  it('credHelpers before credsStore, and "not found" is anonymous even with an auths entry', async () => {
    const d = await configDir({
      credsStore: 'desktop',
      credHelpers: { 'ghcr.io': 'pass' },
      auths: { 'nothere.io': { auth: b64('u:p') } },
    });
    const store = dockerConfigCredentials({ configDir: d, runHelper: runner });
    calls.length = 0;
    expect(await store.get('ghcr.io')).toEqual({ username: 'gh', password: 's1' });
    expect(await store.get('docker.io')).toEqual({ identityToken: 'idtok' });
    expect(await store.get('nothere.io')).toBeUndefined();
    expect(calls).toEqual(['pass ghcr.io', 'desktop https://index.docker.io/v1/', 'desktop nothere.io']);
  });

  it.each([
    ['broken', 'error getting credentials for x.io from docker-credential-broken: exit status 1: boom: keychain locked'],
    ['garbage', 'docker-credential-garbage answered something that is not JSON for x.io'],
  ])('reports a failing helper (%s)', async (helper, message) => {
    const d = await configDir({ credsStore: helper });
    await expect(dockerConfigCredentials({ configDir: d, runHelper: runner }).get('x.io')).rejects.toMatchObject({
      code: 'REGISTRY_CREDENTIAL_HELPER',
      message,
    });
  });

  it('runs a real docker-credential-<name> program from PATH', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const script = join(bin, 'docker-credential-fake');
    await writeFile(
      script,
      '#!/bin/sh\n[ "$1" = get ] || exit 2\nread url\nif [ "$url" = "127.0.0.1:5000" ]; then\n' +
        '  printf \'{"ServerURL":"%s","Username":"carol","Secret":"pw2"}\' "$url"\nelse\n' +
        '  echo "credentials not found in native keychain"; exit 1\nfi\n',
    );
    await chmod(script, 0o755);
    const d = await configDir({ credsStore: 'fake' });
    const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    const store = dockerConfigCredentials({ configDir: d, env });
    expect(await store.get('127.0.0.1:5000')).toEqual({ username: 'carol', password: 'pw2' });
    expect(await store.get('elsewhere.io')).toBeUndefined();
    const missing = dockerConfigCredentials({ configDir: await configDir({ credsStore: 'nope' }), env });
    await expect(missing.get('x.io')).rejects.toMatchObject({
      code: 'REGISTRY_CREDENTIAL_HELPER',
      message: 'error getting credentials for x.io from docker-credential-nope: executable file not found in $PATH',
    });
  });
});

describe('static and chained stores', () => {
  it('the first store with credentials wins', async () => {
    const a = staticCredentials({ 'ghcr.io': { username: 'a', password: '1' } });
    const b = staticCredentials({ 'ghcr.io': { username: 'b', password: '2' }, 'https://index.docker.io/v1/': { username: 'hub', password: '3' } });
    const chain = chainCredentials(a, b);
    expect(await chain.get('ghcr.io')).toEqual({ username: 'a', password: '1' });
    expect(await chain.get('docker.io')).toEqual({ username: 'hub', password: '3' });
    expect(await chain.get('x.io')).toBeUndefined();
  });
});
