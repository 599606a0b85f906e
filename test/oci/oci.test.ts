import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest, type Digest } from '../../src/image/digest.js';
import { extractTar } from '../../src/image/extract.js';
import { appendLayers, emptyImage, setConfig, type Image } from '../../src/image/image.js';
import { layerFromEntries } from '../../src/image/layer.js';
import { MediaType } from '../../src/image/schema.js';
import { readAll } from '../../src/image/stream.js';
import { readTarFile } from '../../src/image/tar.js';
import { readOciArchive, writeOciArchive } from '../../src/oci/archive.js';
import { normalizeDockerTag, writeDockerArchive } from '../../src/oci/docker.js';
import { readOciLayout, validateRefName, writeOciLayout } from '../../src/oci/layout.js';
import { createReadStream } from 'node:fs';
import { hasTool } from '../support/tools.js';
import { FIXED_DIFF_ID, FIXED_DIGEST, FIXED_ENTRIES, SECOND_ENTRIES } from '../image/samples.js';
import { isRoot, run, skopeoInspect, skopeoRaw, tree, umociUnpack } from './tools.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `bi-${p}-`));

let image: Image;
let secondDigest: Digest;
let secondDiffID: Digest;

beforeAll(async () => {
  const second = await layerFromEntries(SECOND_ENTRIES);
  secondDigest = second.digest;
  secondDiffID = second.diffID;
  image = setConfig(
    appendLayers(
      emptyImage({ platform: { os: 'linux', architecture: 'amd64' } }),
      { layer: await layerFromEntries(FIXED_ENTRIES), history: { created_by: 'COPY hello /etc/', created: '1970-01-01T00:00:00Z' } },
      { layer: second, history: { created_by: 'RUN rm /etc/hello', created: '1970-01-01T00:00:00Z' } },
    ),
    { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], WorkingDir: '/etc', Labels: { 'org.example': 'yes' } },
  );
});

// The rootfs of `image`, as any correct unpacker must produce it (hello deleted by a whiteout).
const ROOTFS = (own: (uid: number) => string) => [
  `d 0755${own(0)} bin`,
  `l 0777${own(0)} bin/sh -> busybox`,
  `d 0755${own(0)} etc`,
  `f 0644${own(1000)} etc/motd "welcome\\n"`,
];
const owner = (uid: number) => (isRoot ? ` ${uid}:${uid}` : '');

describe('the test image', () => {
  it('has pinned digests (same inputs → same image)', () => {
    expect(image.layers.map((l) => [l.digest, l.diffID])).toEqual([
      [FIXED_DIGEST, FIXED_DIFF_ID],
      [secondDigest, secondDiffID],
    ]);
    expect(secondDiffID).toBe('sha256:225d00370a77997a722c1799a0b19f30afcf22f26a47fded0661d19eb52a640b');
    expect(image.configBytes().toString()).toBe(
      '{"architecture":"amd64","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"],"Labels":{"org.example":"yes"},"WorkingDir":"/etc"},' +
        '"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"COPY hello /etc/"},' +
        '{"created":"1970-01-01T00:00:00Z","created_by":"RUN rm /etc/hello"}],"os":"linux",' +
        `"rootfs":{"diff_ids":["${FIXED_DIFF_ID}","${secondDiffID}"],"type":"layers"}}`,
    );
    // The config digest depends only on diffIDs (tar bytes); the manifest digest also on gzip.
    expect(image.configDigest()).toBe('sha256:03d647aa7f9c0af2276ca009918ca3771bde1b8e90dce5221d0c42560508a8a4');
    expect(image.digest()).toBe('sha256:0e94a866ccb5cf0ff92b4ba4a1df102f1d5c071ba1b816f155fdad1a5b125670');
  });
});

