import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildContext } from '../../src/context/build-context.js';
import { executePlan } from '../../src/execute/build.js';
import { urlFileName } from '../../src/execute/url.js';
import type { Digest } from '../../src/image/digest.js';
import type { Image } from '../../src/image/image.js';
import type { BaseSource, CopySource, CopyStep } from '../../src/plan/types.js';
import { hasTool } from '../support/tools.js';
import { imageTree, layerEntries, sha } from '../support/tree.js';
import { baseImage, copyStep, ctx, layoutSource, newStore, plan, tmp } from './helpers.js';

interface RawEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

/** A tar with names exactly as given (tar-stream does not clean them). */
async function rawTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => pack.on('end', r));
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: new Date((e.mtime ?? 1000) * 1000) },
        type === 'file' ? (e.data ?? '') : undefined,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const APP_TAR: RawEntry[] = [
  { name: 'pkg/', type: 'directory', mode: 0o750, uid: 5, gid: 6, mtime: 1111 },
  { name: 'pkg/bin/tool', data: 'tool', mode: 0o755, uid: 5, gid: 6, mtime: 2222 },
  { name: 'pkg/README', data: 'readme', mtime: 3333 },
  { name: 'pkg/link', type: 'symlink', linkname: 'bin/tool', mtime: 4444 },
];
const APP_TREE = [
  'd 0750 5:6 pkg',
  'f 0644 0:0 pkg/README ' + sha('readme'),
  'd 0755 0:0 pkg/bin', // implied by pkg/bin/tool: 0755, root
  'f 0755 5:6 pkg/bin/tool ' + sha('tool'),
  'l 0777 0:0 pkg/link -> bin/tool',
];

let base: BaseSource;
beforeAll(async () => {
  base = (await layoutSource(await baseImage())).source;
});

async function contextWith(files: Record<string, Buffer | string>): Promise<BuildContext> {
  const dir = await tmp('addctx');
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return BuildContext.open(dir);
}

const add = (sources: CopySource[], dest: string, more: Partial<CopyStep> = {}) => copyStep(0, sources, dest, { instruction: 'ADD', unpack: true, ...more });

async function run(step: CopyStep, context: BuildContext | undefined, options: { scratch?: boolean } = {}): Promise<Image> {
  const p = plan([{ base: options.scratch ? { kind: 'scratch' } : base, steps: [step] }]);
  return executePlan(p, { store: await newStore(), contexts: { main: context } });
}

