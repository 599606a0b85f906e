import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { findIgnoreFile, IgnoreMatcher, parseIgnoreFile } from '../../src/context/ignore.js';

/** Rules from pattern lines (one per line, as in a file). */
function matcher(...lines: string[]): IgnoreMatcher {
  return new IgnoreMatcher(parseIgnoreFile(lines.join('\n')));
}

function excluded(lines: string[], path: string, isDir = false): boolean {
  return matcher(...lines).matches(path, isDir).excluded;
}

describe('parseIgnoreFile (ignorefile.ReadAll + patternmatcher.New)', () => {
  it('reads the ignorefile test file', () => {
    const text = ['test1', '/test2', '/a/file/here', '', 'lastfile', '# this is a comment', '! /inverted/abs/path'].join('\n');
    expect(parseIgnoreFile(text, '/ctx/.dockerignore')).toEqual([
      { pattern: 'test1', exception: false, line: 1, text: 'test1', file: '/ctx/.dockerignore' },
      { pattern: 'test2', exception: false, line: 2, text: '/test2', file: '/ctx/.dockerignore' },
      { pattern: 'a/file/here', exception: false, line: 3, text: '/a/file/here', file: '/ctx/.dockerignore' },
      { pattern: 'lastfile', exception: false, line: 5, text: 'lastfile', file: '/ctx/.dockerignore' },
      { pattern: 'inverted/abs/path', exception: true, line: 7, text: '! /inverted/abs/path', file: '/ctx/.dockerignore' },
    ]);
  });

  it.each([
    // [line, pattern, exception]
    ['foo/', 'foo', false],
    ['./a', 'a', false],
    ['a/../b', 'b', false],
    ['a//b/./c/', 'a/b/c', false],
    ['/foo', 'foo', false],
    ['  spaced  ', 'spaced', false],
    ['\tfoo\t', 'foo', false],
    ['!foo/', 'foo', true],
    ['! ./a/../b/', 'b', true],
    ['!!foo', '!foo', true],
    ['  # not a comment', '# not a comment', false],
    ['foo # not a comment either', 'foo # not a comment either', false],
    ['*.md', '*.md', false],
    ['/', '/', false],
    ['.', '.', false],
    ['**/', '**', false],
    ['../x', '../x', false],
  ])('line %j → pattern %j (exception %j)', (line, pattern, exception) => {
    expect(parseIgnoreFile(line)).toEqual([{ pattern, exception, line: 1, text: line.trim(), file: undefined }]);
  });

  it('treats # as a comment only in column 1, strips a BOM, skips blank lines, handles CRLF', () => {
    const text = '\uFEFF# comment\r\n\r\n   \r\nfoo\r\n # bar\r\n#baz\r\n!foo/keep\r\n';
    expect(parseIgnoreFile(text).map((r) => [r.pattern, r.exception, r.line])).toEqual([
      ['foo', false, 4],
      ['# bar', false, 5],
      ['foo/keep', true, 7],
    ]);
  });

  it('strips a BOM only at the start of the file', () => {
    expect(parseIgnoreFile('\uFEFFa\n\uFEFFb').map((r) => r.pattern)).toEqual(['a', '\uFEFFb']);
  });

  it('ignores an empty file', () => {
    expect(parseIgnoreFile('')).toEqual([]);
    expect(parseIgnoreFile('\n\n# only comments\n')).toEqual([]);
  });

  it.each([
    ['!', 1, 'illegal exclusion pattern: "!"'],
    ['ok\n! ', 2, 'illegal exclusion pattern: "!"'],
    ['!/', 1, 'illegal exclusion pattern: "!"'],
    ['a\n\n[', 3, 'invalid pattern "[": unterminated character class'],
    ['[^', 1, 'invalid pattern "[^": unterminated character class'],
    ['src/[a-', 1, 'invalid pattern "src/[a-": unterminated character class'],
    ['[a-]', 1, 'invalid pattern "[a-]": bad character class'],
    ['x[]', 1, 'invalid pattern "x[]": bad character class'],
    ['foo\\', 1, 'invalid pattern "foo\\\\": trailing backslash'],
    ['[z-a]', 1, 'invalid pattern "[z-a]": invalid character class range: z-a'],
    ['[Local-Only]/', 1, 'invalid pattern "[Local-Only]/": invalid character class range: l-O'],
  ])('rejects %j at line %j', (text, line, message) => {
    let err: unknown;
    try {
      parseIgnoreFile(text, 'ctx/.dockerignore');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BuildImageError);
    const e = err as BuildImageError;
    expect(e.code).toBe('CONTEXT_BAD_IGNORE_PATTERN');
    expect(e.message).toBe(message);
    expect(e.file).toBe('ctx/.dockerignore');
    expect(e.range?.start.line).toBe(line);
    expect(e.location).toBe(`ctx/.dockerignore:${line}:1`);
  });

  it('points at the bad line, for a code frame', () => {
    const text = 'node_modules\nsrc/[abc\n';
    try {
      parseIgnoreFile(text, '.dockerignore');
      expect.unreachable();
    } catch (e) {
      const err = e as BuildImageError;
      expect(err.source).toBe(text);
      expect(err.range).toEqual({ start: { line: 2, column: 1, offset: 13 }, end: { line: 2, column: 9, offset: 21 } });
      expect(err.suggestion).toBe('fix or remove the pattern; see https://docs.docker.com/build/concepts/context/#dockerignore-files');
    }
  });
});

