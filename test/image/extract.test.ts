import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyLayer, extractTar } from '../../src/image/extract.js';
import { confinePath, escapesRoot, resolveInRoot } from '../../src/image/paths.js';
import { readAll } from '../../src/image/stream.js';
import { writeTar, type TarEntry } from '../../src/image/tar.js';
import { isRoot } from '../support/tools.js';


/** A raw tar with names written verbatim (our writer refuses `..`, an attacker's does not). */
function rawTar(entries: { name: string; type?: '0' | '1' | '2' | '5'; link?: string; data?: string; mode?: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const data = Buffer.from(e.data ?? '');
    h.write(e.name, 0, 100, 'utf8');
    h.write((e.mode ?? 0o644).toString(8).padStart(7, '0') + '\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write('00000000000\0', 136, 'latin1');
    h.write(e.type ?? '0', 156, 'latin1');
    if (e.link) h.write(e.link, 157, 100, 'utf8');
    h.write('ustar\x0000', 257, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function sandbox() {
  const top = mkdtempSync(join(tmpdir(), 'bi-extract-'));
  const root = join(top, 'root');
  const outside = join(top, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
  return { top, root, outside };
}

/** Every path under dir: `type mode path [-> target | content]`. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`l ${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`d ${mode} ${rel}`);
        walk(p);
      } else out.push(`f ${mode} ${rel} ${readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir);
  return out;
}

const e = (path: string, type: TarEntry['type'], extra: Partial<TarEntry> = {}): TarEntry => ({
  path,
  type,
  mode: type === 'dir' ? 0o755 : 0o644,
  uid: 0,
  gid: 0,
  mtime: 1000,
  ...extra,
});
const tarOf = (entries: TarEntry[]) => readAll(writeTar(entries));

describe('path confinement helpers', () => {
  it.each([
    ['/etc/passwd', 'etc/passwd'],
    ['../../etc/passwd', 'etc/passwd'],
    ['a/../../b', 'b'],
    ['./a//b/./c/', 'a/b/c'],
    ['..', ''],
    ['/', ''],
  ])('confinePath(%j) = %j', (name, expected) => {
    expect(confinePath(name)).toBe(expected);
  });

  it.each([
    ['/etc', true],
    ['../x', true],
    ['a/../../x', true],
    ['a/../x', false],
    ['a/b', false],
  ])('escapesRoot(%j) = %j', (name, expected) => {
    expect(escapesRoot(name)).toBe(expected);
  });

  it('resolveInRoot follows symlinks as if root were /', async () => {
    const { root, outside } = sandbox();
    mkdirSync(join(root, 'real'));
    symlinkSync(outside, join(root, 'abs')); // absolute, pointing outside
    symlinkSync('../../../../..', join(root, 'up'));
    symlinkSync('real', join(root, 'rel'));
    symlinkSync('loop', join(root, 'loop'));
    expect(await resolveInRoot(root, 'abs/secret')).toBe(join(root, outside, 'secret'));
    expect(await resolveInRoot(root, 'up/etc')).toBe(join(root, 'etc'));
    expect(await resolveInRoot(root, 'rel/x')).toBe(join(root, 'real', 'x'));
    expect(await resolveInRoot(root, 'rel', { followFinal: false })).toBe(join(root, 'rel'));
    await expect(resolveInRoot(root, 'loop/x')).rejects.toMatchObject({ code: 'IMAGE_PATH_LOOP' });
  });
});

describe('tar reading is confined to the root (security)', () => {
  it('security: "../" entries cannot write outside the root', async () => {
    const { root, outside } = sandbox();
    await extractTar(root, [rawTar([{ name: '../../outside/pwned', data: 'x' }, { name: '../escape', data: 'y' }])]);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(tree(root)).toEqual(['f 644 escape y', 'd 755 outside', 'f 644 outside/pwned x']);
  });

  it('security: absolute entry paths are taken relative to the root', async () => {
    const { root, outside } = sandbox();
    await extractTar(root, [rawTar([{ name: `${outside}/pwned`, data: 'x' }])]);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(readFileSync(join(root, outside, 'pwned'), 'utf8')).toBe('x');
  });

  it('security: a symlink then a write through it stays inside the root', async () => {
    const { root, outside } = sandbox();
    await extractTar(root, [
      rawTar([
        { name: 'abs', type: '2', link: outside },
        { name: 'abs/pwned', data: 'x' },
        { name: 'up', type: '2', link: '../../../../../..' + outside },
        { name: 'up/pwned2', data: 'y' },
        { name: 'abs/secret', data: 'overwritten?' },
      ]),
    ]);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(readFileSync(join(root, outside, 'pwned'), 'utf8')).toBe('x');
    expect(readFileSync(join(root, outside, 'pwned2'), 'utf8')).toBe('y');
    expect(readFileSync(join(root, outside, 'secret'), 'utf8')).toBe('overwritten?');
  });

  it('security: a hardlink to a file outside the root is refused, the file untouched', async () => {
    const { root, outside } = sandbox();
    await expect(extractTar(root, [rawTar([{ name: 'h', type: '1', link: `../../../../..${outside}/secret` }])])).rejects.toMatchObject({
      code: 'IMAGE_TAR_INVALID_LINK',
    });
    await expect(extractTar(root, [rawTar([{ name: 'h2', type: '1', link: `${outside}/secret` }])])).rejects.toMatchObject({
      code: 'IMAGE_TAR_INVALID_LINK',
    });
    expect(statSync(join(outside, 'secret')).nlink).toBe(1);
    expect(existsSync(join(root, 'h'))).toBe(false);
  });

  it('security: a hardlink through a symlinked directory cannot reach outside', async () => {
    const { root, outside } = sandbox();
    await expect(
      extractTar(root, [rawTar([{ name: 's', type: '2', link: outside }, { name: 'h', type: '1', link: 's/secret' }])]),
    ).rejects.toMatchObject({ code: 'IMAGE_TAR_INVALID_LINK' });
    expect(statSync(join(outside, 'secret')).nlink).toBe(1);
  });

  it('security: a hardlink inside the root works, even when named with ../', async () => {
    const { root } = sandbox();
    await extractTar(root, [rawTar([{ name: 'a', data: 'A' }, { name: 'h', type: '1', link: '../../a' }])]);
    expect(statSync(join(root, 'a')).nlink).toBe(2);
    expect(readFileSync(join(root, 'h'), 'utf8')).toBe('A');
  });

  it('security: an existing symlink at an entry path is replaced, never written through', async () => {
    const { root, outside } = sandbox();
    symlinkSync(join(outside, 'secret'), join(root, 'x'));
    await extractTar(root, [rawTar([{ name: 'x', data: 'new' }])]);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(lstatSync(join(root, 'x')).isFile()).toBe(true);
  });

  it('security: whiteouts cannot delete outside the root', async () => {
    const { root, outside } = sandbox();
    symlinkSync(outside, join(root, 'link'));
    await applyLayer(root, [rawTar([{ name: '../../outside/.wh.secret' }, { name: 'link/.wh.secret' }, { name: 'link/.wh..wh..opq' }])]);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  });
});

describe('applyLayer: OCI whiteouts', () => {
  it('deletes lower files and directories, hides opaque directories, keeps what the layer adds', async () => {
    const { root } = sandbox();
    await applyLayer(root, [
      await tarOf([
        e('a', 'dir'),
        e('a/old', 'file', { data: 'old' }),
        e('b', 'dir'),
        e('b/sub', 'dir'),
        e('b/sub/f', 'file', { data: 'f' }),
        e('c', 'file', { data: 'c' }),
        e('keep', 'file', { data: 'k' }),
      ]),
    ]);
    // Opaque marker written AFTER new content (spec example): applied first regardless.
    await applyLayer(root, [rawTar([{ name: 'a/', type: '5', mode: 0o755 }, { name: 'a/new', data: 'new' }, { name: 'a/.wh..wh..opq' }, { name: '.wh.b' }, { name: '.wh.c' }])]);
    expect(tree(root)).toEqual(['d 755 a', 'f 644 a/new new', 'f 644 keep k']);
  });

  it('extractTar without apply keeps whiteout files as plain files', async () => {
    const { root } = sandbox();
    const r = await extractTar(root, [rawTar([{ name: '.wh.x' }])]);
    expect(r.entries).toBe(1);
    expect(tree(root)).toEqual(['f 644 .wh.x ']);
  });
});

describe('extractTar: attributes', () => {
  it('sets modes, symlinks, mtimes (dirs after their content) and replaces files by dirs', async () => {
    const { root } = sandbox();
    await extractTar(root, [
      await tarOf([
        e('bin', 'dir', { mode: 0o711 }),
        e('bin/tool', 'file', { mode: 0o4755, data: '#!/bin/sh\n' }),
        e('bin/sh', 'symlink', { linkname: 'tool' }),
        e('tmp', 'dir', { mode: 0o1777 }),
        e('x', 'file', { data: 'x' }),
      ]),
    ]);
    await extractTar(root, [await tarOf([e('x', 'dir'), e('x/y', 'file', { data: 'y' })])]);
    expect(tree(root)).toEqual(['d 711 bin', 'l bin/sh -> tool', 'f 4755 bin/tool #!/bin/sh\n', 'd 1777 tmp', 'd 755 x', 'f 644 x/y y']);
    expect(statSync(join(root, 'bin')).mtimeMs).toBe(1000_000);
    expect(lstatSync(join(root, 'bin/sh')).mtimeMs).toBe(1000_000);
  });

  it.runIf(isRoot)('as root: owners from the archive, device nodes and fifos', async () => {
    const { root } = sandbox();
    const r = await extractTar(root, [
      await tarOf([
        e('f', 'file', { uid: 1000, gid: 1001, data: 'x' }),
        e('null', 'char', { mode: 0o666, devmajor: 1, devminor: 3 }),
        e('p', 'fifo'),
        e('cap', 'file', { xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2]) } }),
      ]),
    ]);
    expect(statSync(join(root, 'f'))).toMatchObject({ uid: 1000, gid: 1001 });
    const dev = statSync(join(root, 'null'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe((1 << 8) | 3);
    expect(statSync(join(root, 'p')).isFIFO()).toBe(true);
    expect(r.skipped).toEqual([{ path: 'cap', reason: 'xattrs not set: security.capability' }]);
  });

  it('owner overrides the archive owners', async () => {
    const { root } = sandbox();
    const me = { uid: process.getuid!(), gid: process.getgid!() };
    await extractTar(root, [await tarOf([e('f', 'file', { uid: 4242, gid: 4242, data: '' })])], { owner: me });
    expect(statSync(join(root, 'f'))).toMatchObject(me);
  });

  it('clamps mtimes', async () => {
    const { root } = sandbox();
    await extractTar(root, [await tarOf([e('f', 'file', { mtime: 2e9, data: '' })])], { clampMtime: 5 });
    expect(statSync(join(root, 'f')).mtimeMs).toBe(5000);
  });
});
