import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { readAll } from '../../src/image/stream.js';
import {
  compareEntryPaths,
  normalizeEntryPath,
  opaqueWhiteoutEntry,
  opaqueWhiteoutPath,
  parseWhiteout,
  readTar,
  sortEntries,
  whiteoutEntry,
  whiteoutPath,
  writeTar,
  type TarEntry,
} from '../../src/image/tar.js';
import { hasTool } from '../support/tools.js';

const tarBytes = (entries: TarEntry[], options?: Parameters<typeof writeTar>[1]) => readAll(writeTar(entries, options));

const base = { mode: 0o644, uid: 0, gid: 0, mtime: 5 } as const;
const file = (path: string, data = '', extra: Partial<TarEntry> = {}): TarEntry => ({ ...base, path, type: 'file', data, ...extra });
const dir = (path: string, extra: Partial<TarEntry> = {}): TarEntry => ({ ...base, mode: 0o755, path, type: 'dir', ...extra });

async function list(bytes: Buffer) {
  const out: { path: string; type: string; mode: string; uid: number; gid: number; mtime: number; size: number; linkname: string; data: string }[] = [];
  for await (const e of readTar([bytes])) {
    const data = (await e.bytes()).toString('utf8');
    out.push({ path: e.path, type: e.type, mode: e.mode.toString(8), uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.size, linkname: e.linkname, data });
  }
  return out;
}

