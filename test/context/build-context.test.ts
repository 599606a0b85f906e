import { createHash } from 'node:crypto';
import { chmod, chown, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildContext, ContextSourceError, type SelectedSource } from '../../src/context/build-context.js';
import { selectionDigest, sourceDigest } from '../../src/context/digest.js';
import { HashCache, type FileHasher, sha256File } from '../../src/context/hash.js';
import { findIgnoreFile, parseIgnoreFile } from '../../src/context/ignore.js';
import type { ContextEntry } from '../../src/context/walk.js';
import { makeTree, tempDir } from './tree.js';

let dir: string;
beforeEach(async () => {
  dir = await tempDir('ctx');
  await makeTree(dir, {
    '.dockerignore': '# local junk\n*.log\nsecrets/\n!secrets/public.pem\nnode_modules\nDockerfile\n.dockerignore\n',
    'Dockerfile': 'FROM scratch\nCOPY . /\n',
    'README.md': 'readme',
    'a.txt': 'a',
    'b.txt': 'b',
    'debug.log': 'log',
    'file[1].txt': 'bracket',
    'a\\*b': 'backslash-star',
    'src/main.go': 'package main',
    'src/util.go': 'package main // util',
    'src/sub/deep.go': 'package sub',
    'src/sub/notes.md': 'notes',
    'secrets/private.pem': 'private',
    'secrets/public.pem': 'public',
    'node_modules/x/index.js': 'x',
    'link-to-src': { symlink: 'src' },
    'link-to-a': { symlink: '/a.txt' },
    'link-abs-dir': { symlink: '/src/sub' },
    'link-escape': { symlink: '../../../../a.txt' },
    'link-escape-missing': { symlink: '../../../../etc/passwd' },
    'link-to-private': { symlink: 'secrets/private.pem' },
    'link-chain': { symlink: 'link-to-src/sub' },
    'loop1': { symlink: 'loop2' },
    'loop2': { symlink: 'loop1' },
    'src/link-up': { symlink: '../a.txt' },
  });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function open(): Promise<BuildContext> {
  const ignore = await findIgnoreFile(dir, join(dir, 'Dockerfile'));
  return BuildContext.open(dir, { ignore: ignore?.rules });
}

/** [path as named, target, entry paths] for each match. */
function shape(s: SelectedSource): Array<[string, string, string[]]> {
  return s.matches.map((m) => [m.path, m.target, m.entries.map((e) => e.path)]);
}

async function selectOne(ctx: BuildContext, source: string): Promise<Array<[string, string, string[]]>> {
  const [s] = await ctx.select([source]);
  return shape(s!);
}

async function notFound(ctx: BuildContext, source: string): Promise<ContextSourceError> {
  try {
    await ctx.select([source]);
  } catch (e) {
    expect(e).toBeInstanceOf(ContextSourceError);
    return e as ContextSourceError;
  }
  throw new Error(`${source} was found`);
}

describe('BuildContext', () => {
  it('holds what .dockerignore keeps, in walk order; the Dockerfile and .dockerignore were still read', async () => {
    const ctx = await open();
    expect(ctx.entries.map((e) => e.path)).toEqual([
      'README.md',
      'a.txt',
      'a\\*b',
      'b.txt',
      'file[1].txt',
      'link-abs-dir',
      'link-chain',
      'link-escape',
      'link-escape-missing',
      'link-to-a',
      'link-to-private',
      'link-to-src',
      'loop1',
      'loop2',
      'secrets',
      'secrets/public.pem',
      'src',
      'src/link-up',
      'src/main.go',
      'src/sub',
      'src/sub/deep.go',
      'src/sub/notes.md',
      'src/util.go',
    ]);
    expect(ctx.root.path).toBe('');
    expect(ctx.root.type).toBe('dir');
    expect(ctx.get('debug.log')).toBeUndefined();
    expect(ctx.explain('debug.log')).toMatchObject({ excluded: true, rule: { text: '*.log', line: 2 } });
  });

  it('reports every entry as owned by root unless asked to preserve owners', async () => {
    await chown(join(dir, 'a.txt'), 1234, 5678).catch(() => undefined);
    const reset = await BuildContext.open(dir);
    expect(reset.get('a.txt')).toMatchObject({ uid: 0, gid: 0 });
    expect(reset.root).toMatchObject({ uid: 0, gid: 0 });
    if (process.getuid?.() === 0) {
      const kept = await BuildContext.open(dir, { ownership: 'preserve' });
      expect(kept.get('a.txt')).toMatchObject({ uid: 1234, gid: 5678 });
    }
  });
});

describe('BuildContext.select', () => {
  it.each([
    // literal files and directories; a directory brings everything below it
    ['a.txt', [['a.txt', 'a.txt', ['a.txt']]]],
    ['src', [['src', 'src', ['src', 'src/link-up', 'src/main.go', 'src/sub', 'src/sub/deep.go', 'src/sub/notes.md', 'src/util.go']]]],
    ['src/sub/', [['src/sub', 'src/sub', ['src/sub', 'src/sub/deep.go', 'src/sub/notes.md']]]],
    ['./src/../a.txt', [['a.txt', 'a.txt', ['a.txt']]]],
    // clamped to the context root
    ['../../a.txt', [['a.txt', 'a.txt', ['a.txt']]]],
    ['/src/main.go', [['src/main.go', 'src/main.go', ['src/main.go']]]],
    ['secrets', [['secrets', 'secrets', ['secrets', 'secrets/public.pem']]]],
    // a backslash escapes a wildcard; without another wildcard the path is literal, backslash included
    ['a\\*b', [['a\\*b', 'a\\*b', ['a\\*b']]]],
    // symlinks named directly are followed, inside the context
    ['link-to-src', [['link-to-src', 'src', ['src', 'src/link-up', 'src/main.go', 'src/sub', 'src/sub/deep.go', 'src/sub/notes.md', 'src/util.go']]]],
    ['link-to-a', [['link-to-a', 'a.txt', ['a.txt']]]],
    ['link-abs-dir', [['link-abs-dir', 'src/sub', ['src/sub', 'src/sub/deep.go', 'src/sub/notes.md']]]],
    ['link-escape', [['link-escape', 'a.txt', ['a.txt']]]],
    ['link-chain', [['link-chain', 'src/sub', ['src/sub', 'src/sub/deep.go', 'src/sub/notes.md']]]],
    ['link-to-src/sub/deep.go', [['link-to-src/sub/deep.go', 'src/sub/deep.go', ['src/sub/deep.go']]]],
    ['src/link-up', [['src/link-up', 'a.txt', ['a.txt']]]],
  ] as Array<[string, Array<[string, string, string[]]>]>)('literal %j', async (source, expected) => {
    expect(await selectOne(await open(), source)).toEqual(expected);
  });

  it.each(['.', '..', '/', '', './'])('%j selects the whole context', async (source) => {
    const ctx = await open();
    const [s] = await ctx.select([source]);
    expect(s!.matches).toHaveLength(1);
    expect(s!.matches[0]!.path).toBe('');
    expect(s!.matches[0]!.target).toBe('');
    expect(s!.matches[0]!.entries).toEqual([ctx.root, ...ctx.entries]);
  });

  it.each([
    ['*.txt', [['a.txt', 'a.txt', ['a.txt']], ['b.txt', 'b.txt', ['b.txt']], ['file[1].txt', 'file[1].txt', ['file[1].txt']]]],
    ['[ab].txt', [['a.txt', 'a.txt', ['a.txt']], ['b.txt', 'b.txt', ['b.txt']]]],
    ['file\\[1\\].*', [['file[1].txt', 'file[1].txt', ['file[1].txt']]]],
    ['?.txt', [['a.txt', 'a.txt', ['a.txt']], ['b.txt', 'b.txt', ['b.txt']]]],
    ['src/*.go', [['src/main.go', 'src/main.go', ['src/main.go']], ['src/util.go', 'src/util.go', ['src/util.go']]]],
    ['src/*/*.go', [['src/sub/deep.go', 'src/sub/deep.go', ['src/sub/deep.go']]]],
    // `*` does not cross `/`; a matched directory comes whole
    ['s*', [['secrets', 'secrets', ['secrets', 'secrets/public.pem']], ['src', 'src', ['src', 'src/link-up', 'src/main.go', 'src/sub', 'src/sub/deep.go', 'src/sub/notes.md', 'src/util.go']]]],
    // the literal part is resolved through symlinks; matched symlinks are followed
    ['link-to-src/*.go', [['link-to-src/main.go', 'src/main.go', ['src/main.go']], ['link-to-src/util.go', 'src/util.go', ['src/util.go']]]],
    ['link-to-?', [['link-to-a', 'a.txt', ['a.txt']]]],
    ['src/link-*', [['src/link-up', 'a.txt', ['a.txt']]]],
    // matching nothing is fine; excluded files are not there to match
    ['*.log', []],
    ['nothing-*', []],
    ['secrets/*', [['secrets/public.pem', 'secrets/public.pem', ['secrets/public.pem']]]],
    ['a.txt/*', []],
  ] as Array<[string, Array<[string, string, string[]]>]>)('wildcard %j', async (source, expected) => {
    expect(await selectOne(await open(), source)).toEqual(expected);
  });

  it.each([
    ['missing.txt', 'missing.txt', '"/missing.txt": not found in the build context (source "missing.txt")', undefined],
    ['readme.md', 'readme.md', '"/readme.md": not found in the build context (source "readme.md")', 'did you mean README.md?'],
    ['src/mian.go', 'src/mian.go', '"/src/mian.go": not found in the build context (source "src/mian.go")', 'did you mean src/main.go?'],
    ['a.txt/x', 'a.txt/x', '"/a.txt/x": not found in the build context (source "a.txt/x")', undefined],
    ['nodir/*.go', 'nodir', '"/nodir": not found in the build context (source "nodir/*.go")', undefined],
    ['link-escape-missing', 'etc', '"/link-escape-missing": not found (it leads to "/etc" through a symlink) in the build context (source "link-escape-missing")', undefined],
  ])('a missing literal %j is an error naming the path', async (source, path, message, suggestion) => {
    const err = await notFound(await open(), source);
    expect(err.code).toBe('CONTEXT_SOURCE_NOT_FOUND');
    expect(err.path).toBe(path);
    expect(err.message).toBe(message);
    expect(err.suggestion).toBe(suggestion);
    expect(err.rule).toBeUndefined();
  });

  it.each([
    ['debug.log', 'debug.log', '"/debug.log": not found: excluded by .dockerignore pattern `*.log` (line 2)', 2],
    ['secrets/private.pem', 'secrets/private.pem', '"/secrets/private.pem": not found: excluded by .dockerignore pattern `secrets/` (line 3)', 3],
    ['node_modules/x/index.js', 'node_modules', '"/node_modules/x/index.js": not found: excluded by .dockerignore pattern `node_modules` (line 5)', 5],
    ['Dockerfile', 'Dockerfile', '"/Dockerfile": not found: excluded by .dockerignore pattern `Dockerfile` (line 6)', 6],
    ['link-to-private', 'secrets/private.pem', '"/link-to-private": not found (it leads to "/secrets/private.pem" through a symlink): excluded by .dockerignore pattern `secrets/` (line 3)', 3],
    ['node_modules/*/index.js', 'node_modules', '"/node_modules": not found: excluded by .dockerignore pattern `node_modules` (line 5)', 5],
  ])('an excluded literal %j names the pattern and line', async (source, path, message, line) => {
    const err = await notFound(await open(), source);
    expect(err.code).toBe('CONTEXT_SOURCE_NOT_FOUND');
    expect(err.path).toBe(path);
    expect(err.message).toBe(message);
    expect(err.rule).toMatchObject({ line, file: join(dir, '.dockerignore') });
    expect(err.suggestion).toBe(`remove that pattern, or add an exception "!${path}" after it, to send this path to the build`);
  });

  it('names the Dockerfile-specific ignore file when it decided', async () => {
    await writeFile(join(dir, 'Dockerfile.dockerignore'), 'b.txt\n');
    const err = await notFound(await open(), 'b.txt');
    expect(err.message).toBe('"/b.txt": not found: excluded by Dockerfile.dockerignore pattern `b.txt` (line 1)');
  });

  it('gives up on symlink loops', async () => {
    await expect((await open()).select(['loop1'])).rejects.toMatchObject({ code: 'CONTEXT_SYMLINK_LOOP' });
  });

  it('rejects a malformed wildcard', async () => {
    await expect((await open()).select(['src/[a-'])).rejects.toMatchObject({
      code: 'CONTEXT_BAD_SOURCE_PATTERN',
      message: 'invalid source "src/[a-": syntax error in pattern "src/[a-": unterminated character class',
    });
  });

  it('selects several sources in order', async () => {
    const ctx = await open();
    const selected = await ctx.select(['b.txt', '*.go', 'src/*.go']);
    expect(selected.map((s) => [s.source, s.path, s.wildcard, s.matches.length])).toEqual([
      ['b.txt', 'b.txt', false, 1],
      ['*.go', '*.go', true, 0],
      ['src/*.go', 'src/*.go', true, 2],
    ]);
  });
});

describe('digests', () => {
  const base: ContextEntry = {
    path: 'd',
    type: 'dir',
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeNs: 1n,
    ctimeNs: 2n,
    dev: 3n,
    ino: 4n,
    nlink: 2,
  };
  const file: ContextEntry = { ...base, path: 'd/f', type: 'file', mode: 0o644, size: 5, ino: 5n, nlink: 1 };
  const link: ContextEntry = { ...base, path: 'd/l', type: 'symlink', mode: 0o777, size: 1, ino: 6n, nlink: 1, linkTarget: 'f' };
  const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' as const;
  const contents = new Map([['d/f', HELLO]]);

  it('hashes the documented rows', () => {
    const expected = createHash('sha256')
      .update('build-image/context-selection/v1\n')
      .update('["","dir",493,0,0,0,"",0,0,""]\n')
      .update(`["f","file",420,0,0,5,"",0,0,"${HELLO}"]\n`)
      .update('["l","symlink",511,0,0,1,"f",0,0,""]\n')
      .digest('hex');
    expect(selectionDigest([link, file, base], contents, 'd')).toBe(`sha256:${expected}`);
    const whole = createHash('sha256')
      .update('build-image/context-selection/v1\n')
      .update('["d","dir",493,0,0,0,"",0,0,""]\n')
      .update(`["d/f","file",420,0,0,5,"",0,0,"${HELLO}"]\n`)
      .update('["d/l","symlink",511,0,0,1,"f",0,0,""]\n')
      .digest('hex');
    expect(selectionDigest([base, file, link], contents)).toBe(`sha256:${whole}`);
  });

  it.each([
    ['mtime', true, { mtimeNs: 99n }],
    ['ctime', true, { ctimeNs: 99n }],
    ['inode and device', true, { ino: 77n, dev: 88n }],
    ['link count / hard link', true, { nlink: 3, hardlinkTo: 'x' }],
    ['mode', false, { mode: 0o600 }],
    ['setuid bit', false, { mode: 0o4644 }],
    ['uid', false, { uid: 1 }],
    ['gid', false, { gid: 1 }],
    ['size', false, { size: 6 }],
    ['path', false, { path: 'd/g' }],
    ['type', false, { type: 'fifo' }],
    ['device numbers', false, { devMajor: 1, devMinor: 3 }],
  ] as Array<[string, boolean, Partial<ContextEntry>]>)('a change of %s keeps the digest: %s', (_what, same, change) => {
    const before = selectionDigest([base, file, link], contents, 'd');
    const changed = { ...file, ...change };
    const after = selectionDigest([base, changed, link], new Map([[changed.path, HELLO]]), 'd');
    expect(after === before).toBe(same);
  });

  it('changes with content and link target', () => {
    const before = selectionDigest([base, file, link], contents, 'd');
    expect(selectionDigest([base, file, link], new Map([['d/f', 'sha256:00' as const]]), 'd')).not.toBe(before);
    expect(selectionDigest([base, file, { ...link, linkTarget: 'g' }], contents, 'd')).not.toBe(before);
  });

  it('rejects entries outside the root and files without a content digest', () => {
    expect(() => selectionDigest([file], contents, 'e')).toThrow('entry d/f is not inside the selection root e');
    expect(() => selectionDigest([file], new Map())).toThrow('no content digest for d/f');
  });

  it('combines matches with their names', () => {
    const expected = createHash('sha256')
      .update('build-image/context-source/v1\n')
      .update(`["a.txt","${HELLO}"]\n`)
      .digest('hex');
    expect(sourceDigest([{ path: 'a.txt', digest: HELLO }])).toBe(`sha256:${expected}`);
  });
});

describe('BuildContext digests on disk', () => {
  async function digestOf(source: string, ctx?: BuildContext): Promise<string> {
    const c = ctx ?? (await open());
    const [s] = await c.select([source]);
    return c.sourceDigest(s!);
  }

  it('ignores mtime, notices content and mode, and only for selections holding the file', async () => {
    const before = { src: await digestOf('src'), sub: await digestOf('src/sub'), a: await digestOf('a.txt'), all: await digestOf('.') };
    await utimes(join(dir, 'src/main.go'), 1_000_000, 1_000_000);
    await utimes(join(dir, 'src'), 1_000_000, 1_000_000);
    expect({ src: await digestOf('src'), sub: await digestOf('src/sub'), a: await digestOf('a.txt'), all: await digestOf('.') }).toEqual(before);

    await writeFile(join(dir, 'src/main.go'), 'package MAIN');
    const edited = { src: await digestOf('src'), sub: await digestOf('src/sub'), a: await digestOf('a.txt'), all: await digestOf('.') };
    expect(edited.src).not.toBe(before.src);
    expect(edited.all).not.toBe(before.all);
    expect(edited.sub).toBe(before.sub);
    expect(edited.a).toBe(before.a);

    await chmod(join(dir, 'src/sub/deep.go'), 0o600);
    const chmodded = { src: await digestOf('src'), sub: await digestOf('src/sub') };
    expect(chmodded.src).not.toBe(edited.src);
    expect(chmodded.sub).not.toBe(edited.sub);
  });

  it('is not affected by excluded files', async () => {
    const before = await digestOf('.');
    await writeFile(join(dir, 'debug.log'), 'much more log');
    await writeFile(join(dir, 'secrets/private.pem'), 'rotated');
    await writeFile(join(dir, 'new.log'), 'new');
    expect(await digestOf('.')).toBe(before);
    await writeFile(join(dir, 'secrets/public.pem'), 'rotated');
    expect(await digestOf('.')).not.toBe(before);
  });

  it('hashes a file once per context, and not at all on a rebuild with a hash cache', async () => {
    const cacheDir = await tempDir('ctx-cache');
    try {
      const reads: string[] = [];
      const hashFile: FileHasher = async (p, e) => {
        reads.push(p);
        return sha256File(p, e);
      };
      const future = () => BigInt(Date.now() + 60_000) * 1_000_000n;
      const ignore = parseIgnoreFile('*.log\nsecrets\nnode_modules\n');
      const cache1 = new HashCache(cacheDir, { hashFile, now: future });
      const ctx1 = await BuildContext.open(dir, { ignore, hashCache: cache1 });
      const d1 = await digestOf('src', ctx1);
      expect(await digestOf('src/*.go', ctx1)).toBe(await digestOf('src/*.go', await BuildContext.open(dir, { ignore })));
      expect(reads.map((p) => p.slice(dir.length + 1)).sort()).toEqual(['src/main.go', 'src/sub/deep.go', 'src/sub/notes.md', 'src/util.go']);
      await cache1.save();

      reads.length = 0;
      const cache2 = new HashCache(cacheDir, { hashFile, now: future });
      const ctx2 = await BuildContext.open(dir, { ignore, hashCache: cache2 });
      expect(await digestOf('src', ctx2)).toBe(d1);
      expect(reads).toEqual([]);
      expect(cache2.stats).toMatchObject({ hits: 4, misses: 0 });

      await writeFile(join(dir, 'src/util.go'), 'package main // UTIL');
      const ctx3 = await BuildContext.open(dir, { ignore, hashCache: cache2 });
      expect(await digestOf('src', ctx3)).not.toBe(d1);
      expect(reads).toEqual([join(dir, 'src/util.go')]);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('refuses to hash a file that changed after the walk', async () => {
    const ctx = await open();
    await writeFile(join(dir, 'a.txt'), 'changed');
    await expect(ctx.hash(ctx.get('a.txt')!)).rejects.toMatchObject({ code: 'CONTEXT_FILE_CHANGED' });
  });
});