// patternmatcher_test.go TestMatches, single patterns: [pattern, path, excluded].
const patternmatcherCases: Array<[string, string, boolean]> = [
  ['**', 'file', true],
  ['**', 'file/', true],
  ['**/', 'file', true],
  ['**/', 'file/', true],
  ['**', 'dir/file', true],
  ['**/', 'dir/file', true],
  ['**', 'dir/file/', true],
  ['**/', 'dir/file/', true],
  ['**/**', 'dir/file', true],
  ['**/**', 'dir/file/', true],
  ['dir/**', 'dir/file', true],
  ['dir/**', 'dir/file/', true],
  ['dir/**', 'dir/dir2/file', true],
  ['dir/**', 'dir/dir2/file/', true],
  ['**/dir', 'dir', true],
  ['**/dir', 'dir/file', true],
  ['**/dir2/*', 'dir/dir2/file', true],
  ['**/dir2/*', 'dir/dir2/file/', true],
  ['**/dir2/**', 'dir/dir2/dir3/file', true],
  ['**/dir2/**', 'dir/dir2/dir3/file/', true],
  ['**file', 'file', true],
  ['**file', 'dir/file', true],
  ['**/file', 'dir/file', true],
  ['**file', 'dir/dir/file', true],
  ['**/file', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file.txt', true],
  ['**/file*txt', 'dir/dir/file.txt', true],
  ['**/file*.txt', 'dir/dir/file.txt', true],
  ['**/file*.txt*', 'dir/dir/file.txt', true],
  ['**/**/*.txt', 'dir/dir/file.txt', true],
  ['**/**/*.txt2', 'dir/dir/file.txt', false],
  ['**/*.txt', 'file.txt', true],
  ['**/**/*.txt', 'file.txt', true],
  ['a**/*.txt', 'a/file.txt', true],
  ['a**/*.txt', 'a/dir/file.txt', true],
  ['a**/*.txt', 'a/dir/dir/file.txt', true],
  ['a/*.txt', 'a/dir/file.txt', false],
  ['a/*.txt', 'a/file.txt', true],
  ['a/*.txt**', 'a/file.txt', true],
  ['a[b-d]e', 'ae', false],
  ['a[b-d]e', 'ace', true],
  ['a[b-d]e', 'aae', false],
  ['a[^b-d]e', 'aze', true],
  ['.*', '.foo', true],
  ['.*', 'foo', false],
  ['abc.def', 'abcdef', false],
  ['abc.def', 'abc.def', true],
  ['abc.def', 'abcZdef', false],
  ['abc?def', 'abcZdef', true],
  ['abc?def', 'abcdef', false],
  ['a\\\\', 'a\\', true],
  ['**/foo/bar', 'foo/bar', true],
  ['**/foo/bar', 'dir/foo/bar', true],
  ['**/foo/bar', 'dir/dir2/foo/bar', true],
  ['abc/**', 'abc', false],
  ['abc/**', 'abc/def', true],
  ['abc/**', 'abc/def/ghi', true],
  ['**/.foo', '.foo', true],
  ['**/.foo', 'bar.foo', false],
  ['a(b)c/def', 'a(b)c/def', true],
  ['a(b)c/def', 'a(b)c/xyz', false],
  ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
  ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  ['a\\*b', 'a*b', true],
  // filepath.Match's table run through patternmatcher (a parent directory matching counts).
  ['a*', 'ab/c', true],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['ab[^c]', 'abc', false],
  ['a[^a]b', 'a☺b', true],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[x\\-]', '-', true],
  ['*x', 'xxx', true],
];

// Patterns whose compiled form is a plain string comparison, prefix or suffix — quirks included.
const quirkCases: Array<[string, string, boolean]> = [
  ['**foo', 'barfoo', true], // a literal suffix, not "zero or more directories then foo"
  ['**foo', 'a/xfoo', true],
  ['a**b', 'axb', false], // `**` inside: `a(.*/)?b`
  ['a**b', 'ab', true],
  ['a**b', 'ax/b', true],
  ['foo**', 'foobar/baz', true], // a literal prefix
  ['a^b', 'a^b', true], // no wildcard: compared as a string
  ['a^b*', 'a^bc', false], // with a wildcard, Go's regexp keeps `^` as an anchor
  ['a$b*', 'a$bc', true],
  ['[*]', '*', true],
  ['[*]', 'x', false],
  ['.', 'anything', false],
  ['/', 'x', false],
  ['*', 'a/b', true], // by its parent `a`
  ['*.md', 'README.md', true],
  ['*.md', 'docs/README.md', false], // anchored at the root, unlike .gitignore
  ['**/*.md', 'docs/README.md', true],
  ['docs/', 'docs', true],
  ['docs/', 'docs/a/b', true],
  ['[!a]', '!', true], // only `^` negates
  ['[!a]', 'b', false],
];

describe('IgnoreMatcher: one pattern', () => {
  it.each([...patternmatcherCases, ...quirkCases])('%j excludes %j: %j', (pattern, path, expected) => {
    expect(excluded([pattern], path)).toBe(expected);
  });
});

describe('IgnoreMatcher: several patterns, last match wins', () => {
  it.each([
    // patternmatcher's multi-pattern table
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
    [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
    // patternmatcher's other tests
    [['*'], 'fileutils.go', true],
    [['*.go'], 'fileutils.go', true],
    [['!fileutils.go', '*.go'], 'fileutils.go', true],
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs/', '!docs/README.md'], 'docs/README.md', false],
    [['docs/*', '!docs/README.md'], 'docs/README.md', false],
    [['*.go', '!fileutils.go'], 'fileutils.go', false],
    [['*.go'], '.', false],
    [[], 'any/path/there', false],
    // SEMANTICS.md
    [['*.md', '!README.md'], 'README.md', false],
    [['*.md', '!README.md'], 'CHANGELOG.md', true],
    [['!README.md', '*.md'], 'README.md', true],
    [['*.md', '!README.md', 'README.md'], 'README.md', true],
    [['node_modules'], 'node_modules/a/b/c.js', true],
    [['node_modules', '!node_modules/keep'], 'node_modules/keep/x.js', false],
    [['node_modules', '!node_modules/keep'], 'node_modules/other/x.js', true],
    [['**/*.log', '!important.log'], 'important.log', false],
    [['**/*.log', '!important.log'], 'a/important.log', true],
    [['*', '!src'], 'src/deep/file', false],
    [['*', '!src', 'src/tmp'], 'src/tmp/x', true],
    // a directory excluded by a wildcard exception's reach
    [['node_modules', '!**/package.json'], 'node_modules/x/package.json', false],
    [['node_modules', '!**/package.json'], 'node_modules/x/index.js', true],
  ] as Array<[string[], string, boolean]>)('%j: %j excluded %j', (lines, path, expected) => {
    expect(excluded(lines, path)).toBe(expected);
  });

  it('follows the walk: a rule a parent matched only counts if the walk evaluated it there', () => {
    // fsutil's MatchesUsingParentResults: at `a`, `!a` is skipped (nothing excluded yet), so it
    // does not carry down to `a/c`, which `a/c` excludes. (MatchesOrParentMatches would say
    // "included"; the context BuildKit receives does not hold a/c.)
    expect(excluded(['a/c', '!a'], 'a/c')).toBe(true);
    expect(excluded(['a/c', '!a'], 'a/d')).toBe(false);
    expect(excluded(['a/c', '!a'], 'a', true)).toBe(false);
  });

  it('does not look inside an excluded directory no exception can reach', () => {
    const m = matcher('foo', '!bar/x');
    expect(m.matches('foo', true)).toMatchObject({ excluded: true });
    expect(m.child(undefined, 'foo', true).descend).toBe(false);
    const m2 = matcher('foo', '!foo/bar');
    expect(m2.child(undefined, 'foo', true).descend).toBe(true);
    expect(m2.child(m2.child(undefined, 'foo', true), 'foo/baz', true).descend).toBe(false);
    // a wildcard in any exception means every excluded directory is walked
    const m3 = matcher('foo', '!*/x');
    expect(m3.child(undefined, 'foo', true).descend).toBe(true);
    expect(m3.matches('foo/x')).toMatchObject({ excluded: false });
    // trailing /* and /** do not count as wildcards
    const m4 = matcher('foo', '!foo/bar/**');
    expect(m4.child(undefined, 'foo', true).descend).toBe(true);
    expect(m4.child(undefined, 'baz', true)).toMatchObject({ excluded: false, descend: true });
    const m5 = matcher('*', '!keep/**');
    expect(m5.child(undefined, 'other', true)).toMatchObject({ excluded: true, descend: false });
  });

  it('records which rule decided, with its line', () => {
    const rules = parseIgnoreFile('# secrets\n*.key\n\nsecrets/\n!secrets/public.key\n', '/ctx/.dockerignore');
    const m = new IgnoreMatcher(rules);
    expect(m.matches('a.key')).toEqual({ excluded: true, rule: rules[0] });
    expect(rules[0]).toMatchObject({ text: '*.key', line: 2 });
    expect(m.matches('secrets/private.pem')).toEqual({ excluded: true, rule: rules[1] });
    expect(rules[1]).toMatchObject({ text: 'secrets/', line: 4 });
    expect(m.matches('secrets/public.key')).toEqual({ excluded: false, rule: rules[2] });
    expect(m.matches('src/main.go')).toEqual({ excluded: false, rule: undefined });
    // once a path is excluded, later exclusions are not even evaluated (patternmatcher skips
    // them), so the first exclusion after the last applicable exception is the one reported
    const m2 = new IgnoreMatcher(parseIgnoreFile('build\nbuild/out\n!build/out/keep\nbuild/out/keep/tmp\n'));
    expect(m2.matches('build/out/x')).toMatchObject({ excluded: true, rule: { pattern: 'build', line: 1 } });
    expect(m2.matches('build/out/keep/a')).toMatchObject({ excluded: false, rule: { pattern: 'build/out/keep', line: 3 } });
    expect(m2.matches('build/out/keep/tmp/a')).toMatchObject({ excluded: true, rule: { pattern: 'build/out/keep/tmp', line: 4 } });
  });

  it('validates rules made by hand', () => {
    expect(() => new IgnoreMatcher([{ pattern: 'a[', exception: false, line: 4, text: '/a[' }])).toThrow(
      expect.objectContaining({ code: 'CONTEXT_BAD_IGNORE_PATTERN', message: 'invalid pattern "/a[" (line 4): unterminated character class' }),
    );
  });

  it('never excludes the context root', () => {
    expect(matcher('**').matches('.')).toEqual({ excluded: false });
    expect(matcher('*').matches('')).toEqual({ excluded: false });
  });
});

describe('findIgnoreFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bi-ignore-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads <context>/.dockerignore', async () => {
    await writeFile(join(dir, '.dockerignore'), 'a\n!b\n');
    const found = await findIgnoreFile(dir, join(dir, 'Dockerfile'));
    expect(found?.path).toBe(join(dir, '.dockerignore'));
    expect(found?.rules.map((r) => [r.pattern, r.exception, r.file])).toEqual([
      ['a', false, join(dir, '.dockerignore')],
      ['b', true, join(dir, '.dockerignore')],
    ]);
  });

  it('prefers <Dockerfile>.dockerignore beside the Dockerfile', async () => {
    await writeFile(join(dir, '.dockerignore'), 'root-rule\n');
    await mkdir(join(dir, 'build'));
    await writeFile(join(dir, 'build', 'app.Dockerfile'), 'FROM scratch\n');
    await writeFile(join(dir, 'build', 'app.Dockerfile.dockerignore'), 'specific\n');
    const found = await findIgnoreFile(dir, join(dir, 'build', 'app.Dockerfile'));
    expect(found?.path).toBe(join(dir, 'build', 'app.Dockerfile.dockerignore'));
    expect(found?.rules.map((r) => r.pattern)).toEqual(['specific']);
    // another Dockerfile in the same place falls back to the root file
    const other = await findIgnoreFile(dir, join(dir, 'build', 'Dockerfile'));
    expect(other?.rules.map((r) => r.pattern)).toEqual(['root-rule']);
  });

  it('uses Dockerfile.dockerignore for the default Dockerfile, even an empty one', async () => {
    await writeFile(join(dir, '.dockerignore'), 'root-rule\n');
    await writeFile(join(dir, 'Dockerfile.dockerignore'), '');
    const found = await findIgnoreFile(dir, join(dir, 'Dockerfile'));
    expect(found).toEqual({ path: join(dir, 'Dockerfile.dockerignore'), text: '', rules: [] });
  });

  it('finds the Dockerfile-specific file for a Dockerfile outside the context', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'bi-ignore-df-'));
    try {
      await writeFile(join(dir, '.dockerignore'), 'root-rule\n');
      await writeFile(join(elsewhere, 'Dockerfile.dockerignore'), 'outside\n');
      const found = await findIgnoreFile(dir, join(elsewhere, 'Dockerfile'));
      expect(found?.rules.map((r) => r.pattern)).toEqual(['outside']);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('returns undefined when there is none, and ignores a directory of that name', async () => {
    expect(await findIgnoreFile(dir, join(dir, 'Dockerfile'))).toBeUndefined();
    await mkdir(join(dir, '.dockerignore'));
    expect(await findIgnoreFile(dir, join(dir, 'Dockerfile'))).toBeUndefined();
  });

  it('reports a bad pattern with the file and line', async () => {
    await writeFile(join(dir, '.dockerignore'), 'ok\n\n!\n');
    await expect(findIgnoreFile(dir, join(dir, 'Dockerfile'))).rejects.toMatchObject({
      code: 'CONTEXT_BAD_IGNORE_PATTERN',
      file: join(dir, '.dockerignore'),
      range: { start: { line: 3, column: 1 } },
    });
  });
});
