/**
 * Security regressions, end to end through Dockerfiles: nothing a Dockerfile, its context, its
 * base image or an archive says can put a file outside the image root — or on the host. Every
 * test checks the produced tree exactly AND that the host was not written: attacks aim at an
 * empty sentinel directory on the host (by absolute path and by enough `../`), and `/`, `/etc`
 * and /etc/passwd are compared before and after.
 */
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { dirTree, imageTree } from '../support/tree.js';
import { builder, EPOCH, hostGuard, sha, workspace } from './helpers.js';

const ws = workspace('security');
afterAll(() => ws.cleanup());
const build = builder(ws);
const sentinel = join(ws.root, 'host-sentinel');
/** The sentinel's path in the image's terms (a path below `/`). */
const S = sentinel.slice(1);
/** Enough `../` to climb out of any temp dir, then down to the sentinel. */
const CLIMB = `${'../'.repeat(16)}${S}`;
let guard: ReturnType<typeof hostGuard>;
beforeEach(() => {
  guard = hostGuard(sentinel);
});

/** The tree, plus whatever changed on the host (expected: nothing). */
async function outcome(image: Parameters<typeof imageTree>[0]): Promise<{ tree: string[]; host: string[] }> {
  return { tree: await imageTree(image), host: guard.check() };
}

/** A sentinel-relative path in the image, as tree lines show the parents. */
function parents(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => `d 0755 0:0 ${parts.slice(0, i + 1).join('/')}`);
}

