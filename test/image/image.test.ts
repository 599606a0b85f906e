import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import {
  addHistory,
  appendLayers,
  emptyImage,
  hostPlatform,
  makeImage,
  setAnnotations,
  setConfig,
  setCreated,
  setFormat,
  setPlatform,
  updateConfig,
} from '../../src/image/image.js';
import { layerFromEntries } from '../../src/image/layer.js';
import { MediaType, parseImageConfig } from '../../src/image/schema.js';
import { FIXED_DIFF_ID, FIXED_DIGEST, FIXED_ENTRIES, SECOND_ENTRIES } from './samples.js';

const amd64 = { platform: { os: 'linux', architecture: 'amd64' } };

describe('emptyImage', () => {
  it('is scratch: no layers, empty config, epoch created', () => {
    const img = emptyImage(amd64);
    expect(img.configBytes().toString()).toBe(
      '{"architecture":"amd64","config":{},"created":"1970-01-01T00:00:00Z","os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}',
    );
    expect(img.layers).toEqual([]);
    expect(img.configDigest()).toBe(sha256Digest(img.configBytes()));
    expect(img.manifestBytes().toString()).toBe(
      `{"config":{"digest":"${img.configDigest()}","mediaType":"application/vnd.oci.image.config.v1+json","size":${img.configBytes().length}},` +
        `"layers":[],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}`,
    );
    expect(img.digest()).toBe(sha256Digest(img.manifestBytes()));
  });

  it('defaults to the host architecture and takes a variant', () => {
    expect(emptyImage().config.architecture).toBe(hostPlatform().architecture);
    expect(emptyImage({ platform: { architecture: 'arm', variant: 'v7' } }).platform()).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });

  it('is the same value every time (deterministic digest)', () => {
    expect(emptyImage(amd64).digest()).toBe(emptyImage(amd64).digest());
  });
});

describe('operations return new images', () => {
  it('appendLayers adds layers, diff_ids and history; the original is unchanged', async () => {
    const base = emptyImage(amd64);
    const l1 = await layerFromEntries(FIXED_ENTRIES);
    const l2 = await layerFromEntries(SECOND_ENTRIES);
    const img = appendLayers(base, { layer: l1, history: { created_by: 'COPY a /', created: '1970-01-01T00:00:00Z' } }, { layer: l2, history: { created_by: 'RUN x', empty_layer: true } });
    expect(img).not.toBe(base);
    expect(base.layers).toEqual([]);
    expect(base.config.rootfs.diff_ids).toEqual([]);
    expect(img.config.rootfs.diff_ids).toEqual([FIXED_DIFF_ID, l2.diffID]);
    expect(img.config.history).toEqual([{ created_by: 'COPY a /', created: '1970-01-01T00:00:00Z' }, { created_by: 'RUN x' }]);
    expect(img.manifest().layers.map((l) => l.digest)).toEqual([FIXED_DIGEST, l2.digest]);
  });

  it('the config is frozen', () => {
    const img = emptyImage(amd64);
    expect(() => {
      (img.config.rootfs.diff_ids as string[]).push('x');
    }).toThrow(TypeError);
  });

  it('setConfig sets and removes fields', () => {
    const a = setConfig(emptyImage(amd64), { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], User: 'app' });
    const b = setConfig(a, { User: undefined, WorkingDir: '/w' });
    expect(a.config.config).toEqual({ Env: ['PATH=/bin'], Cmd: ['/bin/sh'], User: 'app' });
    expect(b.config.config).toEqual({ Env: ['PATH=/bin'], Cmd: ['/bin/sh'], WorkingDir: '/w' });
    expect(b.configBytes().toString()).toContain('"config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"],"WorkingDir":"/w"}');
  });

  it('addHistory marks an empty layer', () => {
    const img = addHistory(emptyImage(amd64), { created_by: 'ENV a=b', created: '1970-01-01T00:00:00Z' });
    expect(img.config.history).toEqual([{ created_by: 'ENV a=b', created: '1970-01-01T00:00:00Z', empty_layer: true }]);
    expect(img.layers).toHaveLength(0);
  });

  it.each([
    [1700000000, '2023-11-14T22:13:20Z'],
    ['2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z'],
    [new Date(0), '1970-01-01T00:00:00Z'],
  ])('setCreated(%j)', (value, text) => {
    expect(setCreated(emptyImage(amd64), value).config.created).toBe(text);
  });

  it('setPlatform, updateConfig and setAnnotations', () => {
    const img = setAnnotations(setPlatform(updateConfig(emptyImage(amd64), (c) => ({ ...c, author: 'me' })), { architecture: 'arm64' }), { 'org.opencontainers.image.title': 't' });
    expect(img.config).toMatchObject({ author: 'me', architecture: 'arm64' });
    expect(img.manifest().annotations).toEqual({ 'org.opencontainers.image.title': 't' });
  });

  it('setFormat switches manifest, config and layer media types, keeping the bytes', async () => {
    const oci = appendLayers(emptyImage(amd64), { layer: await layerFromEntries(FIXED_ENTRIES) });
    const docker = setFormat(oci, 'docker');
    expect(docker.manifest()).toMatchObject({
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: oci.configDigest() },
      layers: [{ mediaType: MediaType.dockerLayerGzip, digest: FIXED_DIGEST }],
    });
    expect(setFormat(docker, 'oci').digest()).toBe(oci.digest());
  });

  it('layers of the other family are relabelled when appended', async () => {
    const docker = emptyImage({ ...amd64, format: 'docker' });
    const img = appendLayers(docker, { layer: await layerFromEntries(FIXED_ENTRIES) });
    expect(img.layers[0]!.mediaType).toBe(MediaType.dockerLayerGzip);
  });
});

describe('invariants and raw bytes', () => {
  it('refuses diff_ids that do not match the layers', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES);
    const config = parseImageConfig({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    expect(() => makeImage({ config, layers: [layer] })).toThrow(expect.objectContaining({ code: 'IMAGE_DIFFID_MISMATCH' }));
  });

  it('keeps original config bytes until changed', () => {
    const raw = Buffer.from('{ "os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []}, "x": 1 }');
    const img = makeImage({ config: parseImageConfig(raw), layers: [], rawConfig: raw });
    expect(img.configBytes().equals(raw)).toBe(true);
    const changed = setConfig(img, { User: 'u' });
    expect(changed.configBytes().toString()).toBe('{"architecture":"amd64","config":{"User":"u"},"os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}');
  });
});