describe('writeOciLayout', () => {
  it('writes oci-layout, index.json with the ref name, and every blob', async () => {
    const dir = tmp('layout');
    const r = await writeOciLayout(dir, image, { tag: 'test:one' });
    expect(r.digest).toBe(image.digest());
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(
      `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"test:one"},"digest":"${image.digest()}",` +
        `"mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux"},` +
        `"size":${image.manifestBytes().length}}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}`,
    );
    const blobs = readdirSync(join(dir, 'blobs', 'sha256')).sort();
    expect(blobs).toEqual([FIXED_DIGEST, secondDigest, image.configDigest(), image.digest()].map((d) => d.slice(7)).sort());
    for (const hex of blobs) expect(sha256Digest(readFileSync(join(dir, 'blobs', 'sha256', hex)))).toBe(`sha256:${hex}`);
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('adding a second tag keeps the first; writing a tag again moves it; blobs are not rewritten', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'one' });
    const blob = join(dir, 'blobs', 'sha256', FIXED_DIGEST.slice(7));
    const before = statSync(blob);
    await writeOciLayout(dir, image, { tag: 'two' });
    const other = emptyImage({ platform: { os: 'linux', architecture: 'amd64' } });
    await writeOciLayout(dir, other, { tag: 'one' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest])).toEqual([
      ['two', image.digest()],
      ['one', other.digest()],
    ]);
    const after = statSync(blob);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-') || n.endsWith('.lock'))).toEqual([]);
  });

  it('an untagged image is listed once', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image);
    await writeOciLayout(dir, image);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: unknown[] };
    expect(index.manifests).toHaveLength(1);
  });

  it.each([['Has Space'], ['a//b'], [':x'], ['x:'], ['']])('rejects tag %j', async (tag) => {
    expect(() => validateRefName(tag)).toThrow(expect.objectContaining({ code: 'OCI_INVALID_TAG' }));
    await expect(writeOciLayout(tmp('layout'), image, { tag })).rejects.toMatchObject({ code: 'OCI_INVALID_TAG' });
  });

  it.each([['busybox:latest'], ['latest'], ['example.com/a/b:1.0-rc.1'], ['a--b@x+y']])('accepts tag %j', (tag) => {
    expect(validateRefName(tag)).toBe(tag);
  });
});

describe('readOciLayout', () => {
  it('reads back the same image (same digests, lazily opened layers)', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'one' });
    const read = await readOciLayout(dir, { tag: 'one' });
    expect(read.digest()).toBe(image.digest());
    expect(read.configBytes().equals(image.configBytes())).toBe(true);
    expect(read.config).toEqual(image.config);
    expect(read.layers.map((l) => [l.mediaType, l.digest, l.diffID, l.size])).toEqual(image.layers.map((l) => [l.mediaType, l.digest, l.diffID, l.size]));
    expect(sha256Digest(await readAll(await read.layers[1]!.openUncompressed()))).toBe(secondDiffID);
    expect((await readOciLayout(dir)).digest()).toBe(image.digest());
    expect((await readOciLayout(dir, { digest: image.digest() })).digest()).toBe(image.digest());
  });

  it('a missing tag says which tags exist and suggests the closest', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'latest' });
    await writeOciLayout(dir, image, { tag: 'stable' });
    await expect(readOciLayout(dir, { tag: 'lastest' })).rejects.toMatchObject({
      code: 'OCI_TAG_NOT_FOUND',
      message: `tag "lastest" not found in OCI layout ${dir} (it has "latest", "stable")`,
      suggestion: 'did you mean "latest"?',
    });
    await expect(readOciLayout(dir)).rejects.toMatchObject({ code: 'OCI_AMBIGUOUS_IMAGE' });
  });

  it('a ref name that is a whole reference answers to its tag, when only one image has it', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'busybox:latest' });
    expect((await readOciLayout(dir, { tag: 'latest' })).digest()).toBe(image.digest());
    expect((await readOciLayout(dir, { tag: 'busybox:latest' })).digest()).toBe(image.digest());
    await expect(readOciLayout(dir, { tag: 'busybox' })).rejects.toMatchObject({ code: 'OCI_TAG_NOT_FOUND' });
  });

  it('a corrupt blob is found when its layer is read', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'x' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'blobs', 'sha256', secondDigest.slice(7)), 'garbage');
    const read = await readOciLayout(dir, { tag: 'x' });
    await expect(readAll(await read.layers[1]!.open())).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('not a layout', async () => {
    await expect(readOciLayout(tmp('empty'))).rejects.toMatchObject({ code: 'OCI_INVALID_LAYOUT' });
  });

  it('picks the platform from an index', async () => {
    const dir = tmp('layout');
    const arm = emptyImage({ platform: { os: 'linux', architecture: 'arm64' } });
    const amd = emptyImage({ platform: { os: 'linux', architecture: 'amd64' } });
    await writeOciLayout(dir, arm);
    await writeOciLayout(dir, amd);
    // Wrap both in a nested index blob, listed under one tag.
    const { canonicalJsonBytes } = await import('../../src/image/json.js');
    const nested = canonicalJsonBytes({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [arm.descriptor({ platform: true }), amd.descriptor({ platform: true })] });
    const { writeFileSync } = await import('node:fs');
    const nd = sha256Digest(nested);
    writeFileSync(join(dir, 'blobs', 'sha256', nd.slice(7)), nested);
    writeFileSync(
      join(dir, 'index.json'),
      canonicalJsonBytes({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociIndex, digest: nd, size: nested.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }),
    );
    expect((await readOciLayout(dir, { tag: 'multi', platform: { os: 'linux', architecture: 'arm64' } })).digest()).toBe(arm.digest());
    expect((await readOciLayout(dir, { tag: 'multi', platform: { os: 'linux', architecture: 'amd64' } })).digest()).toBe(amd.digest());
    await expect(readOciLayout(dir, { tag: 'multi', platform: { os: 'linux', architecture: 's390x' } })).rejects.toMatchObject({
      code: 'OCI_PLATFORM_NOT_FOUND',
      message: `OCI layout ${dir}: no image for platform linux/s390x (it has linux/arm64, linux/amd64)`,
    });
  });
});