describe('security', () => {
  it('security: COPY ../../etc/passwd and absolute sources are clamped to the context root', async () => {
    const r = await build({
      Dockerfile: 'FROM scratch\nCOPY ../../etc/passwd /x/\nCOPY /etc/passwd /y/\nCOPY ../../../ /whole/\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
      'etc/passwd': 'context passwd',
    });
    expect(await outcome(r.image)).toEqual({
      tree: [
        'd 0755 0:0 whole',
        'd 0755 0:0 whole/etc',
        `f 0644 0:0 whole/etc/passwd ${sha('context passwd')}`,
        'd 0755 0:0 x',
        `f 0644 0:0 x/passwd ${sha('context passwd')}`,
        'd 0755 0:0 y',
        `f 0644 0:0 y/passwd ${sha('context passwd')}`,
      ],
      host: [],
    });
  });

  it('security: COPY ../../etc/passwd without such a file in the context is "not found", never the host file', async () => {
    const err = await build({ Dockerfile: 'FROM scratch\nCOPY ../../etc/passwd /x/\n' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONTEXT_SOURCE_NOT_FOUND', message: '"/etc/passwd": not found in the build context (source "../../etc/passwd")' });
    expect(guard.check()).toEqual([]);
  });

  it('security: symlinks in the context pointing outside it resolve inside the context, or stay links', async () => {
    const r = await build({
      Dockerfile: 'FROM scratch\nCOPY abs rel /named/\nCOPY tree /tree/\n',
      'etc/passwd': 'context passwd',
      abs: { symlink: '/etc/passwd' },
      rel: { symlink: '../../../../../../etc/passwd' },
      'tree/abs': { symlink: '/etc/shadow' },
      'tree/up': { symlink: '../../../../etc' },
      'tree/host': { symlink: sentinel },
    });
    // Named directly, a link is followed — inside the context root; inside a tree, kept as is.
    expect(await outcome(r.image)).toEqual({
      tree: [
        'd 0755 0:0 named',
        `f 0644 0:0 named/abs ${sha('context passwd')}`,
        `f 0644 0:0 named/rel ${sha('context passwd')}`,
        'd 0755 0:0 tree',
        'l 0777 0:0 tree/abs -> /etc/shadow',
        `l 0777 0:0 tree/host -> ${sentinel}`,
        'l 0777 0:0 tree/up -> ../../../../etc',
      ],
      host: [],
    });
  });

  it('security: a destination whose /app is a symlink to /etc, ../../.., or the host resolves inside the image', async () => {
    const r = await build({
      Dockerfile: [
        'FROM scratch AS base',
        'COPY links/ /',
        'FROM base',
        'COPY a /app/x',
        'COPY a /app/',
        'COPY a /up/y',
        'COPY d /up/',
        'COPY a /host/z',
        'COPY a /climb/w',
        'WORKDIR /host/wd',
        'COPY a .',
        '',
      ].join('\n'),
      'links/app': { symlink: '/etc' },
      'links/up': { symlink: '../../..' },
      'links/host': { symlink: sentinel },
      'links/climb': { symlink: CLIMB },
      a: 'A',
      'd/e': 'E',
    });
    expect(await outcome(r.image)).toEqual({
      tree: [
        'l 0777 0:0 app -> /etc',
        `l 0777 0:0 climb -> ${CLIMB}`,
        `f 0644 0:0 e ${sha('E')}`,
        'd 0755 0:0 etc',
        `f 0644 0:0 etc/a ${sha('A')}`,
        `f 0644 0:0 etc/x ${sha('A')}`,
        `l 0777 0:0 host -> ${sentinel}`,
        ...parents(`${S}/x`),
        `f 0644 0:0 ${S}/w ${sha('A')}`,
        `d 0755 0:0 ${S}/wd`,
        `f 0644 0:0 ${S}/wd/a ${sha('A')}`,
        `f 0644 0:0 ${S}/z ${sha('A')}`,
        'l 0777 0:0 up -> ../../..',
        `f 0644 0:0 y ${sha('A')}`,
      ].sort((x, y) => treeOrder(x, y)),
      host: [],
    });
  });

  it('security: ADD of a tar with ../ entries, absolute names, absolute and climbing link targets stays in the destination', async () => {
    const evil = await rawTar([
        { path: `../../../../../../../../..${sentinel}/dotdot`, data: 'dotdot' },
        { path: `${sentinel}/absolute`, data: 'absolute' },
        { path: 'lnk', linkname: sentinel },
        { path: 'lnk/through-abs-link', data: 'through abs' },
        { path: 'rel', linkname: CLIMB },
        { path: 'rel/through-rel-link', data: 'through rel' },
      { path: 'hard', hardlink: `../../../../..${sentinel}/absolute` },
    ]);
    const r = await build({ Dockerfile: 'FROM scratch\nADD evil.tar /t/\n', 'evil.tar': evil });
    // As BuildKit (moby chrootarchive): the archive is extracted as if /t were the root.
    expect(await outcome(r.image)).toEqual({
      tree: [
        'd 0755 0:0 t',
        `f 0644 0:0 t/hard ${sha('absolute')}`,
        `l 0777 0:0 t/lnk -> ${sentinel}`,
        `l 0777 0:0 t/rel -> ${CLIMB}`,
        ...parents(`${S}/x`).map((l) => l.replace(' 0:0 ', ' 0:0 t/')),
        `f 0644 0:0 t/${S}/absolute ${sha('absolute')}`,
        `f 0644 0:0 t/${S}/dotdot ${sha('dotdot')}`,
        `f 0644 0:0 t/${S}/through-abs-link ${sha('through abs')}`,
        `f 0644 0:0 t/${S}/through-rel-link ${sha('through rel')}`,
      ].sort((x, y) => treeOrder(x, y)),
      host: [],
    });
  });

  it('security: type=local output of an image with escaping links writes only below dest', async () => {
    const dest = join(ws.root, 'local-out');
    await build(
      {
        Dockerfile: 'FROM scratch\nCOPY links/ /\nCOPY a /host/inside\n',
        'links/host': { symlink: sentinel },
        'links/climb': { symlink: CLIMB },
        a: 'A',
      },
      { outputs: [`type=local,dest=${dest}`] },
    );
    expect({ tree: dirTree(dest, { owners: false }), host: guard.check() }).toEqual({
      tree: [
        `l 0777 climb -> ${CLIMB}`,
        `l 0777 host -> ${sentinel}`,
        ...parents(`${S}/x`).map((l) => l.replace(' 0:0', '')),
        `f 0644 ${S}/inside ${sha('A')}`,
      ].sort((x, y) => treeOrder(x, y, 2)),
      host: [],
    });
  });
});

/** The order of test/support/tree.ts (paths compared with `/` as the lowest byte). */
function treeOrder(a: string, b: string, column = 3): number {
  const path = (l: string) => Buffer.from(l.split(' ')[column]!.replace(/\//g, '\0'));
  return Buffer.compare(path(a), path(b));
}

interface RawEntry {
  readonly path: string;
  readonly data?: string;
  readonly linkname?: string;
  readonly hardlink?: string;
}

/** A tar with names exactly as given (tar-stream writes them as they are; writeTar refuses `..`). */
async function rawTar(entries: readonly RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const header =
      e.hardlink !== undefined
        ? { name: e.path, type: 'link' as const, linkname: e.hardlink }
        : e.linkname !== undefined
          ? { name: e.path, type: 'symlink' as const, linkname: e.linkname }
          : { name: e.path, type: 'file' as const };
    const full = { ...header, mode: header.type === 'symlink' ? 0o777 : 0o644, uid: 0, gid: 0, mtime: new Date(EPOCH * 1000) };
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null) => (err ? reject(err) : resolve());
      if (header.type === 'file') pack.entry(full, e.data ?? '', callback);
      else pack.entry(full, callback);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
