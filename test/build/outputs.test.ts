/**
 * Outputs end to end through the CLI (`build-image build -t … -o … -o …`, as users run it), on
 * the busybox base with a COPY and a RUN, every output checked with the real consumers:
 * the OCI archive and layout with skopeo, umoci (the exact root filesystem) and
 * oci-image-tool; the docker archive with skopeo and, where a Docker engine answers
 * `docker info`, `docker load` and a run of the image's CMD; `type=local` and `type=tar`
 * against the image's tree; `-t` as ref.name / RepoTags; the default output (the store, an
 * OCI layout) tagged; --iidfile and --metadata-file.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Image } from '../../src/image/image.js';
import { readTar } from '../../src/image/tar.js';
import { readOciArchive } from '../../src/oci/archive.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { runCli, type CliResult } from '../support/cli.js';
import { hasTool, which } from '../support/tools.js';
import { dirTree, imageTree } from '../support/tree.js';
import { busyboxBase, EPOCH, ownTree, sha, workspace, writeTree } from './helpers.js';

const ws = workspace('outputs');
afterAll(() => ws.cleanup());

const tools = hasTool('busybox', 'busybox-static') && hasTool('skopeo', 'skopeo') && hasTool('umoci', 'umoci') && hasTool('oci-image-tool', 'oci-image-tool') && hasTool('tar', 'tar');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A Docker engine that answers (the Debian engine of anchors/setup.sh, or any other). */
function dockerWorks(): boolean {
  if (!which('docker')) return false;
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const TAG = `build-image-e2e/app:${process.pid}`;

describe.runIf(tools)('outputs of one CLI build', () => {
  const out = (name: string) => join(ws.root, 'out', name);
  let cli: CliResult;
  let image: Image;
  let meta: Record<string, unknown>;

  beforeAll(async () => {
    const bb = await busyboxBase();
    const ctx = writeTree(ws.dir('ctx'), {
      Dockerfile: 'FROM busybox\nCOPY site/ /srv/site/\nRUN echo built > /srv/stamp\nWORKDIR /srv\nCMD ["/bin/cat", "/srv/stamp"]\n',
      'site/index.html': '<h1>hi</h1>\n',
    });
    mkdirSync(join(ws.root, 'out'));
    cli = await runCli(
      [
        'build',
        '--progress=quiet',
        '--cache-dir', 'store',
        '--build-context', `busybox=oci-layout://${bb.dir}:latest`,
        '-t', TAG,
        '-o', `type=oci,dest=${out('image.tar')}`,
        '-o', `type=oci,dest=${out('layout')},tar=false`,
        '-o', `type=docker,dest=${out('docker.tar')}`,
        '-o', `type=local,dest=${out('rootfs')}`,
        '-o', `type=tar,dest=${out('rootfs.tar')}`,
        '--iidfile', out('iid'),
        '--metadata-file', out('meta.json'),
        ctx,
      ],
      { cwd: ws.root, env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } },
    );
    if (cli.code !== 0) throw new Error(`build failed (${cli.code}):\n${cli.stderr}`);
    image = await readOciArchive(out('image.tar'));
    meta = JSON.parse(readFileSync(out('meta.json'), 'utf8')) as Record<string, unknown>;
  });

  it('builds what the Dockerfile says; iidfile and metadata-file name it', async () => {
    expect(await ownTree(image, { mtime: true })).toEqual([
      `d 0755 0:0 srv @${EPOCH}`,
      `d 0755 0:0 srv/site @${EPOCH}`,
      `f 0644 0:0 srv/site/index.html ${sha('<h1>hi</h1>\n')} @${EPOCH}`,
      `f 0644 0:0 srv/stamp ${sha('built\n')} @${EPOCH}`,
    ]);
    expect(readFileSync(out('iid'), 'utf8')).toBe(image.configDigest());
    expect(meta).toMatchObject({
      'containerimage.digest': image.digest(),
      'containerimage.config.digest': image.configDigest(),
      'image.name': TAG,
    });
    expect((meta['build-image.outputs'] as { type: string; digest: string }[]).map((o) => [o.type, o.digest])).toEqual(
      ['oci', 'oci', 'docker', 'local', 'tar'].map((t) => [t, image.digest()]),
    );
    expect(cli.stderr).toContain(`built ${image.digest()}`);
  });

  it('OCI archive and layout: -t is the ref name; skopeo reads the same manifest and config', async () => {
    const index = (json: string) => JSON.parse(json) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    const expected = [{ digest: image.digest(), annotations: { 'io.containerd.image.name': TAG, 'org.opencontainers.image.ref.name': String(process.pid) } }];
    expect(index(run('tar', ['-xOf', out('image.tar'), 'index.json'])).manifests).toMatchObject(expected);
    expect(index(readFileSync(join(out('layout'), 'index.json'), 'utf8')).manifests).toMatchObject(expected);
    for (const ref of [`oci-archive:${out('image.tar')}`, `oci:${out('layout')}:${process.pid}`]) {
      const inspected = JSON.parse(run('skopeo', ['inspect', ref])) as Record<string, unknown>;
      expect(inspected).toMatchObject({ Digest: image.digest(), Created: '2023-11-14T22:13:20Z', Os: 'linux', Layers: image.layers.map((l) => l.digest) });
      expect(JSON.parse(run('skopeo', ['inspect', '--config', ref]))).toEqual(JSON.parse(image.configBytes().toString()));
    }
    expect((await readOciLayout(out('layout'), { tag: String(process.pid) })).digest()).toBe(image.digest());
  });

  it('umoci unpacks exactly the image tree (owners, modes, mtimes)', () => {
    const bundle = join(ws.root, 'bundle');
    run('umoci', ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${out('layout')}:${process.pid}`, bundle]);
    const owners = process.getuid?.() === 0;
    return imageTree(image, { owners, mtime: true }).then((tree) => expect(dirTree(join(bundle, 'rootfs'), { owners, mtime: true })).toEqual(tree));
  });

  it('oci-image-tool validates the layout and the archive', () => {
    expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${process.pid}`, out('layout')])).toContain(`${out('layout')}: OK`);
    // Debian's oci-image-tool (1.0.0-rc1) cannot walk any tar ("find failed: unable to walk:
    // end of walk", skopeo's archives included): the archive is validated unpacked.
    const unpacked = join(ws.root, 'archive-unpacked');
    mkdirSync(unpacked);
    run('tar', ['-xf', out('image.tar'), '-C', unpacked]);
    expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${process.pid}`, unpacked])).toContain(`${unpacked}: OK`);
    const blob = (d: string) => join(unpacked, 'blobs', 'sha256', d.slice(7));
    expect(run('oci-image-tool', ['validate', '--type', 'manifest', blob(image.digest())])).toContain('OK');
    expect(run('oci-image-tool', ['validate', '--type', 'config', blob(image.configDigest())])).toContain('OK');
  });

  it('docker archive: RepoTags from -t, skopeo reads its layers and config', () => {
    expect(JSON.parse(run('tar', ['-xOf', out('docker.tar'), 'manifest.json']))).toEqual([
      { Config: `${image.configDigest().slice(7)}.json`, Layers: image.layers.map((l) => `${l.diffID.slice(7)}.tar`), RepoTags: [TAG] },
    ]);
    const ref = `docker-archive:${out('docker.tar')}`;
    expect(JSON.parse(run('skopeo', ['inspect', ref]))).toMatchObject({ Layers: image.layers.map((l) => l.diffID), Os: 'linux' });
    expect(JSON.parse(run('skopeo', ['inspect', '--config', ref]))).toEqual(JSON.parse(image.configBytes().toString()));
  });

  // --network=host: no network namespace for the engine to mount (the Debian engine runs
  // without a bridge; other tests watch the host's mounts).
  it.runIf(dockerWorks())('docker load, then docker run the image’s CMD', () => {
    try {
      expect(run('docker', ['load', '-i', out('docker.tar')])).toContain(`Loaded image: ${TAG}`);
      expect(run('docker', ['image', 'inspect', '--format', '{{.Id}}', TAG]).trim()).toBe(image.configDigest());
      expect(run('docker', ['run', '--rm', '--network=host', TAG])).toBe('built\n');
    } finally {
      execFileSync('docker', ['rmi', '-f', TAG], { stdio: 'ignore' });
    }
  });

  it('type=local is the root filesystem; type=tar the same as one tar', async () => {
    const owners = process.getuid?.() === 0;
    expect(dirTree(out('rootfs'), { owners, mtime: true })).toEqual(await imageTree(image, { owners, mtime: true }));
    const lines: string[] = [];
    for await (const e of readTar([readFileSync(out('rootfs.tar'))])) {
      if (e.type === 'file') lines.push(`f ${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${e.uid}:${e.gid} ${e.path.replace(/\/$/, '')} ${sha(await e.bytes())}`);
      else if (e.type === 'dir') lines.push(`d ${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${e.uid}:${e.gid} ${e.path.replace(/\/$/, '')}`);
      else if (e.type === 'symlink') lines.push(`l 0777 ${e.uid}:${e.gid} ${e.path} -> ${e.linkname}`);
      else lines.push(`? ${e.path}`);
    }
    expect(lines).toEqual(await imageTree(image));
  });
});

describe.runIf(tools)('the default output: the store, an OCI layout', () => {
  it('holds the image under -t (or <context dir>:latest) for skopeo', async () => {
    const bb = await busyboxBase();
    const ctx = writeTree(ws.dir('My Context'), { Dockerfile: 'FROM busybox\nCOPY a /a\n', a: 'a' });
    const store = join(ws.root, 'default-store');
    const args = ['build', '--progress=quiet', '--cache-dir', store, '--build-context', `busybox=oci-layout://${bb.dir}:latest`];
    const tagged = await runCli([...args, '-t', 'example/app:2', ctx]);
    const untagged = await runCli([...args, ctx]);
    expect([tagged.code, untagged.code]).toEqual([0, 0]);
    const index = JSON.parse(readFileSync(join(store, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    const names = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort();
    const ctxName = ctx.split('/').pop()!.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
    expect(names).toEqual([`${ctxName}:latest`, 'example/app:2'].sort());
    const digest = index.manifests[0]!.digest;
    expect(index.manifests.map((m) => m.digest)).toEqual([digest, digest]);
    expect(JSON.parse(run('skopeo', ['inspect', `oci:${store}:example/app:2`]))).toMatchObject({ Digest: digest });
    expect(tagged.stderr).toContain(`stored in the local image store (an OCI layout): ${store}:example/app:2`);
  });
});