describe('ADD: local archives', () => {
  it.each([
    ['a plain tar', (b: Buffer) => b],
    ['a gzip tar', (b: Buffer) => gzipSync(b)],
  ])('%s is unpacked into the destination (archive owners, modes, mtimes)', async (_name, compress) => {
    const c = await contextWith({ 'app.tar': compress(await rawTar(APP_TAR)) });
    const image = await run(add([ctx('app.tar')], '/opt/app/'), c);
    expect(await imageTree(image, { under: 'opt/app' })).toEqual(['d 0755 0:0 opt/app', ...APP_TREE.map((l) => l.replace(' pkg', ' opt/app/pkg'))]);
    const mtimes = await imageTree(image, { under: 'opt/app/pkg', mtime: true });
    expect(mtimes.map((l) => l.split(' @')[1])).toEqual(['1111', '3333', '0', '2222', '4444']);
  });

  it('a file that is not an archive is copied as it is', async () => {
    const c = await contextWith({ 'notes.tar': 'just text, not a tar\n', 'empty.tar': '', 'zeros.tar': Buffer.alloc(1024) });
    const image = await run(add([ctx('notes.tar'), ctx('empty.tar'), ctx('zeros.tar')], '/n/'), c);
    expect(await imageTree(image, { under: 'n' })).toEqual(['d 0755 0:0 n', `f 0644 0:0 n/empty.tar ${sha('')}`, `f 0644 0:0 n/notes.tar ${sha('just text, not a tar\n')}`, `f 0644 0:0 n/zeros.tar ${sha(Buffer.alloc(1024))}`]);
  });

  it('COPY never unpacks', async () => {
    const bytes = await rawTar(APP_TAR);
    const c = await contextWith({ 'app.tar': bytes });
    const image = await run(copyStep(0, [ctx('app.tar')], '/c/'), c);
    expect(await imageTree(image, { under: 'c' })).toEqual(['d 0755 0:0 c', `f 0644 0:0 c/app.tar ${sha(bytes)}`]);
  });

  it('--chown owns every entry and the destination', async () => {
    const c = await contextWith({ 'app.tar': await rawTar(APP_TAR) });
    const image = await run(add([ctx('app.tar')], '/o/', { chown: 'app' }), c);
    expect(await imageTree(image, { under: 'o' })).toEqual([
      'd 0755 1000:1001 o',
      'd 0750 1000:1001 o/pkg',
      `f 0644 1000:1001 o/pkg/README ${sha('readme')}`,
      'd 0755 0:0 o/pkg/bin', // implied directories stay root-owned (go-archive)
      `f 0755 1000:1001 o/pkg/bin/tool ${sha('tool')}`,
      'l 0777 1000:1001 o/pkg/link -> bin/tool',
    ]);
  });

  it('an archive replacing a directory of the image by a file, then a directory again, hides what was there', async () => {
    const c = await contextWith({ 'r.tar': await rawTar([{ name: 'keep', data: 'file now' }, { name: 'keep/', type: 'directory' }, { name: 'keep/z', data: 'z' }]) });
    const image = await run(add([ctx('r.tar')], '/opt'), c);
    expect(await imageTree(image, { under: 'opt' })).toEqual(['d 0755 0:0 opt', 'd 0755 0:0 opt/keep', `f 0644 0:0 opt/keep/z ${sha('z')}`]);
    expect(await layerEntries(image.layers.at(-1)!)).toEqual(['d 0755 0:0 opt/', 'd 0755 0:0 opt/keep/', 'f 0000 0:0 opt/keep/.wh..wh..opq ' + sha(''), `f 0644 0:0 opt/keep/z ${sha('z')}`]);
  });

  it('security: archive entries with ../ are confined to the destination', async () => {
    const c = await contextWith({ 'evil.tar': await rawTar([{ name: '../../../../etc/evil', data: 'x' }, { name: 'a/../../b', data: 'y' }]) });
    const image = await run(add([ctx('evil.tar')], '/dest/'), c);
    expect(await imageTree(image, { under: 'dest' })).toEqual(['d 0755 0:0 dest', `f 0644 0:0 dest/b ${sha('y')}`, 'd 0755 0:0 dest/etc', `f 0644 0:0 dest/etc/evil ${sha('x')}`]);
    expect((await imageTree(image)).filter((l) => l.includes('evil'))).toEqual([`f 0644 0:0 dest/etc/evil ${sha('x')}`]);
  });

  it('security: absolute entry names land inside the destination', async () => {
    const c = await contextWith({ 'abs.tar': await rawTar([{ name: '/etc/passwd', data: 'pwned' }]) });
    const image = await run(add([ctx('abs.tar')], '/dest/'), c);
    const tree = await imageTree(image);
    expect(tree.filter((l) => l.includes('passwd'))).toEqual([`f 0644 0:0 dest/etc/passwd ${sha('pwned')}`, expect.stringMatching(/^f 0644 0:0 etc\/passwd sha256:/)]);
    expect(tree.find((l) => l.includes(' etc/passwd'))).not.toContain(sha('pwned'));
  });

  it('security: writing through a symlink from the archive stays inside the destination', async () => {
    const c = await contextWith({
      'links.tar': await rawTar([
        { name: 'l', type: 'symlink', linkname: '/etc' },
        { name: 'l/passwd', data: 'through an absolute link' },
        { name: 'up', type: 'symlink', linkname: '../../../..' },
        { name: 'up/escaped', data: 'through ..' },
      ]),
    });
    const image = await run(add([ctx('links.tar')], '/dest/'), c);
    expect(await imageTree(image, { under: 'dest' })).toEqual([
      'd 0755 0:0 dest',
      `f 0644 0:0 dest/escaped ${sha('through ..')}`,
      'd 0755 0:0 dest/etc',
      `f 0644 0:0 dest/etc/passwd ${sha('through an absolute link')}`,
      'l 0777 0:0 dest/l -> /etc',
      'l 0777 0:0 dest/up -> ../../../..',
    ]);
    expect((await imageTree(image, { under: 'etc/passwd' }))[0]).not.toContain(sha('through an absolute link'));
  });

  it('security: hard links point inside the destination only', async () => {
    const outside = await contextWith({ 'h.tar': await rawTar([{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]) });
    await expect(run(add([ctx('h.tar')], '/dest/'), outside)).rejects.toMatchObject({ code: 'EXEC_ARCHIVE_INVALID', message: expect.stringContaining('invalid hardlink "h" -> "../../etc/passwd"') });
    const inside = await contextWith({ 'h.tar': await rawTar([{ name: 'etc/passwd', data: 'mine' }, { name: 'h', type: 'link', linkname: '../../etc/passwd' }]) });
    const image = await run(add([ctx('h.tar')], '/dest/'), inside);
    expect(await layerEntries(image.layers.at(-1)!)).toEqual(['d 0755 0:0 dest/', 'd 0755 0:0 dest/etc/', `f 0644 0:0 dest/etc/passwd ${sha('mine')}`, 'f 0644 0:0 dest/h => dest/etc/passwd']);
  });

  it('security: a destination symlink of the image is followed inside the root', async () => {
    const c = await contextWith({ 'app.tar': await rawTar(APP_TAR) });
    const image = await run(add([ctx('app.tar')], '/up/up/srv'), c);
    expect(await imageTree(image, { under: 'srv' })).toEqual(['d 0755 0:0 srv', ...APP_TREE.map((l) => l.replace(' pkg', ' srv/pkg'))]);
  });
});

describe.runIf(hasTool('bzip2', 'bzip2') && hasTool('xz', 'xz-utils'))('ADD: bzip2 and xz archives (decompressed by the bzip2 and xz programs)', () => {
  it.each(['bzip2', 'xz'])('a %s tar is unpacked', async (cmd) => {
    const compressed = execFileSync(cmd, ['-c'], { input: await rawTar(APP_TAR) });
    const c = await contextWith({ 'app.tar.x': compressed });
    const image = await run(add([ctx('app.tar.x')], '/x'), c);
    expect(await imageTree(image, { under: 'x' })).toEqual(['d 0755 0:0 x', ...APP_TREE.map((l) => l.replace(' pkg', ' x/pkg'))]);
  });

  it('a corrupt bzip2 file that looks like one fails the step', async () => {
    const c = await contextWith({ 'bad.bz2': Buffer.concat([Buffer.from('BZh9'), Buffer.alloc(100, 7)]) });
    // Not decompressible: BuildKit's isArchivePath says "not an archive" and copies it.
    const image = await run(add([ctx('bad.bz2')], '/b/'), c);
    expect(await imageTree(image, { under: 'b' })).toEqual(['d 0755 0:0 b', expect.stringMatching(/^f 0644 0:0 b\/bad.bz2 /)]);
  });
});

describe('ADD: URLs', () => {
  let server: Server;
  let url: string;
  let TAR_BYTES: Buffer;
  beforeAll(async () => {
    server = createServer((req, res) => {
      switch (req.url) {
        case '/files/hello.txt?v=1':
        case '/files/hello.txt':
          res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
          res.end('hello from http\n');
          return;
        case '/plain':
          res.end('no date');
          return;
        case '/moved':
          res.writeHead(302, { location: '/files/hello.txt' });
          res.end();
          return;
        case '/archive.tar':
          res.end(TAR_BYTES);
          return;
        case '/':
          res.end('index');
          return;
        default:
          res.writeHead(404);
          res.end('nope');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    TAR_BYTES = await rawTar(APP_TAR);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const fromUrl = (path: string, dest: string, more: Partial<CopyStep> = {}, checksum?: Digest) =>
    add([{ kind: 'url', url: `${url}${path}`, checksum }], dest, more);

  it('downloads with mode 0600, root owner and the Last-Modified time', async () => {
    const image = await run(fromUrl('/files/hello.txt?v=1', '/dl/'), undefined);
    expect(await imageTree(image, { under: 'dl', mtime: true })).toEqual(['d 0755 0:0 dl @0', `f 0600 0:0 dl/hello.txt ${sha('hello from http\n')} @1445412480`]);
  });

  it('without Last-Modified the mtime is 0; a destination without / is the file name', async () => {
    const image = await run(fromUrl('/plain', '/p'), undefined);
    expect(await imageTree(image, { under: 'p', mtime: true })).toEqual([`f 0600 0:0 p ${sha('no date')} @0`]);
  });

  it('follows redirects; --chown and --chmod apply', async () => {
    const image = await run(fromUrl('/moved', '/r/', { chown: '10:20', chmod: 0o644 }), undefined);
    expect(await imageTree(image, { under: 'r' })).toEqual(['d 0644 10:20 r', `f 0644 10:20 r/moved ${sha('hello from http\n')}`]);
  });

  it('a remote archive is never unpacked', async () => {
    const image = await run(fromUrl('/archive.tar', '/a/'), undefined);
    expect(await imageTree(image, { under: 'a' })).toEqual(['d 0755 0:0 a', `f 0600 0:0 a/archive.tar ${sha(TAR_BYTES)}`]);
  });

  it('--checksum is verified', async () => {
    const good = sha('hello from http\n') as Digest;
    const image = await run(fromUrl('/files/hello.txt', '/c/', {}, good), undefined);
    expect(await imageTree(image, { under: 'c/hello.txt' })).toHaveLength(1);
    const bad = sha('something else') as Digest;
    await expect(run(fromUrl('/files/hello.txt', '/c/', {}, bad), undefined)).rejects.toMatchObject({
      code: 'EXEC_URL_CHECKSUM',
      message: `digest mismatch for ${url}/files/hello.txt: ${good} (expected: ${bad})`,
    });
  });

  it('an HTTP error fails the step', async () => {
    await expect(run(fromUrl('/missing', '/m/'), undefined)).rejects.toMatchObject({ code: 'EXEC_URL_FAILED', message: `invalid response status 404 downloading ${url}/missing` });
  });

  it.each([
    ['http://h/a/b/file.tgz', 'file.tgz'],
    ['http://h/a/b/', 'b'],
    ['http://h/', '__unnamed__'],
    ['http://h', '__unnamed__'],
    ['http://h/dir/na%20me?x=1#f', 'na me'],
  ])('file name of %s is %j', (u, want) => {
    expect(urlFileName(u)).toBe(want);
  });
});

describe('ADD: hard links in archives', () => {
  it('a link that comes first in the archive order but sorts after: the layer puts the content first', async () => {
    const c = await contextWith({
      'h.tar': await rawTar([
        { name: 'z-target', data: 'shared', mode: 0o640 },
        { name: 'a-link', type: 'link', linkname: 'z-target' },
      ]),
    });
    const image = await run(add([ctx('h.tar')], '/h/'), c, { scratch: true });
    expect(await layerEntries(image.layers[0]!)).toEqual(['d 0755 0:0 h/', `f 0640 0:0 h/a-link ${sha('shared')}`, 'f 0640 0:0 h/z-target => h/a-link']);
    expect(await imageTree(image)).toEqual(['d 0755 0:0 h', `f 0640 0:0 h/a-link ${sha('shared')}`, `f 0640 0:0 h/z-target ${sha('shared')}`]);
  });
});
