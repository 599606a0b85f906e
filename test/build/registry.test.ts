/**
 * Builds with a registry end to end (issue 5), against the real CNCF distribution server
 * (test/registry/support): the busybox fixture is pushed, a Dockerfile builds `FROM
 * 127.0.0.1:PORT/busybox:latest` (COPY and RUN), the result is pushed with
 * `-o type=registry,name=…` (library) and `-t REF --push` (CLI), and skopeo reads back exactly
 * the built manifest; --metadata-file names the pushed digest; a Basic-auth registry is pulled
 * from with a DOCKER_CONFIG config file, and refused (401, naming the registry) without one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../src/build.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { createRegistrySession, pushImage, staticCredentials } from '../../src/registry/index.js';
import { runCli } from '../support/cli.js';
import { hasTool } from '../support/tools.js';
import { skopeo } from '../registry/support/images.js';
import { startRegistry, type RunningRegistry } from '../registry/support/registry-server.js';
import { busyboxBase, EPOCH, ownTree, sha, workspace, writeTree } from './helpers.js';

const tools =
  hasTool('docker-registry', 'docker-registry') && hasTool('htpasswd', 'apache2-utils') && hasTool('skopeo', 'skopeo') && hasTool('busybox', 'busybox-static');

const ws = workspace('registry');
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.runIf(tools)('building with a registry', () => {
  let open: RunningRegistry;
  let basic: RunningRegistry;
  let baseDigest: string;
  /** DOCKER_CONFIG dirs: one with no credentials, one with alice's for the Basic-auth registry. */
  let noConfig: string;
  let aliceConfig: string;

  beforeAll(async () => {
    [open, basic] = await Promise.all([startRegistry(), startRegistry({ htpasswd: { users: { alice: 'wonderland' } } })]);
    const bb = await busyboxBase();
    const image = await readOciLayout(bb.dir, { tag: 'latest' });
    baseDigest = image.digest();
    const session = createRegistrySession({ credentials: staticCredentials({ [basic.host]: { username: 'alice', password: 'wonderland' } }) });
    try {
      await pushImage(image, `${open.host}/busybox:latest`, { session });
      await pushImage(image, `${basic.host}/private/busybox:latest`, { session });
    } finally {
      session.close();
    }
    noConfig = join(ws.root, 'docker-config-empty');
    aliceConfig = join(ws.root, 'docker-config-alice');
    mkdirSync(noConfig);
    mkdirSync(aliceConfig);
    writeFileSync(join(noConfig, 'config.json'), '{}');
    writeFileSync(join(aliceConfig, 'config.json'), JSON.stringify({ auths: { [basic.host]: { auth: b64('alice:wonderland') } } }));
  });

  afterAll(async () => {
    await Promise.all([open?.stop(), basic?.stop()]);
    ws.cleanup();
  });

  const dockerfile = (base: string) => `FROM ${base}\nCOPY site/ /srv/site/\nRUN echo built on busybox > /srv/stamp\nCMD ["/bin/cat", "/srv/stamp"]\n`;
  const site = { 'site/index.html': '<h1>registry</h1>\n' };
  const rawDigest = (raw: string) => `sha256:${createHash('sha256').update(raw).digest('hex')}`;

  it('build() FROM the registry, then -o type=registry: skopeo reads back the same manifest and config', async () => {
    const context = writeTree(ws.dir('lib'), { Dockerfile: dockerfile(`${open.host}/busybox:latest`), ...site });
    const ref = `${open.host}/app/lib:1`;
    const r = await build({ context, cacheDir: join(ws.root, 'store-lib'), sourceDateEpoch: EPOCH, outputs: [`type=registry,name=${ref}`] });
    expect(r.outputs).toEqual([{ type: 'registry', location: ref, digest: r.digest }]);
    expect(r.plan.stages[0]!.base).toMatchObject({ kind: 'image', ref: `${open.host}/busybox:latest`, digest: baseDigest });
    expect(await ownTree(r.image)).toEqual([
      'd 0755 0:0 srv',
      'd 0755 0:0 srv/site',
      `f 0644 0:0 srv/site/index.html ${sha('<h1>registry</h1>\n')}`,
      `f 0644 0:0 srv/stamp ${sha('built on busybox\n')}`,
    ]);
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
    expect(rawDigest(raw)).toBe(r.digest);
    expect(raw).toBe(r.image.manifestBytes().toString());
    expect(JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--config', `docker://${ref}`]))).toEqual(JSON.parse(r.image.configBytes().toString()));
    const inspected = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(r.digest);
    // The base's layer is the one pulled from the registry, mounted — not rebuilt.
    expect(inspected.Layers[0]).toBe(r.image.layers[0]!.digest);
  });

  it('the CLI: -t REF --push, --metadata-file holds the pushed digest, skopeo reads it back', async () => {
    const context = writeTree(ws.dir('cli'), { Dockerfile: dockerfile(`${open.host}/busybox:latest`), ...site });
    const ref = `${open.host}/app/cli:2`;
    const meta = join(ws.root, 'meta.json');
    const res = await runCli(['build', '--progress=quiet', '--cache-dir', join(ws.root, 'store-cli'), '-t', ref, '--push', '--metadata-file', meta, context], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), DOCKER_CONFIG: noConfig },
    });
    expect(res.code, res.stderr).toBe(0);
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, unknown>;
    const digest = m['containerimage.digest'] as string;
    expect(m).toMatchObject({ 'image.name': ref, 'build-image.outputs': [{ type: 'registry', location: ref, digest }] });
    expect(res.stderr).toContain(`pushed ${ref}@${digest}`);
    const raw = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
    expect(rawDigest(raw)).toBe(digest);
    // Same inputs, same epoch: the library and the CLI built the same image.
    const lib = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${open.host}/app/lib:1`])) as { Digest: string };
    expect(lib.Digest).toBe(digest);
  });

  it('a Basic-auth registry: pulled with a DOCKER_CONFIG config file, refused (401, naming the registry) without', async () => {
    const context = writeTree(ws.dir('auth'), { Dockerfile: dockerfile(`${basic.host}/private/busybox:latest`), ...site });
    const args = ['build', '--progress=quiet', '--cache-dir', join(ws.root, 'store-auth'), '-o', `type=oci,dest=${join(ws.root, 'auth.tar')}`, context];
    const denied = await runCli(args, { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), DOCKER_CONFIG: noConfig } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`error REGISTRY_UNAUTHORIZED: ${basic.host}/private/busybox:latest: registry ${basic.host} answered 401 Unauthorized`);
    expect(denied.stderr).toContain(`log in with \`docker login ${basic.host}\``);

    const allowed = await runCli(args, { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), DOCKER_CONFIG: aliceConfig } });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/^built sha256:[0-9a-f]{64}\n/);
  });
});
