import { execFileSync } from 'node:child_process';
import { chmod, lstat, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IgnoreMatcher, parseIgnoreFile } from '../../src/context/ignore.js';
import { walkContext, type ContextEntry } from '../../src/context/walk.js';
import { makeTree, tempDir } from './tree.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir('walk');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fields that a tree description decides. */
function summary(e: ContextEntry): string {
  const extra = e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : e.hardlinkTo !== undefined ? ` => ${e.hardlinkTo}` : '';
  return `${e.type} ${e.mode.toString(8).padStart(4, '0')} ${e.size} ${e.path}${extra}`;
}

async function walk(ignore?: string): Promise<string[]> {
  const matcher = ignore === undefined ? undefined : new IgnoreMatcher(parseIgnoreFile(ignore));
  return (await walkContext(dir, { matcher })).map(summary);
}

async function paths(ignore: string): Promise<string[]> {
  const matcher = new IgnoreMatcher(parseIgnoreFile(ignore));
  return (await walkContext(dir, { matcher })).map((e) => e.path);
}

describe('walkContext', () => {
  it('lists every entry in walk order with type, mode, size and link target, never following symlinks', async () => {
    await makeTree(dir, {
      'b.txt': 'hello',
      'a-b': '',
      'a/b': { file: '#!/bin/sh\n', mode: 0o755 },
      'a/sub/deep.txt': 'deep',
      'a/link-to-sub': { symlink: 'sub' },
      'dangling': { symlink: '../../outside/nowhere' },
      'abs': { symlink: '/etc/passwd' },
      'setuid': { file: 'x', mode: 0o4755 },
      'sticky': { dir: true, mode: 0o1777 },
      'private': { dir: true, mode: 0o700 },
      'é.txt': 'accent',
    });
    expect(await walk()).toEqual([
      'dir 0755 0 a',
      'file 0755 10 a/b',
      'symlink 0777 3 a/link-to-sub -> sub',
      'dir 0755 0 a/sub',
      'file 0644 4 a/sub/deep.txt',
      'file 0644 0 a-b',
      'symlink 0777 11 abs -> /etc/passwd',
      'file 0644 5 b.txt',
      'symlink 0777 21 dangling -> ../../outside/nowhere',
      'dir 0700 0 private',
      'file 4755 1 setuid',
      'dir 1777 0 sticky',
      'file 0644 6 é.txt',
    ]);
  });

  it('records owner, times in nanoseconds, device and inode from lstat', async () => {
    await makeTree(dir, { 'f.txt': { file: 'x', mtime: 1700000000.5 } });
    const [entry] = await walkContext(dir);
    const st = await lstat(join(dir, 'f.txt'), { bigint: true });
    expect(entry).toEqual({
      path: 'f.txt',
      type: 'file',
      mode: 0o644,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: 1,
      mtimeNs: 1_700_000_000_500_000_000n,
      ctimeNs: st.ctimeNs,
      dev: st.dev,
      ino: st.ino,
      nlink: 1,
    });
  });

  it('lists fifos and sockets, and hard links as links to the first path', async () => {
    await makeTree(dir, { 'data': 'same', 'z/again': { hardlink: 'data' }, 'b-link': { hardlink: 'data' } });
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    expect(await walk()).toEqual([
      'file 0644 4 b-link',
      'file 0644 4 data => b-link',
      expect.stringMatching(/^fifo 0\d{3} 0 pipe$/),
      'dir 0755 0 z',
      'file 0644 4 z/again => b-link',
    ]);
  });

  it('returns nothing for an empty context', async () => {
    expect(await walk()).toEqual([]);
  });

  it('rejects a missing context or a file as context', async () => {
    await expect(walkContext(join(dir, 'nope'))).rejects.toMatchObject({ code: 'CONTEXT_NOT_FOUND' });
    await writeFile(join(dir, 'file'), '');
    await expect(walkContext(join(dir, 'file'))).rejects.toMatchObject({ code: 'CONTEXT_NOT_A_DIRECTORY' });
  });

  it('stops when aborted', async () => {
    await makeTree(dir, { 'a/b': 'x' });
    const ac = new AbortController();
    ac.abort();
    await expect(walkContext(dir, { signal: ac.signal })).rejects.toThrow();
  });
});

