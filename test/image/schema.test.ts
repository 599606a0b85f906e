import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/image/json.js';
import {
  MediaType,
  isIndexMediaType,
  isLayerMediaType,
  layerCompression,
  layerMediaType,
  parseDescriptor,
  parseImageConfig,
  parseIndex,
  parseManifest,
  sniffManifestKind,
} from '../../src/image/schema.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

describe('image config', () => {
  it('keeps OCI fields and the Docker extras BuildKit keeps, drops the rest, reads null as absent', () => {
    const docker = {
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      docker_version: '20.10',
      container_config: { Cmd: ['x'] },
      config: {
        Hostname: 'abc',
        User: 'app',
        Env: ['PATH=/bin'],
        Cmd: null,
        Entrypoint: ['/bin/sh', '-c'],
        ExposedPorts: { '80/tcp': {} },
        Volumes: { '/data': {} },
        Labels: { a: 'b' },
        WorkingDir: '/w',
        StopSignal: 'SIGTERM',
        ArgsEscaped: true,
        OnBuild: null,
        Shell: ['/bin/bash', '-c'],
        Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 5e9, StartPeriod: 1e9, StartInterval: 2e9, Retries: 3 },
      },
      rootfs: { type: 'layers', diff_ids: [D1] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'ADD x /', comment: 'c' }, { created_by: 'CMD', empty_layer: true }],
    };
    const config = parseImageConfig(JSON.stringify(docker));
    expect(canonicalJson(config)).toBe(
      '{"architecture":"amd64","config":{"ArgsEscaped":true,"Entrypoint":["/bin/sh","-c"],"Env":["PATH=/bin"],' +
        '"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Interval":30000000000,"Retries":3,"StartInterval":2000000000,' +
        '"StartPeriod":1000000000,"Test":["CMD-SHELL","true"],"Timeout":5000000000},"Labels":{"a":"b"},' +
        '"Shell":["/bin/bash","-c"],"StopSignal":"SIGTERM","User":"app","Volumes":{"/data":{}},"WorkingDir":"/w"},' +
        '"created":"2024-01-01T00:00:00Z","history":[{"comment":"c","created":"2024-01-01T00:00:00Z","created_by":"ADD x /"},' +
        `{"created_by":"CMD","empty_layer":true}],"os":"linux","rootfs":{"diff_ids":["${D1}"],"type":"layers"}}`,
    );
  });

  it.each([
    [{ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, 'architecture'],
    [{ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:abc'] } }, 'expected a digest'],
    [{ architecture: 'amd64', os: 'linux', rootfs: { type: 'other', diff_ids: [] } }, 'rootfs.type'],
  ])('rejects %j', (value, fragment) => {
    expect(() => parseImageConfig(value)).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_CONFIG', message: expect.stringContaining(fragment) }));
  });

  it('rejects text that is not JSON', () => {
    expect(() => parseImageConfig('{')).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_CONFIG', message: expect.stringMatching(/^invalid image config: not JSON/) }));
  });
});

describe('manifests, indexes, descriptors', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: D1, size: 10 },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: D2, size: 20, annotations: { k: 'v' }, urls: null }],
    annotations: { 'org.opencontainers.image.created': 'x' },
  };

  it('parses a manifest', () => {
    expect(canonicalJson(parseManifest(manifest))).toBe(
      `{"annotations":{"org.opencontainers.image.created":"x"},"config":{"digest":"${D1}","mediaType":"${MediaType.ociConfig}","size":10},` +
        `"layers":[{"annotations":{"k":"v"},"digest":"${D2}","mediaType":"${MediaType.ociLayerGzip}","size":20}],` +
        `"mediaType":"${MediaType.ociManifest}","schemaVersion":2}`,
    );
  });

  it('parses an index with platforms', () => {
    const index = parseIndex({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.ociManifest, digest: D1, size: 1, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } }],
    });
    expect(index.manifests[0]!.platform).toEqual({ architecture: 'arm', os: 'linux', variant: 'v7' });
  });

  it.each([
    [{ ...manifest, schemaVersion: 1 }, 'IMAGE_INVALID_MANIFEST'],
    [{ ...manifest, layers: [{ mediaType: 'x', digest: D1, size: -1 }] }, 'IMAGE_INVALID_MANIFEST'],
  ])('rejects a bad manifest (%#)', (value, code) => {
    expect(() => parseManifest(value)).toThrow(expect.objectContaining({ code }));
  });

  it('rejects a bad descriptor', () => {
    expect(() => parseDescriptor({ mediaType: 'x', digest: 'md5:1', size: 1 })).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_DESCRIPTOR' }));
  });

  it.each([
    [{ mediaType: MediaType.ociIndex, manifests: [] }, 'index'],
    [{ mediaType: MediaType.dockerManifestList, manifests: [] }, 'index'],
    [{ mediaType: MediaType.dockerManifest, config: {} }, 'manifest'],
    [{ manifests: [] }, 'index'],
    [{ config: {}, layers: [] }, 'manifest'],
  ])('sniffManifestKind(%j) = %s', (doc, kind) => {
    expect(sniffManifestKind(JSON.stringify(doc))).toBe(kind);
  });
});

describe('media types', () => {
  it.each([
    [MediaType.ociLayer, 'none'],
    [MediaType.ociLayerGzip, 'gzip'],
    [MediaType.ociLayerZstd, 'zstd'],
    [MediaType.dockerLayerGzip, 'gzip'],
    [MediaType.dockerLayer, 'none'],
    [MediaType.dockerForeignLayerGzip, 'gzip'],
  ])('%s is compressed with %s', (mt, c) => {
    expect(isLayerMediaType(mt)).toBe(true);
    expect(layerCompression(mt)).toBe(c);
  });

  it('maps format and compression to a layer media type', () => {
    expect(layerMediaType('oci', 'gzip')).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(layerMediaType('docker', 'gzip')).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    expect(layerMediaType('oci', 'none')).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(layerMediaType('docker', 'zstd')).toBe('application/vnd.docker.image.rootfs.diff.tar.zstd');
  });

  it('rejects a non-layer media type', () => {
    expect(() => layerCompression(MediaType.ociConfig)).toThrow(
      expect.objectContaining({ code: 'IMAGE_UNSUPPORTED_MEDIA_TYPE', message: `unsupported layer media type "${MediaType.ociConfig}"` }),
    );
    expect(isIndexMediaType(MediaType.ociIndex)).toBe(true);
  });
});