/** The raw header blocks: [name field, typeflag, has a PAX header before it]. */
function headerNames(bytes: Buffer): string[] {
  const names: string[] = [];
  let pos = 0;
  while (pos + 512 <= bytes.length) {
    const block = bytes.subarray(pos, pos + 512);
    if (block.every((b) => b === 0)) break;
    const name = block.toString('latin1', 0, 100).replace(/\0.*$/s, '');
    const flag = String.fromCharCode(block[156]!);
    const size = parseInt(block.toString('latin1', 124, 135), 8) || 0;
    names.push(`${flag} ${name}`);
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

describe('writeTar: byte-identical to Go archive/tar (containerd ChangeWriter headers)', () => {
  // The entries of test/image/testdata/gotar.go.txt; its output's sha256 is pinned here.
  const capability = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const entries: TarEntry[] = [
    dir('a'),
    opaqueWhiteoutEntry('a'),
    whiteoutEntry('a/zz'),
    { ...base, path: 'a/b', type: 'file', mode: 0o4755, uid: 1000, gid: 1000, mtime: 1e10, data: 'x'.repeat(600) },
    { ...base, path: 'a/ünï', type: 'symlink', mode: 0o777, uid: 3000000, linkname: '../ü' },
    file('a-b', 'hi'),
    file('cap', '', { mode: 0o755, xattrs: { 'security.capability': capability, 'user.k': 'v' } }),
    file(`d/${'x'.repeat(120)}/file`),
    { ...base, path: `d/${'y'.repeat(200)}`, type: 'hardlink', linkname: 'a/b' },
    dir(`d/${'z'.repeat(150)}`, { mode: 0o700, uid: 1, gid: 2 }),
    { ...base, path: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    { ...base, path: 'dev/sda', type: 'block', mode: 0o660, gid: 6, devmajor: 8, devminor: 0 },
    file(`f${'1'.repeat(99)}`, '', { mode: 0o600 }),
    { ...base, path: 'fifo', type: 'fifo' },
    { ...base, path: 'link', type: 'symlink', mode: 0o777, linkname: `/${'t'.repeat(120)}` },
    file('old', '', { mtime: -1 }),
  ];

  it('produces the exact archive Go 1.19 writes', async () => {
    // Shuffled input: the writer sorts.
    const bytes = await tarBytes([...entries].reverse());
    expect(bytes.length).toBe(17920);
    expect(sha256Digest(bytes)).toBe('sha256:72cc47f3de05c0936c0ec3f9587bc762fea2d70412a1457d6dbfdd2bb79f8fa1');
  });

  it('uses PAX headers only where USTAR cannot say it', async () => {
    const bytes = await tarBytes(entries);
    expect(headerNames(bytes)).toEqual([
      '5 a/',
      '0 a/.wh..wh..opq',
      '0 a/.wh.zz',
      'x a/PaxHeaders.0/b', // mtime 1e10 does not fit 11 octal digits
      '0 a/b',
      'x a/PaxHeaders.0/n', // non-ASCII name and link target, uid 3000000
      '2 a/n',
      '0 a-b',
      'x PaxHeaders.0/cap', // xattrs
      '0 cap',
      `0 file`, // long ASCII name: USTAR prefix/name split, no PAX
      `x d/PaxHeaders.0/${'y'.repeat(85)}`, // a 202-byte name cannot be split; 100 bytes kept
      `1 d/${'y'.repeat(98)}`,
      `x d/${'z'.repeat(98)}`, // 151-byte last component: no USTAR split either
      `5 d/${'z'.repeat(98)}`,
      '3 dev/null',
      '4 dev/sda',
      `0 f${'1'.repeat(99)}`, // exactly 100 bytes: fits
      '6 fifo',
      'x PaxHeaders.0/link', // 121-byte link target
      '2 link',
      'x PaxHeaders.0/old', // negative mtime
      '0 old',
    ]);
  });

  it('reads back every field, including binary xattrs', async () => {
    const bytes = await tarBytes(entries);
    const got = [];
    for await (const e of readTar([bytes])) {
      got.push({ path: e.path, type: e.type, uid: e.uid, mtime: e.mtime, linkname: e.linkname, xattrs: e.xattrs, dev: [e.devmajor, e.devminor], body: (await e.bytes()).length });
    }
    expect(got.map((g) => g.path)).toEqual([
      'a/',
      'a/.wh..wh..opq',
      'a/.wh.zz',
      'a/b',
      'a/ünï',
      'a-b',
      'cap',
      `d/${'x'.repeat(120)}/file`,
      `d/${'y'.repeat(200)}`,
      `d/${'z'.repeat(150)}/`,
      'dev/null',
      'dev/sda',
      `f${'1'.repeat(99)}`,
      'fifo',
      'link',
      'old',
    ]);
    const byPath = new Map(got.map((g) => [g.path, g]));
    expect(byPath.get('a/b')).toMatchObject({ uid: 1000, mtime: 1e10, body: 600 });
    expect(byPath.get('a/ünï')).toMatchObject({ type: 'symlink', uid: 3000000, linkname: '../ü' });
    expect(byPath.get('cap')!.xattrs).toEqual({ 'security.capability': capability, 'user.k': Buffer.from('v') });
    expect(byPath.get(`d/${'y'.repeat(200)}`)).toMatchObject({ type: 'hardlink', linkname: 'a/b' });
    expect(byPath.get('dev/sda')).toMatchObject({ type: 'block', dev: [8, 0] });
    expect(byPath.get('link')!.linkname).toBe(`/${'t'.repeat(120)}`);
    expect(byPath.get('old')!.mtime).toBe(-1);
  });
});

describe('writeTar: ordering', () => {
  it.each([
    // [input paths, expected order]
    [['a-b', 'a/b', 'a'], ['a', 'a/b', 'a-b']],
    [['b', 'a/c/d', 'a/c', 'a'], ['a', 'a/c', 'a/c/d', 'b']],
    [['Z', 'a', '_', '0'], ['0', 'Z', '_', 'a']],
    [['a/x', 'a/.wh.b', 'a/-dash', 'a/.wh..wh..opq', 'a'], ['a', 'a/.wh..wh..opq', 'a/.wh.b', 'a/-dash', 'a/x']],
    [['é', 'z', 'ü'], ['z', 'é', 'ü']],
  ])('%j → %j', async (paths, expected) => {
    const entries = paths.map((p) => (expected.some((e) => e.startsWith(p + '/')) ? dir(p) : file(p)));
    expect(sortEntries(entries).map((e) => normalizeEntryPath(e.path))).toEqual(expected);
    const read = await list(await tarBytes(entries));
    expect(read.map((r) => r.path.replace(/\/$/, ''))).toEqual(expected);
  });

  it('compares component-wise, parents first', () => {
    expect(compareEntryPaths('a/b', 'a-b')).toBeLessThan(0);
    expect(compareEntryPaths('a', 'a/b')).toBeLessThan(0);
    expect(compareEntryPaths('a/.wh.z', 'a/+')).toBeLessThan(0);
  });

  it('rejects duplicate paths (OCI: no duplicate entries)', async () => {
    await expect(tarBytes([file('a'), file('./a')])).rejects.toMatchObject({ code: 'IMAGE_TAR_DUPLICATE' });
  });

  it('with sort: false, checks the given order instead', async () => {
    const bytes = await tarBytes([dir('a'), file('a/b')], { sort: false });
    expect((await list(bytes)).map((e) => e.path)).toEqual(['a/', 'a/b']);
    await expect(tarBytes([file('b'), file('a')], { sort: false })).rejects.toMatchObject({ code: 'IMAGE_TAR_UNSORTED' });
  });

  it.each([['../x'], ['a/../../b'], [''], ['/'], ['a\0b']])('rejects entry path %j', async (path) => {
    await expect(tarBytes([file(path)])).rejects.toMatchObject({ code: 'IMAGE_TAR_INVALID_PATH' });
  });

  it('normalizes ./, leading / and double slashes; directories get a trailing /', async () => {
    const read = await list(await tarBytes([dir('/x//y/'), file('./x/y/z')]));
    expect(read.map((r) => r.path)).toEqual(['x/y/', 'x/y/z']);
  });
});

describe('writeTar: normalisation', () => {
  it('clamps mtimes to SOURCE_DATE_EPOCH, whiteouts too, and leaves earlier ones', async () => {
    const read = await list(
      await tarBytes([file('new', '', { mtime: 2_000_000_000 }), file('older', '', { mtime: 10 }), whiteoutEntry('gone', { mtime: 1_900_000_000 })], {
        clampMtime: 1_700_000_000,
      }),
    );
    expect(read.map((r) => [r.path, r.mtime])).toEqual([
      ['.wh.gone', 1_700_000_000],
      ['new', 1_700_000_000],
      ['older', 10],
    ]);
  });

  it('drops fractions of seconds', async () => {
    expect((await list(await tarBytes([file('f', '', { mtime: 12.9 })])))[0]!.mtime).toBe(12);
  });

  it('forces ownership with `owner` and never writes user/group names', async () => {
    const bytes = await tarBytes([file('f', 'x', { uid: 1000, gid: 1001 })], { owner: { uid: 0, gid: 0 } });
    const read = await list(bytes);
    expect(read[0]).toMatchObject({ uid: 0, gid: 0 });
    expect(bytes.subarray(265, 265 + 64).every((b) => b === 0)).toBe(true);
  });

  it('keeps only permission bits of mode', async () => {
    expect((await list(await tarBytes([file('f', '', { mode: 0o100755 })])))[0]!.mode).toBe('755');
  });

  it('streams content from openers and fails when it is not the declared size', async () => {
    const opener = (text: string) => () => Readable.from([Buffer.from(text)]);
    const ok = await list(await tarBytes([file('f', undefined, { data: undefined, size: 5, open: opener('hello') })]));
    expect(ok[0]!.data).toBe('hello');
    await expect(tarBytes([file('f', undefined, { data: undefined, size: 4, open: opener('hello') })])).rejects.toMatchObject({
      code: 'IMAGE_TAR_SIZE_MISMATCH',
      message: 'tar entry "f": content is more than 4 bytes but the entry says 4 (did the file change while it was read?)',
    });
    await expect(tarBytes([file('f', undefined, { data: undefined, size: 6, open: opener('hello') })])).rejects.toMatchObject({
      code: 'IMAGE_TAR_SIZE_MISMATCH',
      message: 'tar entry "f": content is 5 bytes but the entry says 6 (did the file change while it was read?)',
    });
  });

  it('the same entries give byte-identical archives', async () => {
    const entries = [dir('etc'), file('etc/hosts', '127.0.0.1 localhost\n'), { ...base, path: 'bin/sh', type: 'symlink' as const, linkname: 'busybox' }];
    const a = await tarBytes(entries);
    const b = await tarBytes([...entries].reverse());
    expect(a.equals(b)).toBe(true);
    // = Go archive/tar with the same headers (bin/sh, etc/, etc/hosts; Format PAX).
    expect(sha256Digest(a)).toBe('sha256:2b7f444cb358b73d465c0d53a32627ce61b987c749aeb53f20ca432961237e0e');
  });
});

describe('whiteouts', () => {
  it.each([
    ['a/b', 'a/.wh.b'],
    ['b', '.wh.b'],
    ['/x/y/', 'x/.wh.y'],
  ])('whiteoutPath(%j) = %j', (path, expected) => {
    expect(whiteoutPath(path)).toBe(expected);
  });

  it.each([
    ['a', 'a/.wh..wh..opq'],
    ['', '.wh..wh..opq'],
    ['/a/b/', 'a/b/.wh..wh..opq'],
  ])('opaqueWhiteoutPath(%j) = %j', (path, expected) => {
    expect(opaqueWhiteoutPath(path)).toBe(expected);
  });

  it.each([
    ['a/.wh.b', { kind: 'whiteout', target: 'a/b' }],
    ['./.wh.b', { kind: 'whiteout', target: 'b' }],
    ['a/.wh..wh..opq', { kind: 'opaque', dir: 'a' }],
    ['a/b', undefined],
    ['a/x.wh.b', undefined],
  ])('parseWhiteout(%j)', (path, expected) => {
    expect(parseWhiteout(path)).toEqual(expected);
  });

  it('rejects a whiteout without a name', () => {
    expect(() => parseWhiteout('a/.wh.')).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_WHITEOUT' }));
  });

  it('whiteout entries are empty root-owned files with mode 0 and mtime 0', () => {
    expect(whiteoutEntry('a/b')).toEqual({ path: 'a/.wh.b', type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 });
  });
});

describe('readTar', () => {
  it('fails on a truncated archive', async () => {
    const bytes = await tarBytes([file('f', 'x'.repeat(1000))]);
    const cut = bytes.subarray(0, 700);
    await expect(list(cut)).rejects.toMatchObject({ code: 'IMAGE_TAR_TRUNCATED' });
  });

  it('fails on a corrupt header', async () => {
    const bytes = Buffer.from(await tarBytes([file('f', 'x')]));
    bytes[0] = 0x41;
    await expect(list(bytes)).rejects.toMatchObject({ code: 'IMAGE_TAR_INVALID' });
  });

  it('skips unread content when moving to the next entry, in any chunking', async () => {
    const bytes = await tarBytes([file('a', 'A'.repeat(1500)), file('b', 'B'.repeat(10)), file('c', 'ccc')]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const seen: string[] = [];
    for await (const e of readTar(chunks)) {
      if (e.path === 'c') seen.push((await e.bytes()).toString());
      else seen.push(e.path);
    }
    expect(seen).toEqual(['a', 'b', 'ccc']);
  });

  it('fails when a body is read after moving on', async () => {
    const bytes = await tarBytes([file('a', 'A'.repeat(1500)), file('b')]);
    let stale: Readable | undefined;
    for await (const e of readTar([bytes])) if (e.path === 'a') stale = e.body();
    await expect(readAll(stale!)).rejects.toMatchObject({ code: 'IMAGE_TAR_READ_ORDER' });
  });

  it('ignores a PAX global header and reads a base-256 uid', async () => {
    const bytes = Buffer.from(await tarBytes([file('f', 'x', { uid: 7 })]));
    // Rewrite the uid field as GNU base-256 (0x80 …) and fix the checksum.
    bytes.fill(0, 108, 116);
    bytes[108] = 0x80;
    bytes.writeUInt32BE(123456789, 112);
    bytes.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += bytes[i]!;
    bytes.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const global = await tarBytes([file('g')]); // reuse a header block as a 'g' header
    const g = Buffer.from(global.subarray(0, 512));
    g[156] = 'g'.charCodeAt(0);
    g.fill(0x20, 148, 156);
    sum = 0;
    for (let i = 0; i < 512; i++) sum += g[i]!;
    g.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const read = await list(Buffer.concat([g, bytes]));
    expect(read.map((r) => [r.path, r.uid, r.data])).toEqual([['f', 123456789, 'x']]);
  });

  it.runIf(hasTool('tar', 'tar'))('reads GNU tar output (long names as GNU records, sparse-free)', async () => {
    const dirPath = mkdtempSync(join(tmpdir(), 'bi-gnutar-'));
    const long = 'n'.repeat(150);
    writeFileSync(join(dirPath, long), 'long');
    execFileSync('ln', ['-s', 't'.repeat(130), join(dirPath, 'sym')]);
    const out = execFileSync('tar', ['--format=gnu', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@7', '-C', dirPath, '-cf', '-', '.']);
    const read = await list(out);
    expect(read.map((r) => [r.path, r.type, r.mtime, r.linkname, r.data])).toEqual([
      ['./', 'dir', 7, '', ''],
      [`./${long}`, 'file', 7, '', 'long'],
      ['./sym', 'symlink', 7, 't'.repeat(130), ''],
    ]);
  });
});
