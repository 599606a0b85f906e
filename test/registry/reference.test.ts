import { describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import {
  familiarReference,
  formatReference,
  isInsecureRegistry,
  manifestReference,
  parseImageReference,
  referenceName,
  registryApiHost,
  registryHostname,
  withDigest,
  withTag,
} from '../../src/registry/reference.js';
import type { Digest } from '../../src/image/digest.js';

const D = 'sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff';

describe('parseImageReference', () => {
  // [input, registry, repository, tag, digest, fully qualified, familiar]
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['node:20-alpine', 'docker.io', 'library/node', '20-alpine', undefined, 'docker.io/library/node:20-alpine', 'node:20-alpine'],
    ['library/debian', 'docker.io', 'library/debian', 'latest', undefined, 'docker.io/library/debian:latest', 'debian:latest'],
    ['docker.io/debian', 'docker.io', 'library/debian', 'latest', undefined, 'docker.io/library/debian:latest', 'debian:latest'],
    ['index.docker.io/docker/docker', 'docker.io', 'docker/docker', 'latest', undefined, 'docker.io/docker/docker:latest', 'docker/docker:latest'],
    ['docker/docker', 'docker.io', 'docker/docker', 'latest', undefined, 'docker.io/docker/docker:latest', 'docker/docker:latest'],
    ['other/library', 'docker.io', 'other/library', 'latest', undefined, 'docker.io/other/library:latest', 'other/library:latest'],
    ['docker.io/library/a/b', 'docker.io', 'library/a/b', 'latest', undefined, 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['localhost/fooo', 'localhost', 'fooo', 'latest', undefined, 'localhost/fooo:latest', 'localhost/fooo:latest'],
    ['LOCALDOMAIN/fooo/bar', 'LOCALDOMAIN', 'fooo/bar', 'latest', undefined, 'LOCALDOMAIN/fooo/bar:latest', 'LOCALDOMAIN/fooo/bar:latest'],
    ['Docker/docker', 'Docker', 'docker', 'latest', undefined, 'Docker/docker:latest', 'Docker/docker:latest'],
    ['localhost:5000/app:v1', 'localhost:5000', 'app', 'v1', undefined, 'localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/private/moonbase', '127.0.0.1:5000', 'private/moonbase', 'latest', undefined, '127.0.0.1:5000/private/moonbase:latest', '127.0.0.1:5000/private/moonbase:latest'],
    ['example.com:8000/privatebase', 'example.com:8000', 'privatebase', 'latest', undefined, 'example.com:8000/privatebase:latest', 'example.com:8000/privatebase:latest'],
    ['test.com:5000', 'docker.io', 'library/test.com', '5000', undefined, 'docker.io/library/test.com:5000', 'test.com:5000'],
    ['foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com', '8080', undefined, 'docker.io/foo/foo_bar.com:8080', 'foo/foo_bar.com:8080'],
    ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050', undefined, '192.168.1.1:5000/repo:5050', '192.168.1.1:5000/repo:5050'],
    ['[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000', 'repo', 'tag', undefined, '[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000/repo:tag'],
    ['[::1]:5000/repo', '[::1]:5000', 'repo', 'latest', undefined, '[::1]:5000/repo:latest', '[::1]:5000/repo:latest'],
    ['lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase', undefined, 'docker.io/library/lowercase:Uppercase', 'lowercase:Uppercase'],
    ['b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io', 'test.example.com/my-app', 'test.example.com', undefined, 'b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io/test.example.com/my-app:test.example.com'],
    ['docker---rules/dock__er', 'docker.io', 'docker---rules/dock__er', 'latest', undefined, 'docker.io/docker---rules/dock__er:latest', 'docker---rules/dock__er:latest'],
    [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`ghcr.io/org/base:1.2@${D}`, 'ghcr.io', 'org/base', '1.2', D, `ghcr.io/org/base:1.2@${D}`, `ghcr.io/org/base:1.2@${D}`],
    [`test:5000/repo@${D}`, 'test:5000', 'repo', undefined, D, `test:5000/repo@${D}`, `test:5000/repo@${D}`],
    [
      'docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
      'docker.io',
      'library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
      'latest',
      undefined,
      'docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest',
      '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest',
    ],
  ])('%s', (input, registry, repository, tag, digest, full, familiar) => {
    const ref = parseImageReference(input);
    expect(ref).toEqual({ registry, repository, tag, digest });
    expect(formatReference(ref)).toBe(full);
    expect(familiarReference(ref)).toBe(familiar);
    expect(parseImageReference(full)).toEqual(ref);
  });

  it('accepts a repository path of exactly 255 characters and rejects 256', () => {
    expect(parseImageReference(`example.com/${'a'.repeat(255)}:tag`).repository).toBe('a'.repeat(255));
    expect(() => parseImageReference(`domain/${'a'.repeat(256)}:tag`)).toThrow(
      'repository name must not be more than 255 characters',
    );
  });

  it.each([
    ['', 'invalid reference format "": repository name must have at least one component'],
    [
      '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
      'invalid reference format "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a": cannot specify 64-byte hexadecimal strings as a repository name',
    ],
    ['Uppercase:tag', 'invalid reference format "Uppercase:tag": repository name (library/Uppercase) must be lowercase'],
    ['docker/Docker', 'invalid reference format "docker/Docker": repository name (docker/Docker) must be lowercase'],
    [
      'test:5000/Uppercase/lowercase:tag',
      'invalid reference format "test:5000/Uppercase/lowercase:tag": repository name (Uppercase/lowercase) must be lowercase',
    ],
    ['https://github.com/docker/docker', 'invalid reference format "https://github.com/docker/docker": a reference has no URL scheme'],
    ['-docker', 'invalid reference format "-docker": invalid repository path component "-docker": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    ['docker-/docker', 'invalid reference format "docker-/docker": invalid repository path component "docker-": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    ['dock..er/docker', 'invalid reference format "dock..er/docker": invalid registry host "dock..er"'],
    ['docker/dock..er', 'invalid reference format "docker/dock..er": invalid repository path component "dock..er": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    ['____/____', 'invalid reference format "____/____": invalid repository path component "____": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    ['docker///docker', 'invalid reference format "docker///docker": repository path has an empty component'],
    ['docker/', 'invalid reference format "docker/": repository path has an empty component'],
    ['aa/asdf$$^/aa', 'invalid reference format "aa/asdf$$^/aa": invalid repository path component "asdf$$^": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    [':justtag', 'invalid reference format ":justtag": repository path has an empty component'],
    [`@${D}`, `invalid reference format "@${D}": repository path has an empty component`],
    ['busybox:-bad', 'invalid reference format "busybox:-bad": invalid tag "-bad": a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"'],
    [`busybox:${'t'.repeat(129)}`, `invalid reference format "busybox:${'t'.repeat(129)}": invalid tag "${'t'.repeat(129)}": a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`],
    ['repo@sha256:ffffffffffffffffffffffffffffffffff', 'invalid reference format "repo@sha256:ffffffffffffffffffffffffffffffffff": invalid checksum digest length: "sha256:ffffffffffffffffffffffffffffffffff" (sha256 has 64 hex characters)'],
    [`validname@sha512:${'f'.repeat(128)}`, `invalid reference format "validname@sha512:${'f'.repeat(128)}": unsupported digest algorithm "sha512" (only sha256 is supported)`],
    [`repo@sha256:${'F'.repeat(64)}`, `invalid reference format "repo@sha256:${'F'.repeat(64)}": invalid checksum digest format: "sha256:${'F'.repeat(64)}" (use lowercase hex)`],
    ['repo@notadigest', 'invalid reference format "repo@notadigest": invalid digest "notadigest": expected sha256:<64 lowercase hex characters>'],
    ['[fc00::1]:5000', 'invalid reference format "[fc00::1]:5000": invalid repository path component "[fc00::1]": use lowercase letters and digits, separated by single ".", "_", "__" or dashes'],
    ['[fe80::1%eth0]:5000/debian', 'invalid reference format "[fe80::1%eth0]:5000/debian": invalid registry host "[fe80::1%eth0]:5000"'],
    ['-docker.io/docker/docker', 'invalid reference format "-docker.io/docker/docker": invalid registry host "-docker.io"'],
  ])('rejects %j', (input, message) => {
    let error: unknown;
    try {
      parseImageReference(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BuildImageError);
    expect((error as BuildImageError).code).toBe('REGISTRY_BAD_REFERENCE');
    expect((error as BuildImageError).message).toBe(message);
  });

  it('suggests the lowercase name', () => {
    expect(() => parseImageReference('MyApp')).toThrow(expect.objectContaining({ suggestion: 'write it in lowercase: library/myapp' }));
  });
});

describe('helpers', () => {
  it('manifestReference prefers the digest', () => {
    expect(manifestReference(parseImageReference('a:1'))).toBe('1');
    expect(manifestReference(parseImageReference(`a:1@${D}`))).toBe(D);
  });
  it('withTag / withDigest / referenceName', () => {
    const ref = parseImageReference('localhost:5000/a/b');
    expect(formatReference(withTag(ref, 'v2'))).toBe('localhost:5000/a/b:v2');
    expect(formatReference(withDigest(ref, D as Digest))).toBe(`localhost:5000/a/b:latest@${D}`);
    expect(referenceName(ref)).toBe('localhost:5000/a/b');
    expect(() => withTag(ref, '.x')).toThrow('invalid tag ".x"');
  });
  it.each([
    ['docker.io', 'registry-1.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
  ])('registryApiHost(%s) = %s', (registry, host) => expect(registryApiHost(registry)).toBe(host));
  it.each([
    ['localhost:5000', 'localhost'],
    ['[::1]:5000', '::1'],
    ['[::1]', '::1'],
    ['example.com', 'example.com'],
  ])('registryHostname(%s) = %s', (registry, host) => expect(registryHostname(registry)).toBe(host));
  it.each([
    ['localhost', [], true],
    ['localhost:5000', [], true],
    ['127.0.0.1:5000', [], true],
    ['127.1.2.3', [], true],
    ['[::1]:5000', [], true],
    ['128.0.0.1:5000', [], false],
    ['docker.io', [], false],
    ['localhost.example.com', [], false],
    ['10.0.0.5:5000', ['10.0.0.5:5000'], true],
    ['10.0.0.5:5000', ['10.0.0.5'], true],
    ['10.0.0.5:5000', ['http://10.0.0.5:5000/'], true],
    ['10.0.0.5:5001', ['10.0.0.5:5000'], false],
  ] as const)('isInsecureRegistry(%s, %j) = %s', (registry, insecure, expected) => {
    expect(isInsecureRegistry(registry, insecure)).toBe(expected);
  });
});