describe('OCI archive', () => {
  it('the same image twice gives a byte-identical archive', async () => {
    const dir = tmp('archive');
    await writeOciArchive(join(dir, 'a.tar'), image, { tag: 'test:one' });
    await writeOciArchive(join(dir, 'b.tar'), image, { tag: 'test:one' });
    const a = readFileSync(join(dir, 'a.tar'));
    expect(a.equals(readFileSync(join(dir, 'b.tar')))).toBe(true);
    expect(sha256Digest(a)).toBe('sha256:40a9f905503c67800ce5650ef5ac0adfa688349f3d66f70485e4df8c4477832f');
    expect(readdirSync(dir).sort()).toEqual(['a.tar', 'b.tar']);
  });

  it('is a tar of a layout: sorted entries, 0:0, mtime 0', async () => {
    const file = join(tmp('archive'), 'a.tar');
    await writeOciArchive(file, image, { tag: 'test:one' });
    const entries: string[] = [];
    for await (const e of readTarFile(file)) entries.push(`${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.mtime} ${e.path}`);
    const blobs = [FIXED_DIGEST, secondDigest, image.configDigest(), image.digest()].map((d) => `file 644 0:0 0 blobs/sha256/${d.slice(7)}`).sort();
    expect(entries).toEqual(['dir 755 0:0 0 blobs/', 'dir 755 0:0 0 blobs/sha256/', ...blobs, 'file 644 0:0 0 index.json', 'file 644 0:0 0 oci-layout']);
  });

  it('reads back the same image', async () => {
    const file = join(tmp('archive'), 'a.tar');
    await writeOciArchive(file, image, { tag: 'test:one' });
    const read = await readOciArchive(file);
    expect(read.digest()).toBe(image.digest());
    expect(sha256Digest(await readAll(await read.layers[0]!.openUncompressed()))).toBe(FIXED_DIFF_ID);
    expect((await readOciArchive(file, { tag: 'test:one' })).digest()).toBe(image.digest());
  });

  it('not an archive', async () => {
    const dir = tmp('archive');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'x.tar'), 'x'.repeat(2000));
    await expect(readOciArchive(join(dir, 'x.tar'))).rejects.toMatchObject({ code: 'OCI_INVALID_ARCHIVE' });
  });
});

