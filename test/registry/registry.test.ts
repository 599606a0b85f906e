/**
 * Pull and push against the real CNCF distribution server (Debian's docker-registry): open,
 * htpasswd Basic auth, and token auth with an issuer run by the test; read back with skopeo;
 * faults injected by a proxy in front of the registry.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest, type Digest } from '../../src/image/digest.js';
import { appendLayers, type Image } from '../../src/image/image.js';
import { layerFromEntries } from '../../src/image/layer.js';
import { readAll } from '../../src/image/stream.js';
import { readTar } from '../../src/image/tar.js';
import {
  anonymousCredentials,
  createRegistrySession,
  dockerConfigCredentials,
  hostPlatform,
  parsePlatform,
  pullImage,
  pushImage,
  pushIndex,
  pushMetadata,
  resolveImage,
  staticCredentials,
  type RegistryEvent,
  type SessionOptions,
} from '../../src/registry/index.js';
import { openStore, type Store } from '../../src/store/store.js';
import { busyboxImage, busyboxLayout, PASSWD } from '../../fixtures/busybox.js';
import { hasTool } from '../support/tools.js';
import { selfSignedPem } from './support/cert.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './support/fault-proxy.js';
import { skopeo, smallImage } from './support/images.js';
import { freePort, startRegistry, type RunningRegistry } from './support/registry-server.js';
import { startTokenIssuer, type TokenIssuer } from './support/token-issuer.js';

const tools =
  hasTool('docker-registry', 'docker-registry') &&
  hasTool('htpasswd', 'apache2-utils') &&
  hasTool('skopeo', 'skopeo') &&
  hasTool('busybox', 'busybox-static');

const hostArch = hostPlatform().architecture;
const otherArch = hostArch === 'amd64' ? 'arm64' : 'amd64';

/** 1 MiB of incompressible, deterministic bytes. */
function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.runIf(tools)('registry: pull and push against the CNCF distribution server', () => {
  let tmp: string;
  let open: RunningRegistry;
  let basic: RunningRegistry;
  let issuer: TokenIssuer;
  let tokenRegistry: RunningRegistry;
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'bi-registry-test-'));
    issuer = await startTokenIssuer({ users: { bob: 'builder' } });
    [open, basic, tokenRegistry] = await Promise.all([
      startRegistry(),
      startRegistry({ htpasswd: { users: { alice: 'wonderland' } } }),
      startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certPem: issuer.certPem } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([open?.stop(), basic?.stop(), tokenRegistry?.stop(), issuer?.stop()]);
    await rm(tmp, { recursive: true, force: true });
  });

  let stores = 0;
  const newStore = async (): Promise<Store> => openStore({ root: join(tmp, `store-${stores++}`) });
  const session = (options: SessionOptions = {}) =>
    createRegistrySession({ credentials: anonymousCredentials, http: { retry: { baseDelayMs: 1, maxDelayMs: 5 } }, ...options });
  const proxy = async (target: string, rules: FaultRule[]) => {
    const p = await startFaultProxy(target, rules);
    proxies.push(p);
    return p;
  };

  it('pushes the busybox base, reads it back with skopeo, pulls it and builds on it (mounting the base layers)', async () => {
    const store = await newStore();
    const base = await busyboxImage();
    const pushed = await pushImage(base, `${open.host}/library/busybox:1`, { session: session(), store });
    expect(pushed.digest).toBe(base.digest());
    expect(pushed.pinned).toBe(`${open.host}/library/busybox@${base.digest()}`);
    expect(pushMetadata(pushed)).toEqual({
      'containerimage.digest': base.digest(),
      'containerimage.descriptor': { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: base.digest(), size: base.manifestBytes().length },
      'image.name': `${open.host}/library/busybox:1`,
    });
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${open.host}/library/busybox:1`]);
    expect(raw).toBe(base.manifestBytes().toString('utf8'));
    const rawConfig = await skopeo(['inspect', '--tls-verify=false', '--raw', '--config', `docker://${open.host}/library/busybox:1`]);
    expect(rawConfig).toBe(base.configBytes().toString('utf8'));

    // Pull into a fresh store.
    const store2 = await newStore();
    const s2 = session();
    const pulled = await pullImage(`${open.host}/library/busybox:1`, { session: s2, store: store2 });
    expect(pulled.digest).toBe(base.digest());
    expect(pulled.indexDigest).toBeUndefined();
    expect(pulled.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(pulled.config.config?.Env).toEqual(['PATH=/bin']);
    expect(pulled.config.config?.Cmd).toEqual(['/bin/sh']);
    expect(pulled.image.digest()).toBe(base.digest());
    expect(pulled.image.configBytes().equals(base.configBytes())).toBe(true);
    for (const layer of base.layers) expect(await store2.hasBlob(layer.digest, layer.size)).toBe(true);
    const files = new Map<string, string>();
    for await (const entry of readTar(await pulled.image.layers[0]!.openUncompressed())) {
      files.set(entry.path, entry.type === 'file' ? (await entry.bytes()).toString('utf8') : `${entry.type} ${entry.linkname}`);
    }
    expect(files.get('etc/passwd')).toBe(PASSWD);
    expect(files.get('bin/sh')).toBe('symlink busybox');

    // Build on it: one more layer, pushed to another repository of the same registry.
    const layer = await layerFromEntries([{ path: 'app/run.sh', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 0, data: 'echo hi\n' }], { store: store2 });
    const built = appendLayers(pulled.image, { layer, history: { created_by: 'COPY run.sh /app/' } });
    const events: RegistryEvent[] = [];
    const out = await pushImage(built, `${open.host}/team/app:v1`, { session: session({ onEvent: (e) => events.push(e) }), store: store2 });
    expect(out.digest).toBe(built.digest());
    const mounted = events.filter((e) => e.type === 'blob-mounted').map((e) => (e.type === 'blob-mounted' ? e.digest : ''));
    expect(mounted.sort()).toEqual(base.layers.map((l) => l.digest).sort());
    const uploaded = events.filter((e) => e.type === 'blob-uploaded').map((e) => (e.type === 'blob-uploaded' ? e.digest : ''));
    expect(uploaded.sort()).toEqual([built.configDigest(), layer.digest].sort());

    // skopeo copies it to an OCI layout: the same manifest, config and layers, byte for byte.
    const layout = join(tmp, 'copied');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${open.host}/team/app:v1`, `oci:${layout}:v1`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([built.digest()]);
    const blob = (d: string) => readFile(join(layout, 'blobs', 'sha256', d.slice(7)));
    expect((await blob(built.digest())).equals(built.manifestBytes())).toBe(true);
    expect((await blob(built.configDigest())).equals(built.configBytes())).toBe(true);
    for (const l of built.layers) expect(sha256Digest(await blob(l.digest))).toBe(l.digest);
  });

  it('pulls the busybox layout as skopeo pushed it', async () => {
    const layout = await busyboxLayout();
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout.dir}:${layout.ref}`, `docker://${open.host}/skopeo/busybox:1`]);
    const store = await newStore();
    const pulled = await pullImage(`${open.host}/skopeo/busybox:1`, { session: session(), store });
    expect(pulled.digest).toBe(layout.digest);
    for (const l of pulled.image.layers) expect(sha256Digest(await store.readBlob(l.digest))).toBe(l.digest);
  });

  it('pushes on a resolved base without downloading its layers, unless another registry needs them', async () => {
    const base = await smallImage({ architecture: hostArch, layers: [{ 'base.txt': 'base layer' }] });
    await pushImage(base, `${open.host}/lazy/base:1`, { session: session() });
    const store = await newStore();
    const s = session();
    const resolved = await resolveImage(`${open.host}/lazy/base:1`, { session: s, store });
    expect(await store.hasBlob(base.layers[0]!.digest)).toBe(false);
    const layer = await layerFromEntries([{ path: 'top.txt', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'top' }], { store });
    const built = appendLayers(resolved.image, { layer });

    // Same registry: the base layer is mounted, never downloaded.
    const events: RegistryEvent[] = [];
    const s2 = session({ onEvent: (e) => events.push(e) });
    await pushImage(built, `${open.host}/lazy/app:1`, { session: s2, store });
    expect(events.filter((e) => e.type === 'blob-mounted' || e.type === 'blob-fetch').map((e) => `${e.type} ${e.digest}`)).toEqual([
      `blob-mounted ${base.layers[0]!.digest}`,
    ]);
    expect(await store.hasBlob(base.layers[0]!.digest)).toBe(false);

    // Another registry: the base layer is fetched from where it was seen, then uploaded.
    const creds = staticCredentials({ [basic.host]: { username: 'alice', password: 'wonderland' } });
    const pushed = await pushImage(built, `${basic.host}/lazy/app:1`, { session: session({ credentials: creds }), store });
    expect(pushed.digest).toBe(built.digest());
    expect(sha256Digest(await store.readBlob(base.layers[0]!.digest))).toBe(base.layers[0]!.digest);
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', '--creds', 'alice:wonderland', `docker://${basic.host}/lazy/app:1`]);
    expect(sha256Digest(raw)).toBe(built.digest());
  });

  it('pushes Docker v2 schema 2 images unchanged', async () => {
    const store = await newStore();
    const image = await smallImage({ architecture: hostArch, layers: [{ a: 'docker' }], format: 'docker', store });
    const pushed = await pushImage(image, `${open.host}/docker/format:1`, { session: session(), store });
    expect(pushed.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${open.host}/docker/format:1`]);
    expect(raw).toBe(image.manifestBytes().toString('utf8'));
    const pulled = await pullImage(`${open.host}/docker/format:1`, { session: session(), store: await newStore() });
    expect(pulled.image.format).toBe('docker');
    expect(pulled.digest).toBe(image.digest());
  });

  describe('a two-platform index whose first entry is another architecture', () => {
    let other: Image;
    let host: Image;
    let indexDigest: Digest;
    const ref = () => `${open.host}/multi/app:1`;

    beforeAll(async () => {
      other = await smallImage({ architecture: otherArch, layers: [{ arch: `${otherArch}\n` }] });
      host = await smallImage({ architecture: hostArch, layers: [{ arch: `${hostArch}\n` }] });
      indexDigest = (await pushIndex([other, host], ref(), { session: session() })).digest;
    });

    it('is what skopeo sees', async () => {
      const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${ref()}`]);
      expect(sha256Digest(raw)).toBe(indexDigest);
      const doc = JSON.parse(raw) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
      expect(doc.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(doc.manifests.map((m) => [m.platform.architecture, m.digest])).toEqual([
        [otherArch, other.digest()],
        [hostArch, host.digest()],
      ]);
    });

    it('pulls the host platform by default', async () => {
      const store = await newStore();
      const pulled = await pullImage(ref(), { session: session(), store });
      expect(pulled.digest).toBe(host.digest());
      expect(pulled.indexDigest).toBe(indexDigest);
      expect(pulled.platform).toEqual({ os: 'linux', architecture: hostArch });
      expect((await readAll(await pulled.image.layers[0]!.openUncompressed())).includes(Buffer.from(`${hostArch}\n`))).toBe(true);
      expect(await store.hasBlob(other.layers[0]!.digest)).toBe(false);
    });

    it('pulls the platform asked for', async () => {
      const pulled = await pullImage(ref(), { session: session(), store: await newStore(), platform: parsePlatform(`linux/${otherArch}`) });
      expect(pulled.digest).toBe(other.digest());
      expect(pulled.pinned).toBe(`${open.host}/multi/app@${other.digest()}`);
    });

    it('names the platforms that exist when none matches', async () => {
      await expect(pullImage(ref(), { session: session(), store: await newStore(), platform: parsePlatform('linux/s390x') })).rejects.toMatchObject({
        code: 'REGISTRY_NO_MATCHING_PLATFORM',
        message: `no match for platform linux/s390x in the manifest list of ${ref()} (${indexDigest}); available platforms: linux/${otherArch}, linux/${hostArch}`,
      });
    });

    it('pulls by index digest', async () => {
      const pulled = await pullImage(`${open.host}/multi/app@${indexDigest}`, { session: session(), store: await newStore() });
      expect(pulled.digest).toBe(host.digest());
    });
  });

  describe('htpasswd Basic auth', () => {
    const ref = () => `${basic.host}/private/app:1`;
    let image: Image;

    beforeAll(async () => {
      image = await smallImage({ architecture: hostArch, layers: [{ secret: 'basic' }] });
      await pushImage(image, ref(), { session: session({ credentials: staticCredentials({ [basic.host]: { username: 'alice', password: 'wonderland' } }) }) });
    });

    it('authenticates from a docker config file', async () => {
      const dir = join(tmp, 'docker-config-basic');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${basic.host}`]: { auth: b64('alice:wonderland') } } }));
      const pulled = await pullImage(ref(), { session: session({ credentials: dockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) }), store: await newStore() });
      expect(pulled.digest).toBe(image.digest());
      const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', '--creds', 'alice:wonderland', `docker://${ref()}`]);
      expect(sha256Digest(raw)).toBe(image.digest());
    });

    it('fails without credentials, naming the registry and the 401', async () => {
      const err = await pullImage(ref(), { session: session(), store: await newStore() }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'REGISTRY_UNAUTHORIZED',
        message: `registry ${basic.host} answered 401 Unauthorized to HEAD /v2/private/app/manifests/1 (manifest ${basic.host}/private/app:1); no credentials were found for it`,
        suggestion: `log in with \`docker login ${basic.host}\`, or add an "auths" entry for ${basic.host} to $DOCKER_CONFIG/config.json (default ~/.docker/config.json)`,
      });
    });

    it('fails with a wrong password', async () => {
      const creds = staticCredentials({ [basic.host]: { username: 'alice', password: 'nope' } });
      await expect(pullImage(ref(), { session: session({ credentials: creds }), store: await newStore() })).rejects.toMatchObject({
        code: 'REGISTRY_UNAUTHORIZED',
        message: expect.stringMatching(new RegExp(`^registry ${basic.host} answered 401 Unauthorized .*; the credentials for it were refused$`)),
      });
    });
  });

  describe('token auth (an issuer run by the test)', () => {
    let image: Image;

    beforeAll(async () => {
      image = await smallImage({ architecture: hostArch, layers: [{ one: '1' }, { two: '2' }, { three: '3' }] });
    });

    it('pushes with credentials from a docker config, one token per scope', async () => {
      const dir = join(tmp, 'docker-config-token');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [tokenRegistry.host]: { username: 'bob', password: 'builder' } } }));
      issuer.requests.length = 0;
      const s = session({ credentials: dockerConfigCredentials({ configDir: dir }) });
      await pushImage(image, `${tokenRegistry.host}/tok/app:1`, { session: s });
      await pushImage(image, `${tokenRegistry.host}/public/app:1`, { session: s });
      // 4 blobs × (HEAD + POST + PUT) + manifest PUT per push, but one token per scope set.
      expect(issuer.requests).toEqual([
        { method: 'GET', account: 'bob', user: 'bob', scopes: ['repository:tok/app:pull,push'], service: issuer.service },
        // the second push mounts the blobs from tok/app: its scopes include pull on the source
        { method: 'GET', account: 'bob', user: 'bob', scopes: ['repository:public/app:pull,push'], service: issuer.service },
        {
          method: 'GET',
          account: 'bob',
          user: 'bob',
          scopes: ['repository:public/app:pull,push', 'repository:tok/app:pull'],
          service: issuer.service,
        },
      ]);
      const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', '--creds', 'bob:builder', `docker://${tokenRegistry.host}/tok/app:1`]);
      expect(sha256Digest(raw)).toBe(image.digest());
    });

    it('pulls with credentials', async () => {
      issuer.requests.length = 0;
      const s = session({ credentials: staticCredentials({ [tokenRegistry.host]: { username: 'bob', password: 'builder' } }) });
      const pulled = await pullImage(`${tokenRegistry.host}/tok/app:1`, { session: s, store: await newStore() });
      expect(pulled.digest).toBe(image.digest());
      expect(issuer.requests.map((r) => r.scopes)).toEqual([['repository:tok/app:pull']]);
    });

    it('pulls a public repository anonymously', async () => {
      const pulled = await pullImage(`${tokenRegistry.host}/public/app:1`, { session: session(), store: await newStore() });
      expect(pulled.digest).toBe(image.digest());
    });

    it('fails anonymously on a private repository, naming the registry and the 401', async () => {
      await expect(pullImage(`${tokenRegistry.host}/tok/app:1`, { session: session(), store: await newStore() })).rejects.toMatchObject({
        code: 'REGISTRY_UNAUTHORIZED',
        message: `registry ${tokenRegistry.host} answered 401 Unauthorized to HEAD /v2/tok/app/manifests/1 (manifest ${tokenRegistry.host}/tok/app:1); no credentials were found for it`,
      });
    });

    it('reports credentials the token server refuses', async () => {
      const creds = staticCredentials({ [tokenRegistry.host]: { username: 'bob', password: 'wrong' } });
      await expect(pullImage(`${tokenRegistry.host}/tok/app:1`, { session: session({ credentials: creds }), store: await newStore() })).rejects.toMatchObject({
        code: 'REGISTRY_UNAUTHORIZED',
        message: `registry ${tokenRegistry.host}: token server ${new URL(issuer.realm).origin}/token answered 401 Unauthorized for repository:tok/app:pull: invalid username or password; the credentials for it were refused`,
      });
    });
  });

  describe('faults, resumption and sharing', () => {
    let big: Image;
    let bigLayer: Digest;
    let bigSize: number;
    const repo = 'faults/big';

    beforeAll(async () => {
      big = await smallImage({
        architecture: hostArch,
        layers: [{ 'small.txt': 'small' }, { 'data/noise.bin': noise(1 << 20, 'noise').toString('latin1') }, { 'last.txt': 'last' }],
      });
      bigLayer = big.layers[1]!.digest;
      bigSize = big.layers[1]!.size;
      await pushImage(big, `${open.host}/${repo}:1`, { session: session() });
    });

    const blobGet = (digest: string) => (r: { method: string; path: string }) => r.method === 'GET' && r.path === `/v2/${repo}/blobs/${digest}`;

    it('survives a connection dropped mid-blob, resuming with Range', async () => {
      const half = Math.floor(bigSize / 2);
      const p = await proxy(open.host, [{ match: blobGet(bigLayer), dropAfterBytes: half }]);
      const store = await newStore();
      const events: RegistryEvent[] = [];
      const pulled = await pullImage(`${p.host}/${repo}:1`, { session: session({ onEvent: (e) => events.push(e) }), store });
      expect(pulled.digest).toBe(big.digest());
      const gets = p.log.filter((e) => e.path === `/v2/${repo}/blobs/${bigLayer}`);
      expect(gets.map((e) => [e.status, e.fault])).toEqual([
        [200, 'drop'],
        [206, undefined],
      ]);
      const offset = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(half);
      expect(events.filter((e) => e.type === 'blob-resume').map((e) => (e.type === 'blob-resume' ? [e.digest, e.offset] : []))).toEqual([[bigLayer, offset]]);
      expect(sha256Digest(await store.readBlob(bigLayer))).toBe(bigLayer);
    });

    it('resumes from a server that ignores Range by skipping what it already has', async () => {
      const p = await proxy(open.host, [
        { match: blobGet(bigLayer), dropAfterBytes: 300_000 },
        { match: blobGet(bigLayer), stripRange: true },
      ]);
      const store = await newStore();
      const pulled = await pullImage(`${p.host}/${repo}:1`, { session: session(), store });
      expect(pulled.digest).toBe(big.digest());
      const gets = p.log.filter((e) => e.path === `/v2/${repo}/blobs/${bigLayer}`);
      expect(gets.map((e) => [e.status, e.fault, /^bytes=\d+-$/.test(e.range ?? '')])).toEqual([
        [200, 'drop', false],
        [200, 'strip-range', true],
      ]);
      expect(sha256Digest(await store.readBlob(bigLayer))).toBe(bigLayer);
    });

    it('retries 503 with backoff', async () => {
      const p = await proxy(open.host, [{ match: (r) => r.path === `/v2/${repo}/manifests/1`, status: 503, times: 2 }]);
      const pulled = await pullImage(`${p.host}/${repo}:1`, { session: session(), store: await newStore() });
      expect(pulled.digest).toBe(big.digest());
      expect(p.log.filter((e) => e.path === `/v2/${repo}/manifests/1`).map((e) => `${e.method} ${e.status}`)).toEqual(['HEAD 503', 'HEAD 503', 'HEAD 200']);
    });

    it('gives up on a blob whose connection always drops', async () => {
      const p = await proxy(open.host, [{ match: blobGet(bigLayer), dropAfterBytes: 1000, times: 100 }]);
      const store = await newStore();
      await expect(pullImage(`${p.host}/${repo}:1`, { session: session(), store })).rejects.toMatchObject({
        code: 'REGISTRY_BLOB_INTERRUPTED',
        message: expect.stringMatching(new RegExp(`^downloading layer ${bigLayer} of ${p.host}/${repo} failed after \\d+ of ${bigSize} bytes: `)),
      });
      expect(await store.hasBlob(bigLayer)).toBe(false);
    });

    it('rejects a blob that does not match its digest and keeps nothing', async () => {
      const p = await proxy(open.host, [{ match: blobGet(bigLayer), corrupt: true }]);
      const store = await newStore();
      const err = await pullImage(`${p.host}/${repo}:1`, { session: session(), store }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'REGISTRY_DIGEST_MISMATCH',
        message: expect.stringMatching(
          new RegExp(`^layer ${bigLayer} from ${p.host}/${repo} does not match its digest: received content has digest sha256:[0-9a-f]{64} \\(${bigSize} bytes\\), expected ${bigSize} bytes; nothing was stored$`),
        ),
      });
      expect(await store.hasBlob(bigLayer)).toBe(false);
      expect((await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    });

    it('fetches layers in parallel', async () => {
      const layers = big.layers.map((l) => l.digest);
      const p = await proxy(open.host, [{ match: (r) => layers.some((d) => blobGet(d)(r)), gate: 3, times: 3 }]);
      const pulled = await pullImage(`${p.host}/${repo}:1`, { session: session(), store: await newStore() });
      expect(pulled.digest).toBe(big.digest());
      expect(p.gateTimedOut()).toBe(false);
      expect(p.log.filter((e) => e.fault === 'gate')).toHaveLength(3);
    });

    it('never downloads a blob twice', async () => {
      const p = await proxy(open.host, []);
      const store = await newStore();
      const s = session();
      // Two images sharing their first two layers, pulled at the same time, then again.
      const sibling = appendLayers(
        (await pullImage(`${p.host}/${repo}:1`, { session: session(), store: await newStore() })).image,
        { layer: await layerFromEntries([{ path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'x' }]) },
      );
      await pushImage(sibling, `${open.host}/${repo}:sibling`, { session: session() });
      p.log.length = 0;
      await Promise.all([
        pullImage(`${p.host}/${repo}:1`, { session: s, store }),
        pullImage(`${p.host}/${repo}:sibling`, { session: s, store }),
      ]);
      await pullImage(`${p.host}/${repo}:1`, { session: session(), store, pull: true });
      const blobGets = p.log.filter((e) => e.method === 'GET' && e.path.includes('/blobs/')).map((e) => e.path.split('/').pop());
      const expected = [...new Set([...big.layers, ...sibling.layers].map((l) => l.digest)), big.configDigest(), sibling.configDigest()];
      expect(blobGets.sort()).toEqual(expected.sort());
    });

    it('uploads in chunks', async () => {
      const p = await proxy(open.host, []);
      const pushed = await pushImage(big, `${p.host}/chunked/big:1`, { session: session(), chunkSize: 256 * 1024 });
      expect(pushed.digest).toBe(big.digest());
      const patches = p.log.filter((e) => e.method === 'PATCH');
      expect(patches.length).toBe(Math.ceil(bigSize / (256 * 1024)) + 3); // the big layer in chunks, the others in one each
      const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${open.host}/chunked/big:1`]);
      expect(sha256Digest(raw)).toBe(big.digest());
      const pulled = await pullImage(`${open.host}/chunked/big:1`, { session: session(), store: await newStore() });
      expect(pulled.digest).toBe(big.digest());
    });
  });

  describe('tags: resolved once per build, re-resolved with pull', () => {
    it('reuses a resolution within a session and across builds unless pull is set', async () => {
      const first = await smallImage({ architecture: hostArch, layers: [{ v: '1' }] });
      const second = await smallImage({ architecture: hostArch, layers: [{ v: '2' }] });
      await pushImage(first, `${open.host}/tags/app:latest`, { session: session() });
      const p = await proxy(open.host, []);
      const store = await newStore();
      const manifestRequests = () =>
        p.log.filter((e) => e.path.startsWith('/v2/tags/app/manifests/')).map((e) => `${e.method} ${e.path.slice('/v2/tags/app/manifests/'.length)}`);

      // One resolution per session: HEAD names the digest, GET fetches it by digest.
      const s = session();
      const a = await resolveImage(`${p.host}/tags/app`, { session: s, store });
      const b = await resolveImage(`${p.host}/tags/app:latest`, { session: s, store });
      expect([a.digest, b.digest, a.fromCache]).toEqual([first.digest(), first.digest(), false]);
      expect(manifestRequests()).toEqual(['HEAD latest', `GET ${first.digest()}`]);

      // The tag moves; a later build without --pull keeps what it resolved, asking nothing.
      await pushImage(second, `${open.host}/tags/app:latest`, { session: session() });
      p.log.length = 0;
      const c = await resolveImage(`${p.host}/tags/app`, { session: session(), store });
      expect([c.digest, c.fromCache, p.log.length]).toEqual([first.digest(), true, 0]);

      // --pull asks again and sees the new digest.
      const d = await resolveImage(`${p.host}/tags/app`, { session: session(), store, pull: true });
      expect([d.digest, d.fromCache]).toEqual([second.digest(), false]);
      expect(manifestRequests()).toEqual(['HEAD latest', `GET ${second.digest()}`]);

      // --pull with an unchanged tag costs one HEAD: the manifest is already stored.
      p.log.length = 0;
      const e = await resolveImage(`${p.host}/tags/app`, { session: session(), store, pull: true });
      expect(e.digest).toBe(second.digest());
      expect(manifestRequests()).toEqual(['HEAD latest']);
    });
  });

  describe('TLS', () => {
    it('speaks HTTPS (unverified) to a loopback registry that serves TLS', async () => {
      const tls = await startRegistry(undefined, { tls: selfSignedPem('127.0.0.1') });
      try {
        const image = await smallImage({ architecture: hostArch, layers: [{ tls: 'yes' }] });
        const s = session();
        const pushed = await pushImage(image, `${tls.host}/secure/app:1`, { session: s });
        expect(s.client(tls.host).baseUrl.href).toBe(`https://${tls.host}/`);
        const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${tls.host}/secure/app:1`]);
        expect(sha256Digest(raw)).toBe(pushed.digest);
        const pulled = await pullImage(`${tls.host}/secure/app:1`, { session: session(), store: await newStore() });
        expect(pulled.digest).toBe(image.digest());
      } finally {
        await tls.stop();
      }
    });

    it('uses plain HTTP for a loopback registry without TLS', async () => {
      const client = session().client(open.host);
      await client.ping();
      expect(client.baseUrl.href).toBe(`http://${open.host}/`);
    });
  });

  describe('errors', () => {
    it('reports a missing tag', async () => {
      await expect(pullImage(`${open.host}/nope/nothing:1`, { session: session(), store: await newStore() })).rejects.toMatchObject({
        code: 'REGISTRY_NOT_FOUND',
        message: `manifest ${open.host}/nope/nothing:1: not found in registry ${open.host} (404 Not Found to GET /v2/nope/nothing/manifests/1: MANIFEST_UNKNOWN: manifest unknown)`,
      });
    });

    it('reports an unreachable registry', async () => {
      const port = await freePort();
      await expect(pullImage(`127.0.0.1:${port}/x:1`, { session: session(), store: await newStore() })).rejects.toMatchObject({
        code: 'REGISTRY_UNREACHABLE',
        message: `cannot reach registry 127.0.0.1:${port} at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
      });
    });
  });
});
