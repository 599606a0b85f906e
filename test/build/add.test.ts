/**
 * ADD end to end through Dockerfiles: local tar archives extracted by content (plain, gzip,
 * bzip2, xz — whatever the file is called), remote files from a local HTTP server (never
 * extracted, mode 0600, mtime = Last-Modified, named by the URL path, `--checksum` verified),
 * and heredoc sources (expanded unless the delimiter is quoted, `<<-` strips tabs).
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { readAll } from '../../src/image/stream.js';
import { writeTar } from '../../src/image/tar.js';
import { hasTool } from '../support/tools.js';
import { imageTree } from '../support/tree.js';
import { builder, EPOCH, sha, workspace } from './helpers.js';

const ws = workspace('add');
afterAll(() => ws.cleanup());
const build = builder(ws);

/** pkg/ with a file mtime above SOURCE_DATE_EPOCH (clamped) and one below (kept). */
async function packageTar(): Promise<Buffer> {
  return readAll(
    writeTar([
      { path: 'pkg', type: 'dir', mode: 0o750, uid: 5, gid: 6, mtime: 1000 },
      { path: 'pkg/bin', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1000 },
      { path: 'pkg/bin/tool', type: 'file', mode: 0o755, uid: 5, gid: 6, mtime: 1000, data: 'tool' },
      { path: 'pkg/README', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1800000000, data: 'readme' },
      { path: 'pkg/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 1000, linkname: 'bin/tool' },
    ]),
  );
}

function pkgTree(dir: string, owner?: string): string[] {
  const o = (uid: string) => owner ?? uid;
  return [
    `d 0750 ${o('5:6')} ${dir}/pkg @1000`,
    `f 0644 ${o('0:0')} ${dir}/pkg/README ${sha('readme')} @${EPOCH}`,
    `d 0755 ${o('0:0')} ${dir}/pkg/bin @1000`,
    `f 0755 ${o('5:6')} ${dir}/pkg/bin/tool ${sha('tool')} @1000`,
    `l 0777 ${o('0:0')} ${dir}/pkg/link -> bin/tool @1000`,
  ];
}

const compressors = hasTool('bzip2', 'bzip2') && hasTool('xz', 'xz-utils');

describe.runIf(compressors)('ADD of local archives', () => {
  it('extracts plain, gzip, bzip2 and xz tars by content (not by name); COPY never extracts; --chown applies to every entry', async () => {
    const tar = await packageTar();
    const compress = (cmd: string) => execFileSync(cmd, ['-c'], { input: tar });
    const r = await build({
      Dockerfile: [
        'FROM scratch',
        'ADD plain.bin /t/',
        'ADD pkg.tgz /g/',
        'ADD pkg.tar.bz2 /b/',
        'ADD pkg.xz /x/',
        'ADD notes.txt.gz /n/',
        'COPY pkg.tgz /c/',
        'ADD --chown=7:8 plain.bin /o',
        '',
      ].join('\n'),
      'plain.bin': tar,
      'pkg.tgz': gzipSync(tar),
      'pkg.tar.bz2': compress('bzip2'),
      'pkg.xz': compress('xz'),
      'notes.txt.gz': gzipSync('not a tar'), // compressed, but not a tar: copied as it is
    });
    expect(await imageTree(r.image, { mtime: true })).toEqual([
      `d 0755 0:0 b @${EPOCH}`,
      ...pkgTree('b'),
      `d 0755 0:0 c @${EPOCH}`,
      `f 0644 0:0 c/pkg.tgz ${sha(gzipSync(tar))} @${EPOCH}`,
      `d 0755 0:0 g @${EPOCH}`,
      ...pkgTree('g'),
      `d 0755 0:0 n @${EPOCH}`,
      `f 0644 0:0 n/notes.txt.gz ${sha(gzipSync('not a tar'))} @${EPOCH}`,
      `d 0755 7:8 o @${EPOCH}`,
      ...pkgTree('o', '7:8'),
      `d 0755 0:0 t @${EPOCH}`,
      ...pkgTree('t'),
      `d 0755 0:0 x @${EPOCH}`,
      ...pkgTree('x'),
    ]);
  });
});

describe('ADD of remote files (local HTTP server)', () => {
  let server: Server;
  let base: string;
  const LAST_MODIFIED = 'Wed, 01 Jan 2020 00:00:00 GMT'; // 1577836800, before EPOCH: kept
  let tgz: Buffer;

  beforeAll(async () => {
    tgz = gzipSync(await packageTar());
    server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/files/hello.txt') {
        res.writeHead(200, { 'Last-Modified': LAST_MODIFIED, 'Content-Type': 'text/plain' });
        res.end('hello\n');
      } else if (url === '/files/pkg.tar.gz') {
        res.writeHead(200, { 'Last-Modified': LAST_MODIFIED });
        res.end(tgz);
      } else if (url.startsWith('/download')) {
        // No Last-Modified (mtime 0); a Content-Disposition name that ADD does not use.
        res.writeHead(200, { 'Content-Disposition': 'attachment; filename="other.bin"' });
        res.end('payload');
      } else {
        res.writeHead(404);
        res.end('no');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('mode 0600, mtime Last-Modified, named by the URL path, archives not extracted, --checksum verified', async () => {
    const r = await build({
      Dockerfile: [
        'FROM scratch',
        `ADD ${base}/files/hello.txt /u/`,
        `ADD ${base}/files/pkg.tar.gz /u/`,
        `ADD ${base}/download?id=1 /u/`,
        `ADD ${base}/files/hello.txt /renamed`,
        `ADD --checksum=${sha('hello\n')} ${base}/files/hello.txt /verified`,
        `ADD --chown=10:20 --chmod=640 ${base}/files/hello.txt /owned`,
        '',
      ].join('\n'),
    });
    expect(await imageTree(r.image, { mtime: true })).toEqual([
      `f 0640 10:20 owned ${sha('hello\n')} @1577836800`,
      `f 0600 0:0 renamed ${sha('hello\n')} @1577836800`,
      `d 0755 0:0 u @${EPOCH}`,
      `f 0600 0:0 u/download ${sha('payload')} @0`,
      `f 0600 0:0 u/hello.txt ${sha('hello\n')} @1577836800`,
      `f 0600 0:0 u/pkg.tar.gz ${sha(tgz)} @1577836800`,
      `f 0600 0:0 verified ${sha('hello\n')} @1577836800`,
    ]);
  });

  it('a --checksum mismatch fails with both digests and the line', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await build({ Dockerfile: `FROM scratch\nADD --checksum=${wrong} ${base}/files/hello.txt /x\n` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildImageError);
    const e = err as BuildImageError;
    expect([e.code, e.message, e.file, e.range?.start.line]).toEqual([
      'EXEC_URL_CHECKSUM',
      `digest mismatch for ${base}/files/hello.txt: ${sha('hello\n')} (expected: ${wrong})`,
      join(build.lastContext(), 'Dockerfile'),
      2,
    ]);
  });

  it('an HTTP error names the status and the URL', async () => {
    const err = (await build({ Dockerfile: `FROM scratch\nADD ${base}/missing /x\n` }).catch((e: unknown) => e)) as BuildImageError;
    expect([err.code, err.message, err.range?.start.line]).toEqual(['EXEC_URL_FAILED', `invalid response status 404 downloading ${base}/missing`, 2]);
  });

  it('COPY refuses URLs', async () => {
    const err = (await build({ Dockerfile: `FROM scratch\nCOPY ${base}/files/hello.txt /x\n` }).catch((e: unknown) => e)) as BuildImageError;
    expect([err.code, err.message, err.range?.start.line, err.suggestion]).toEqual(['PLAN_URL_IN_COPY', "source can't be a URL for COPY", 2, 'use ADD for remote files']);
  });
});

describe('heredoc sources', () => {
  it('COPY <<EOF writes files: expanded unless quoted, <<- strips tabs, several into a dir, --chmod', async () => {
    const r = await build({
      Dockerfile: [
        'FROM scratch',
        'ARG NAME=world',
        'COPY <<EOF /h/greet',
        'hello ${NAME}',
        'EOF',
        'COPY <<-"EOT" <<X /h/',
        '\tliteral ${NAME}',
        '\t\tEOT',
        'x',
        'X',
        'COPY --chmod=0755 <<EOF /h/run.sh',
        '#!/bin/sh',
        'echo run',
        'EOF',
        '',
      ].join('\n'),
    });
    expect(await imageTree(r.image, { mtime: true })).toEqual([
      `d 0755 0:0 h @${EPOCH}`,
      `f 0644 0:0 h/EOT ${sha('literal ${NAME}\n')} @${EPOCH}`,
      `f 0644 0:0 h/X ${sha('x\n')} @${EPOCH}`,
      `f 0644 0:0 h/greet ${sha('hello world\n')} @${EPOCH}`,
      `f 0755 0:0 h/run.sh ${sha('#!/bin/sh\necho run\n')} @${EPOCH}`,
    ]);
  });
});