describe('docker archive', () => {
  it('has manifest.json, repositories, the config and uncompressed layers', async () => {
    const file = join(tmp('docker'), 'd.tar');
    await writeDockerArchive(file, image, { tags: ['test:one', 'example.com/x/y'] });
    const files = new Map<string, Buffer>();
    for await (const e of readTarFile(file)) files.set(e.path, await e.bytes());
    const cfg = `${image.configDigest().slice(7)}.json`;
    const l1 = `${FIXED_DIFF_ID.slice(7)}.tar`;
    const l2 = `${secondDiffID.slice(7)}.tar`;
    expect([...files.keys()].sort()).toEqual([l1, l2, cfg, 'manifest.json', 'repositories'].sort());
    expect(files.get('manifest.json')!.toString()).toBe(`[{"Config":"${cfg}","Layers":["${l1}","${l2}"],"RepoTags":["test:one","example.com/x/y:latest"]}]`);
    expect(files.get('repositories')!.toString()).toBe(`{"example.com/x/y":{"latest":"${secondDiffID.slice(7)}"},"test":{"one":"${secondDiffID.slice(7)}"}}`);
    expect(files.get(cfg)!.equals(image.configBytes())).toBe(true);
    expect(sha256Digest(files.get(l1)!)).toBe(FIXED_DIFF_ID);
    expect(sha256Digest(files.get(l2)!)).toBe(secondDiffID);
  });

  it.each([
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['localhost:5000/a/b:c', 'localhost:5000/a/b:c'],
    ['Example.COM/a', 'Example.COM/a:latest'],
  ])('normalizeDockerTag(%j) = %j', (tag, ref) => {
    expect(normalizeDockerTag(tag).ref).toBe(ref);
  });

  it.each([['Busybox'], ['a@sha256:abc'], ['a:b:c'], ['-a']])('refuses tag %j', (tag) => {
    expect(() => normalizeDockerTag(tag)).toThrow(expect.objectContaining({ code: 'OCI_INVALID_TAG' }));
  });
});

describe.runIf(hasTool('skopeo', 'skopeo'))('skopeo reads what we write', () => {
  const expected = () => ({
    Digest: image.digest(),
    Architecture: 'amd64',
    Os: 'linux',
    Created: '1970-01-01T00:00:00Z',
    Env: ['PATH=/bin'],
    Labels: { 'org.example': 'yes' },
  });

  it('oci:DIR:TAG', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'test:one' });
    expect(skopeoInspect(`oci:${dir}:test:one`)).toMatchObject({ ...expected(), Layers: [FIXED_DIGEST, secondDigest] });
    expect(skopeoRaw(`oci:${dir}:test:one`, '--config')).toEqual(JSON.parse(image.configBytes().toString()));
  });

  it('oci-archive:FILE', async () => {
    const file = join(tmp('archive'), 'a.tar');
    await writeOciArchive(file, image, { tag: 'test:one' });
    expect(skopeoInspect(`oci-archive:${file}`)).toMatchObject({ ...expected(), Layers: [FIXED_DIGEST, secondDigest] });
  });

  it('docker-archive:FILE, and a copy to an OCI layout unpacks to the same tree', async () => {
    const file = join(tmp('docker'), 'd.tar');
    await writeDockerArchive(file, image, { tags: ['test:one'] });
    expect(skopeoInspect(`docker-archive:${file}`)).toMatchObject({ Architecture: 'amd64', Env: ['PATH=/bin'], Layers: [FIXED_DIFF_ID, secondDiffID] });
    // Selecting the image by its RepoTag works; another tag does not exist.
    expect(skopeoInspect(`docker-archive:${file}:test:one`)).toMatchObject({ Name: 'docker.io/library/test' });
    expect(() => skopeoInspect(`docker-archive:${file}:other:one`)).toThrow(/not found/);
    if (!hasTool('umoci', 'umoci')) return;
    const out = join(tmp('copy'), 'layout');
    run('skopeo', ['copy', '-q', `docker-archive:${file}`, `oci:${out}:copied`]);
    expect(tree(umociUnpack(out, 'copied'))).toEqual(ROOTFS(owner));
  });
});

