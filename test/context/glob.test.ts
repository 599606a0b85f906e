import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadPatternError, hasWildcards, matchGlob, splitWildcards, validateGlob } from '../../src/context/glob.js';
import { clampToRoot, cleanPath, comparePaths, trimSpace } from '../../src/context/paths.js';

// Go's path/filepath match_test.go table, in our own words: [pattern, name, match, bad pattern].
const goMatchCases: Array<[string, string, boolean, boolean]> = [
  ['abc', 'abc', true, false],
  ['*', 'abc', true, false],
  ['*c', 'abc', true, false],
  ['a*', 'a', true, false],
  ['a*', 'abc', true, false],
  ['a*', 'ab/c', false, false],
  ['a*/b', 'abc/b', true, false],
  ['a*/b', 'a/c/b', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false, false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true, false],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false, false],
  ['ab[c]', 'abc', true, false],
  ['ab[b-d]', 'abc', true, false],
  ['ab[e-g]', 'abc', false, false],
  ['ab[^c]', 'abc', false, false],
  ['ab[^b-d]', 'abc', false, false],
  ['ab[^e-g]', 'abc', true, false],
  ['a\\*b', 'a*b', true, false],
  ['a\\*b', 'ab', false, false],
  ['a?b', 'a☺b', true, false],
  ['a[^a]b', 'a☺b', true, false],
  ['a???b', 'a☺b', false, false],
  ['a[^a][^a][^a]b', 'a☺b', false, false],
  ['[a-ζ]*', 'α', true, false],
  ['*[a-ζ]', 'A', false, false],
  ['a?b', 'a/b', false, false],
  ['a*b', 'a/b', false, false],
  ['[\\]a]', ']', true, false],
  ['[\\-]', '-', true, false],
  ['[x\\-]', 'x', true, false],
  ['[x\\-]', '-', true, false],
  ['[x\\-]', 'z', false, false],
  ['[\\-x]', 'x', true, false],
  ['[\\-x]', '-', true, false],
  ['[\\-x]', 'a', false, false],
  ['[]a]', ']', false, true],
  ['[-]', '-', false, true],
  ['[x-]', 'x', false, true],
  ['[x-]', '-', false, true],
  ['[x-]', 'z', false, true],
  ['[-x]', 'x', false, true],
  ['[-x]', '-', false, true],
  ['[-x]', 'a', false, true],
  ['\\', 'a', false, true],
  ['[a-b-c]', 'a', false, true],
  ['[', 'a', false, true],
  ['[^', 'a', false, true],
  ['[^bc', 'a', false, true],
  ['a[', 'a', false, true],
  ['a[', 'ab', false, true],
  ['a[', 'x', false, true],
  ['a/b[', 'x', false, true],
  ['*x', 'xxx', true, false],
  // Only `^` negates: `[!a]` is the class of `!` and `a`, as in Go.
  ['[!a]', '!', true, false],
  ['[!a]', 'b', false, false],
  ['*', '.hidden', true, false],
];

describe('matchGlob (Go filepath.Match)', () => {
  it.each(goMatchCases)('%j vs %j → %j (bad pattern: %j)', (pattern, name, match, bad) => {
    if (bad) {
      expect(() => matchGlob(pattern, name)).toThrow(BadPatternError);
      expect(() => validateGlob(pattern)).toThrow(BadPatternError);
    } else {
      expect(matchGlob(pattern, name)).toBe(match);
      expect(() => validateGlob(pattern)).not.toThrow();
    }
  });

  it('names the pattern in its error', () => {
    expect(() => validateGlob('src/[ab')).toThrow('syntax error in pattern "src/[ab": unterminated character class');
  });
});

describe('hasWildcards and splitWildcards (BuildKit containsWildcards)', () => {
  it.each([
    ['a/b.txt', false],
    ['*.txt', true],
    ['a?', true],
    ['[ab]', true],
    ['a\\*b', false],
    ['a\\[b]', false],
    ['a\\\\*', true],
    ['a]', false],
  ])('%j → %j', (p, expected) => {
    expect(hasWildcards(p)).toBe(expected);
  });

  it.each([
    ['a/b/c', ['a/b/c', '']],
    ['*.go', ['', '*.go']],
    ['src/*.go', ['src', '*.go']],
    ['a/b/*/c/d', ['a/b', '*/c/d']],
    ['a\\*/[x]', ['a\\*', '[x]']],
    ['', ['', '']],
  ])('%j → %j', (p, expected) => {
    expect(splitWildcards(p)).toEqual(expected);
  });
});

describe('paths', () => {
  it.each([
    ['', '.'],
    ['.', '.'],
    ['foo/', 'foo'],
    ['./a', 'a'],
    ['a/../b', 'b'],
    ['a//b/./c/', 'a/b/c'],
    ['/..', '/'],
    ['/../a', '/a'],
    ['a/../..', '..'],
    ['../../a', '../../a'],
    ['!foo/../bar', 'bar'],
    ['/', '/'],
  ])('cleanPath(%j) = %j', (p, expected) => {
    expect(cleanPath(p)).toBe(expected);
  });

  it.each([
    ['..', ''],
    ['.', ''],
    ['/', ''],
    ['../x', 'x'],
    ['/a/b/', 'a/b'],
    ['a/../../b', 'b'],
    ['./a/./b', 'a/b'],
  ])('clampToRoot(%j) = %j', (p, expected) => {
    expect(clampToRoot(p)).toBe(expected);
  });

  it("trims what Go's TrimSpace trims, not more", () => {
    expect(trimSpace(' \t\u00a0x y\u0085\r ')).toBe('x y');
    expect(trimSpace('\uFEFFx')).toBe('\uFEFFx');
  });

  it('orders like comparing components as UTF-8 bytes, one by one (property)', () => {
    const oracle = (a: string, b: string): number => {
      const pa = a.split('/');
      const pb = b.split('/');
      for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
        const c = Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
        if (c !== 0) return c;
      }
      return pa.length - pb.length;
    };
    const component = fc.string({ unit: fc.constantFrom('a', 'b', '-', '.', ' ', 'é', '\uFFFD', '\u{1F600}', '\uE000'), minLength: 1, maxLength: 4 });
    const path = fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
    fc.assert(
      fc.property(path, path, (a, b) => {
        expect(Math.sign(comparePaths(a, b))).toBe(Math.sign(oracle(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('orders paths component by component (Go WalkDir order), by code point', () => {
    const paths = ['a-b', 'a/b', 'a', 'b', 'a/b/c', 'a.txt', 'A', '\u{1F600}', '\uFFFD', 'a b', '_'];
    expect([...paths].sort(comparePaths)).toEqual(['A', '_', 'a', 'a/b', 'a/b/c', 'a b', 'a-b', 'a.txt', 'b', '\uFFFD', '\u{1F600}']);
  });
});
