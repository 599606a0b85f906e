import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { digestFromHex, digestHex, hashStream, isDigest, parseDigest, sha256Digest } from '../../src/image/digest.js';

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('parseDigest', () => {
  it('accepts sha256 with 64 lowercase hex characters', () => {
    expect(parseDigest(HELLO)).toBe(HELLO);
    expect(isDigest(HELLO)).toBe(true);
  });

  it.each([
    ['sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824', 'expected sha256:<64 lowercase hex characters>'],
    ['sha256:abc', 'expected sha256:<64 lowercase hex characters>'],
    ['2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', 'expected sha256:<64 lowercase hex characters>'],
    ['sha512:' + 'a'.repeat(128), 'unsupported digest algorithm "sha512" (only sha256 is supported)'],
    ['', 'expected sha256:<64 lowercase hex characters>'],
  ])('rejects %j', (value, why) => {
    expect(() => parseDigest(value)).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_DIGEST', message: `invalid digest "${value}": ${why}` }));
    expect(isDigest(value)).toBe(false);
  });

  it('splits and joins hex', () => {
    expect(digestHex(parseDigest(HELLO))).toBe(HELLO.slice(7));
    expect(digestFromHex(HELLO.slice(7))).toBe(HELLO);
  });
});

describe('sha256Digest', () => {
  it.each([
    ['hello', HELLO],
    ['', EMPTY],
  ])('of %j', (text, digest) => {
    expect(sha256Digest(text)).toBe(digest);
    expect(sha256Digest(Buffer.from(text))).toBe(digest);
  });

  it('of a stream, in chunks', async () => {
    expect(await sha256Digest(Readable.from([Buffer.from('he'), Buffer.from('llo')]))).toBe(HELLO);
    expect(await hashStream(Readable.from([Buffer.from('hel'), Buffer.from('lo')]))).toEqual({ digest: HELLO, size: 5 });
  });
});