describe.runIf(hasTool('skopeo', 'skopeo'))('reading what skopeo writes', () => {
  it('a foreign layout is read and copied without changing a digest', async () => {
    const src = tmp('layout');
    await writeOciLayout(src, image, { tag: 'a' });
    const foreign = join(tmp('foreign'), 'layout');
    // skopeo re-serialises the manifest (its own JSON formatting), keeping config and layers.
    run('skopeo', ['copy', '-q', `oci:${src}:a`, `oci:${foreign}:copied`]);
    const read = await readOciLayout(foreign, { tag: 'copied' });
    expect(read.configDigest()).toBe(image.configDigest());
    const copy = tmp('copy');
    await writeOciLayout(copy, read, { tag: 'again' });
    expect(readFileSync(join(copy, 'blobs', 'sha256', read.digest().slice(7))).equals(read.manifestBytes())).toBe(true);
    expect(skopeoInspect(`oci:${copy}:again`)).toMatchObject({ Digest: read.digest(), Layers: [FIXED_DIGEST, secondDigest] });
  });
});

describe.runIf(hasTool('umoci', 'umoci'))('umoci unpacks what we write', () => {
  it('applies both layers (with the whiteout) to the exact tree', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'test:one' });
    expect(tree(umociUnpack(dir, 'test:one'))).toEqual(ROOTFS(owner));
  });

  it('our own applyLayer gives the same tree', async () => {
    const root = join(tmp('apply'), 'rootfs');
    mkdirSync(root);
    const { applyLayer } = await import('../../src/image/extract.js');
    for (const layer of image.layers) await applyLayer(root, await layer.openUncompressed());
    expect(tree(root)).toEqual(ROOTFS(owner));
  });
});

describe.runIf(hasTool('oci-image-tool', 'oci-image-tool'))('oci-image-tool validates what we write', () => {
  // Debian's oci-image-tool is 1.0.0-rc1: `--type imageLayout` is unimplemented there and its
  // tar walker fails on any archive (even GNU tar's), so layouts are validated as `--type image`
  // directories, and archives after extraction.
  it('an OCI layout, per ref', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'test:one' });
    await writeOciLayout(dir, image, { tag: 'latest' });
    expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=test:one', dir])).toContain(`${dir}: OK`);
    expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=latest', dir])).toContain(`${dir}: OK`);
  });

  it('the manifest and config on their own', async () => {
    const dir = tmp('layout');
    await writeOciLayout(dir, image, { tag: 'x' });
    const blob = (d: string) => join(dir, 'blobs', 'sha256', d.slice(7));
    expect(run('oci-image-tool', ['validate', '--type', 'manifest', blob(image.digest())])).toContain('OK');
    expect(run('oci-image-tool', ['validate', '--type', 'config', blob(image.configDigest())])).toContain('OK');
    expect(run('oci-image-tool', ['validate', '--type', 'imageIndex', join(dir, 'index.json')])).toContain('OK');
  });

  it('an OCI archive, extracted', async () => {
    const file = join(tmp('archive'), 'a.tar');
    await writeOciArchive(file, image, { tag: 'test:one' });
    const dir = join(tmp('extracted'), 'layout');
    await extractTar(dir, createReadStream(file));
    expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=test:one', dir])).toContain(`${dir}: OK`);
  });
});

describe.runIf((() => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})())('docker load (only where a Docker daemon runs)', () => {
  it('loads the docker archive with its tag', async () => {
    const file = join(tmp('docker'), 'd.tar');
    await writeDockerArchive(file, image, { tags: ['build-image-test:oci'] });
    expect(run('docker', ['load', '-i', file])).toContain('build-image-test:oci');
    expect(run('docker', ['image', 'inspect', '-f', '{{.Id}}', 'build-image-test:oci']).trim()).toBe(image.configDigest());
    expect(existsSync(file)).toBe(true);
  });
});