describe('walkContext with .dockerignore', () => {
  beforeEach(async () => {
    await makeTree(dir, {
      '.dockerignore': '',
      'Dockerfile': 'FROM scratch\n',
      'README.md': '',
      'docs/guide.md': '',
      'docs/img/logo.png': '',
      'src/main.go': '',
      'src/main_test.go': '',
      'src/vendor/lib.go': '',
      'node_modules/left-pad/index.js': '',
      'node_modules/left-pad/package.json': '',
      'node_modules/keep/index.js': '',
      'build/out/app': '',
      'build/log.txt': '',
      'secret.key': '',
    });
  });

  it.each([
    // [ignore file, expected paths]
    ['', ['.dockerignore', 'Dockerfile', 'README.md', 'build', 'build/log.txt', 'build/out', 'build/out/app', 'docs', 'docs/guide.md', 'docs/img', 'docs/img/logo.png', 'node_modules', 'node_modules/keep', 'node_modules/keep/index.js', 'node_modules/left-pad', 'node_modules/left-pad/index.js', 'node_modules/left-pad/package.json', 'secret.key', 'src', 'src/main.go', 'src/main_test.go', 'src/vendor', 'src/vendor/lib.go']],
    // *.md only at the root
    ['*.md\nnode_modules\nbuild\nsrc\n', ['.dockerignore', 'Dockerfile', 'docs', 'docs/guide.md', 'docs/img', 'docs/img/logo.png', 'secret.key']],
    // ** reaches every depth; the Dockerfile and .dockerignore can be excluded too
    ['**/*.md\n**/*.go\nnode_modules/\nbuild\nDockerfile\n.dockerignore\n', ['docs', 'docs/img', 'docs/img/logo.png', 'secret.key', 'src', 'src/vendor']],
    // an exception re-includes a file inside an excluded directory: its parents come along
    ['node_modules\n!node_modules/keep/index.js\n*\n!node_modules\n', ['node_modules', 'node_modules/keep', 'node_modules/keep/index.js', 'node_modules/left-pad', 'node_modules/left-pad/index.js', 'node_modules/left-pad/package.json']],
    ['node_modules\n!node_modules/keep\n*.md\ndocs\nsrc\nbuild\nsecret.key\nDockerfile\n.dockerignore\n', ['node_modules', 'node_modules/keep', 'node_modules/keep/index.js']],
    // a wildcard exception makes the walk enter every excluded directory
    ['**\n!**/package.json\n', ['node_modules', 'node_modules/left-pad', 'node_modules/left-pad/package.json']],
    ['**\n!**/*.go\nsrc/vendor/*\n', ['src', 'src/main.go', 'src/main_test.go']],
    // fsutil quirk (MatchesUsingParentResults): `src/vendor` is not evaluated at the directory,
    // which `**` already excluded, so it does not carry down and lib.go stays in the context
    ['**\n!**/*.go\nsrc/vendor\n', ['src', 'src/main.go', 'src/main_test.go', 'src/vendor', 'src/vendor/lib.go']],
    // last match wins
    ['*\n!src\nsrc/*_test.go\n', ['src', 'src/main.go', 'src/vendor', 'src/vendor/lib.go']],
    ['*\nsrc/*_test.go\n!src\n', ['src', 'src/main.go', 'src/main_test.go', 'src/vendor', 'src/vendor/lib.go']],
    // a pattern with a trailing slash matches the directory; dir/** matches what is below it
    ['build/\ndocs/**\nnode_modules\nsrc\n', ['.dockerignore', 'Dockerfile', 'README.md', 'docs', 'secret.key']],
    // #-comments only in column 1
    ['#secret.key\n #README.md\n', ['.dockerignore', 'Dockerfile', 'README.md', 'build', 'build/log.txt', 'build/out', 'build/out/app', 'docs', 'docs/guide.md', 'docs/img', 'docs/img/logo.png', 'node_modules', 'node_modules/keep', 'node_modules/keep/index.js', 'node_modules/left-pad', 'node_modules/left-pad/index.js', 'node_modules/left-pad/package.json', 'secret.key', 'src', 'src/main.go', 'src/main_test.go', 'src/vendor', 'src/vendor/lib.go']],
    // a BOM does not hide the first pattern
    ['\uFEFFsecret.key\n**\n!s*\n!src/**\n', ['secret.key', 'src', 'src/main.go', 'src/main_test.go', 'src/vendor', 'src/vendor/lib.go']],
  ])('%j', async (ignore, expected) => {
    expect(await paths(ignore)).toEqual(expected);
  });

  it('reports what it leaves out, and why', async () => {
    const excludedPaths: string[] = [];
    const matcher = new IgnoreMatcher(parseIgnoreFile('node_modules\n!node_modules/keep\n*.md\nsrc/*_test.go\n'));
    await walkContext(dir, { matcher, onExclude: (path, rule) => excludedPaths.push(`${path} (${rule?.text}, line ${rule?.line})`) });
    expect(excludedPaths.sort()).toEqual([
      'README.md (*.md, line 3)',
      'node_modules/left-pad (node_modules, line 1)',
      'src/main_test.go (src/*_test.go, line 4)',
    ]);
  });

  it('keeps the walk of fsutil TestWalkerExclude', async () => {
    await rm(dir, { recursive: true, force: true });
    await makeTree(dir, { bar: '', 'foo/bar2': '', foo2: '' });
    expect(await walk('foo*\n!foo/bar2\n')).toEqual(['file 0644 0 bar', 'dir 0755 0 foo', 'file 0644 0 foo/bar2']);
  });

  it.runIf(process.getuid?.() !== 0)('accepts an unreadable directory only when it is excluded (fsutil TestWalkerPermissionDenied)', async () => {
    await rm(dir, { recursive: true, force: true });
    await makeTree(dir, { 'foo/bar': { dir: true } });
    await chmod(join(dir, 'foo/bar'), 0);
    try {
      await expect(walkContext(dir)).rejects.toMatchObject({ code: 'CONTEXT_UNREADABLE' });
      expect(await paths('**/bar\n')).toEqual(['foo']);
      expect(await paths('**/bar\n!foo/bar/baz\n')).toEqual(['foo']);
      await expect(paths('**/bar\n!foo/bar\n')).rejects.toMatchObject({ code: 'CONTEXT_UNREADABLE' });
    } finally {
      await chmod(join(dir, 'foo/bar'), 0o755);
    }
  });
});
