import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../../src/image/schema.js';
import type { Digest } from '../../src/image/digest.js';
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformRank,
  selectPlatformManifest,
  type Platform,
} from '../../src/registry/platform.js';

const amd64Host: Platform = { os: 'linux', architecture: 'amd64' };

describe('parsePlatform (containerd platforms.Parse)', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v1', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm', { os: 'linux', architecture: 'arm' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm' }],
    ['linux/armel', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/i386', { os: 'linux', architecture: '386' }],
    ['linux/s390x', { os: 'linux', architecture: 's390x' }],
    ['macos/arm64', { os: 'darwin', architecture: 'arm64' }],
    ['linux', { os: 'linux', architecture: 'amd64' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['aarch64', { os: 'linux', architecture: 'arm64' }],
  ])('%s', (spec, expected) => {
    expect(parsePlatform(spec, amd64Host)).toEqual(expected);
  });

  it.each([
    ['linux/*', 'invalid platform "linux/*": wildcards not yet supported'],
    ['linux/a/b/c', 'invalid platform "linux/a/b/c": cannot parse platform specifier'],
    ['li nux/amd64', 'invalid platform "li nux/amd64": "li nux" is an invalid OS component'],
    ['linux/am d64', 'invalid platform "linux/am d64": "am d64" is an invalid component'],
    ['plan10', 'invalid platform "plan10": unknown operating system or architecture'],
  ])('rejects %s', (spec, message) => {
    expect(() => parsePlatform(spec, amd64Host)).toThrow(
      expect.objectContaining({ code: 'REGISTRY_BAD_PLATFORM', message }),
    );
  });
});

describe('formatPlatform / normalizePlatform / hostPlatform', () => {
  it.each([
    [{ os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    [{ os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
  ])('formats %j as %s', (p, text) => expect(formatPlatform(p)).toBe(text));

  it.each([
    [{ os: 'linux', architecture: 'aarch64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }],
    [{ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
    [{ os: 'Linux', architecture: 'x86_64' }, { os: 'linux', architecture: 'amd64' }],
  ])('normalises %j', (p, n) => expect(normalizePlatform(p)).toEqual(n));

  it.each([
    ['x64', { os: 'linux', architecture: 'amd64' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['arm', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['ia32', { os: 'linux', architecture: '386' }],
    ['s390x', { os: 'linux', architecture: 's390x' }],
    ['ppc64', { os: 'linux', architecture: 'ppc64le' }],
  ])('hostPlatform(%s)', (arch, p) => expect(hostPlatform(arch)).toEqual(p));
});

describe('platform matching (containerd platforms.Only)', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }, 0],
    ['linux/amd64', { os: 'linux', architecture: '386' }, 1],
    ['linux/amd64', { os: 'linux', architecture: 'arm64' }, undefined],
    ['linux/amd64', { os: 'windows', architecture: 'amd64' }, undefined],
    ['linux/amd64', { os: 'linux', architecture: 'amd64', variant: 'v2' }, undefined],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v2' }, 1],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64' }, 2],
    ['linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 0],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }, 0],
    ['linux/arm64', { os: 'linux', architecture: 'arm', variant: 'v7' }, 2],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm' }, 0],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v6' }, 1],
    ['linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }, undefined],
    ['linux/arm64/v9', { os: 'linux', architecture: 'arm64', variant: 'v8.5' }, 1],
    ['linux/arm64', { os: 'unknown', architecture: 'unknown' }, undefined],
  ] as const)('%s runs %j: rank %s', (want, candidate, rank) => {
    expect(platformRank(parsePlatform(want), candidate)).toBe(rank);
  });

  const d = (n: number, platform?: Platform): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64)}` as Digest,
    size: n,
    ...(platform ? { platform } : {}),
  });

  it('picks the best match, not the first entry', () => {
    const manifests = [
      d(1, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      d(2, { os: 'linux', architecture: '386' }),
      d(3, { os: 'linux', architecture: 'amd64' }),
      d(4, { os: 'unknown', architecture: 'unknown' }),
    ];
    expect(selectPlatformManifest(manifests, parsePlatform('linux/amd64'))?.size).toBe(3);
    expect(selectPlatformManifest(manifests, parsePlatform('linux/arm64'))?.size).toBe(1);
    expect(selectPlatformManifest(manifests.slice(1), parsePlatform('linux/amd64'))?.size).toBe(3);
    expect(selectPlatformManifest([manifests[1]!], parsePlatform('linux/amd64'))?.size).toBe(2);
    expect(selectPlatformManifest(manifests, parsePlatform('linux/s390x'))).toBeUndefined();
  });

  it('keeps index order among equals and puts entries with no platform last', () => {
    const manifests = [d(5), d(6, { os: 'linux', architecture: 'amd64' }), d(7, { os: 'linux', architecture: 'amd64' })];
    expect(selectPlatformManifest(manifests, amd64Host)?.size).toBe(6);
    expect(selectPlatformManifest([d(5)], amd64Host)?.size).toBe(5);
  });
});
