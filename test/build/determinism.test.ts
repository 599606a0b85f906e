/**
 * Determinism and bases, end to end: the same inputs give the same manifest digest — twice,
 * from a fresh store, and pinned here as exact values; SOURCE_DATE_EPOCH (option or
 * environment) sets `created` and clamps file mtimes; bases are scratch, earlier stages, and
 * an image given as `--build-context NAME=oci-layout://PATH[:TAG|@DIGEST]` in place of a FROM
 * image (no registry is asked).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build as buildImage } from '../../src/build.js';
import type { Image } from '../../src/image/image.js';
import { readOciLayout, writeOciLayout } from '../../src/oci/layout.js';
import { runCli } from '../support/cli.js';
import { hasTool } from '../support/tools.js';
import { imageTree } from '../support/tree.js';
import { builder, busyboxBase, busyboxContext, CREATED, EPOCH, ownTree, sha, workspace, writeTree } from './helpers.js';

const ws = workspace('determinism');
afterAll(() => ws.cleanup());
const build = builder(ws);
const busybox = hasTool('busybox', 'busybox-static');

const configOf = (image: Image) => JSON.parse(image.configBytes().toString()) as { created: string; history: { created: string }[] };

const FILES = {
  Dockerfile: 'FROM scratch AS deps\nCOPY lib /lib/\nFROM scratch\nCOPY --from=deps /lib /opt/lib\nCOPY app.sh /bin/app\nENV MODE=prod\nCMD ["/bin/app"]\n',
  'lib/a.so': 'a',
  'lib/b.so': 'b',
  'app.sh': { file: '#!/bin/sh\n', mode: 0o755 },
};

describe('determinism', () => {
  it('same inputs → same manifest digest: twice, from a fresh store, and exactly this one', async () => {
    // The platform is fixed so the pinned digests hold on any host.
    const first = await build(FILES, { platform: 'linux/amd64' });
    const again = await build(FILES, { platform: 'linux/amd64' });
    const fresh = await build(FILES, { platform: 'linux/amd64', cacheDir: join(ws.root, 'fresh-store') });
    expect(again.digest).toBe(first.digest);
    expect(fresh.digest).toBe(first.digest);
    expect(fresh.configDigest).toBe(first.configDigest);
    // Pinned: a change to tar writing, gzip, JSON or config defaults shows up here.
    expect({ digest: first.digest, config: first.configDigest, diffIDs: first.image.layers.map((l) => l.diffID) }).toEqual({
      digest: 'sha256:f1cd0aea1d08f8a6ae4b2e20fcffa68a4050ef37864e78be55fa0ef8363eeee2',
      config: 'sha256:ecc7b682a2be108df95d328a58aadc3631b2215d53f49e6519b51d8584d9691f',
      diffIDs: ['sha256:cb536675afda1cc62fd25c8ab2cb86c82ca44b03ef5c1fcac597e5f38dc22563', 'sha256:1323cb59b9a5404896eabc6271b342b7044306ee963c5b5c4961a0789714e681'],
    });
  });

  it('SOURCE_DATE_EPOCH sets created (image and history) and clamps newer mtimes; older ones stay', async () => {
    const r = await build({
      Dockerfile: 'FROM scratch\nCOPY . /c/\nWORKDIR /w\nLABEL x=y\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
      old: { file: 'old', mtime: 1000 },
      new: { file: 'new', mtime: 1800000000 },
    });
    expect(await imageTree(r.image, { mtime: true })).toEqual([
      `d 0755 0:0 c @${EPOCH}`,
      `f 0644 0:0 c/new ${sha('new')} @${EPOCH}`,
      `f 0644 0:0 c/old ${sha('old')} @1000`,
      `d 0755 0:0 w @${EPOCH}`,
    ]);
    const c = configOf(r.image);
    expect([c.created, ...c.history.map((h) => h.created)]).toEqual([CREATED, CREATED, CREATED, CREATED]);
  });

  it('another epoch gives another digest; the same epoch from the environment (CLI) the same one', async () => {
    const a = await build(FILES);
    const b = await build(FILES, { sourceDateEpoch: EPOCH + 1 });
    expect(b.digest).not.toBe(a.digest);
    expect(configOf(b.image).created).toBe('2023-11-14T22:13:21Z');

    const ctx = writeTree(ws.dir('cli'), FILES);
    const meta = join(ws.root, 'meta.json');
    const res = await runCli(['build', '--cache-dir', join(ws.root, 'cli-store'), '--metadata-file', meta, '-o', `type=oci,dest=${join(ws.root, 'cli.tar')}`, ctx], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) },
    });
    expect(res.stderr).toContain(`built ${a.digest}`);
    expect(res.code).toBe(0);
  });
});

describe.runIf(busybox)('bases', () => {
  let layout: string;
  let bb: Awaited<ReturnType<typeof busyboxBase>>;
  beforeAll(async () => {
    bb = await busyboxBase();
    // A layout holding two images: busybox tagged `v1`, and a small one tagged `tools`.
    layout = join(ws.root, 'two-images');
    const small = await build({ Dockerfile: 'FROM scratch\nCOPY t /t\n', t: 'tools' });
    await writeOciLayout(layout, await readOciLayout(bb.dir, { tag: 'latest' }), { tag: 'v1' });
    await writeOciLayout(layout, small.image, { tag: 'tools' });
  });

  it('FROM an earlier stage, and FROM an image replaced by oci-layout:// (by tag, by digest, ref-name tag part)', async () => {
    const dockerfile = 'FROM alpine:3.20 AS base\nCOPY a /a\nFROM base\nCOPY b /b\n';
    const spec = { Dockerfile: dockerfile, a: 'a', b: 'b' };
    const byTag = await build(spec, { buildContexts: { 'alpine:3.20': `oci-layout://${layout}:v1` } });
    const byDigest = await build(spec, { buildContexts: { 'alpine:3.20': `oci-layout://${layout}@${bb.digest}` } });
    // The fixture's ref name is `busybox:latest`: its tag part answers too.
    const byTagPart = await build(spec, { buildContexts: { 'alpine:3.20': `oci-layout://${bb.dir}:latest` } });
    expect(byDigest.digest).toBe(byTag.digest);
    expect(byTagPart.digest).toBe(byTag.digest);
    const base = await readOciLayout(bb.dir, { tag: 'latest' });
    expect(byTag.image.layers.slice(0, 1).map((l) => l.digest)).toEqual(base.layers.map((l) => l.digest));
    expect(await ownTree(byTag.image)).toEqual([`f 0644 0:0 a ${sha('a')}`, `f 0644 0:0 b ${sha('b')}`]);
    // The stage's FROM line names the image the user wrote; history starts with busybox's.
    expect(configOf(byTag.image).history).toHaveLength(3);
  });

  it('an oci-layout build context with several images and no tag says which to pick', async () => {
    const err = await buildImage({
      context: writeTree(ws.dir('ctx'), { Dockerfile: 'FROM base\n' }),
      cacheDir: join(ws.root, 'store'),
      buildContexts: { base: `oci-layout://${layout}` },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OCI_AMBIGUOUS_IMAGE', message: expect.stringContaining('holds 2 images: say which with a tag or digest') });
  });

  it('FROM scratch stays empty; busybox build context used as FROM busybox', async () => {
    const r = await build({ Dockerfile: 'FROM scratch\n' });
    expect(r.image.layers).toEqual([]);
    const onBusybox = await build({ Dockerfile: 'FROM busybox\n' }, { buildContexts: await busyboxContext() });
    expect(onBusybox.digest).not.toBe(r.digest);
    expect(onBusybox.image.layers.map((l) => l.digest)).toEqual((await readOciLayout(bb.dir, { tag: 'latest' })).layers.map((l) => l.digest));
  });
});
