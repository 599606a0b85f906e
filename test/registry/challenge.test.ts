import { describe, expect, it } from 'vitest';
import { parseChallenges, repositoryScope } from '../../src/registry/challenge.js';

describe('parseChallenges (WWW-Authenticate)', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' } }],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic', [{ scheme: 'basic', params: {} }]],
    [
      'Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:a/b:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:a/b:pull,push' } }],
    ],
    [
      'Basic realm="x", Bearer realm="https://t/token",error="insufficient_scope"',
      [
        { scheme: 'basic', params: { realm: 'x' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', error: 'insufficient_scope' } },
      ],
    ],
    ['Bearer Realm=unquoted,Service=svc', [{ scheme: 'bearer', params: { realm: 'unquoted', service: 'svc' } }]],
    ['Bearer realm="with \\"quotes\\" and, commas"', [{ scheme: 'bearer', params: { realm: 'with "quotes" and, commas' } }]],
    ['', []],
  ])('%s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  it('reads several header values', () => {
    expect(parseChallenges(['Basic realm="a"', 'Bearer realm="b"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(parseChallenges(undefined)).toEqual([]);
  });

  it('repositoryScope', () => {
    expect(repositoryScope('library/busybox', ['pull'])).toBe('repository:library/busybox:pull');
    expect(repositoryScope('a/b', ['pull', 'push'])).toBe('repository:a/b:pull,push');
  });
});
