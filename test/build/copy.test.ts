/**
 * COPY end to end through Dockerfiles: what the sources are (files, a directory's contents,
 * wildcards, JSON form with spaces), where they land (several into `dir/`, a file onto an
 * existing directory, relative to WORKDIR, parents created), `--from` (stage name, index, an
 * image given as an OCI layout build context, a directory build context), `--chown` (names from
 * the image's /etc/passwd and /etc/group), `--chmod`, `--exclude`, `--parents`, `--link`, and the
 * errors (missing literal source, several sources onto a non-directory). Expected trees were
 * checked against `docker build` (BuildKit) where the engine runs.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { writeOciLayout } from '../../src/oci/layout.js';
import { hasTool } from '../support/tools.js';
import { imageTree } from '../support/tree.js';
import { builder, ownTree, sha, workspace, writeTree } from './helpers.js';

const ws = workspace('copy');
afterAll(() => ws.cleanup());
const build = builder(ws);
const E = sha('');
const busybox = hasTool('busybox', 'busybox-static');

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; file?: string; line?: number; suggestion?: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof BuildImageError)) throw new Error(`expected a BuildImageError, got ${String(err)}`);
  return {
    code: err.code,
    message: err.message,
    ...(err.file !== undefined ? { file: err.file } : {}),
    ...(err.range !== undefined ? { line: err.range.start.line } : {}),
    ...(err.suggestion !== undefined ? { suggestion: err.suggestion } : {}),
  };
}

describe('COPY sources and destinations', () => {
  it('files, a directory (its contents), wildcards (one matching nothing), several into dir/', async () => {
    const r = await build({
      Dockerfile: [
        'FROM scratch',
        'COPY a.txt /one',
        'COPY src /tree',
        'COPY src/ /tree-slash',
        'COPY *.txt /wild/',
        'COPY *.none /nothing/',
        'COPY a.txt b.txt src /many/',
        'COPY s?c/sub/*.js /js/',
        '',
      ].join('\n'),
      'a.txt': 'a',
      'b.txt': 'b',
      'src/main.js': 'main',
      'src/sub/util.js': 'util',
      'src/sub/util.css': 'css',
      'src/empty': { dir: true, mode: 0o700 },
    });
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 js',
      `f 0644 0:0 js/util.js ${sha('util')}`,
      'd 0755 0:0 many',
      `f 0644 0:0 many/a.txt ${sha('a')}`,
      `f 0644 0:0 many/b.txt ${sha('b')}`,
      'd 0700 0:0 many/empty',
      `f 0644 0:0 many/main.js ${sha('main')}`,
      'd 0755 0:0 many/sub',
      `f 0644 0:0 many/sub/util.css ${sha('css')}`,
      `f 0644 0:0 many/sub/util.js ${sha('util')}`,
      `f 0644 0:0 one ${sha('a')}`,
      'd 0755 0:0 tree',
      'd 0700 0:0 tree/empty',
      `f 0644 0:0 tree/main.js ${sha('main')}`,
      'd 0755 0:0 tree/sub',
      `f 0644 0:0 tree/sub/util.css ${sha('css')}`,
      `f 0644 0:0 tree/sub/util.js ${sha('util')}`,
      'd 0755 0:0 tree-slash',
      'd 0700 0:0 tree-slash/empty',
      `f 0644 0:0 tree-slash/main.js ${sha('main')}`,
      'd 0755 0:0 tree-slash/sub',
      `f 0644 0:0 tree-slash/sub/util.css ${sha('css')}`,
      `f 0644 0:0 tree-slash/sub/util.js ${sha('util')}`,
      'd 0755 0:0 wild',
      `f 0644 0:0 wild/a.txt ${sha('a')}`,
      `f 0644 0:0 wild/b.txt ${sha('b')}`,
    ]);
  });

  it('a file onto an existing directory lands inside it; dest relative to WORKDIR; parents are created; JSON form with spaces', async () => {
    const r = await build({
      Dockerfile: [
        'FROM scratch',
        'WORKDIR /srv',
        'COPY a.txt /srv',
        'COPY a.txt deep/er/',
        'COPY a.txt renamed',
        'COPY ["my file.txt", "dir with space/", "dest dir/"]',
        'COPY ["my file.txt", "in json"]',
        'WORKDIR sub',
        'COPY b.txt .',
        'COPY b.txt ../up.txt',
        '',
      ].join('\n'),
      'a.txt': 'a',
      'b.txt': 'b',
      'my file.txt': 'spaced',
      'dir with space/inner file': 'inner',
    });
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 srv',
      `f 0644 0:0 srv/a.txt ${sha('a')}`,
      'd 0755 0:0 srv/deep',
      'd 0755 0:0 srv/deep/er',
      `f 0644 0:0 srv/deep/er/a.txt ${sha('a')}`,
      'd 0755 0:0 srv/dest dir',
      `f 0644 0:0 srv/dest dir/inner file ${sha('inner')}`,
      `f 0644 0:0 srv/dest dir/my file.txt ${sha('spaced')}`,
      `f 0644 0:0 srv/in json ${sha('spaced')}`,
      `f 0644 0:0 srv/renamed ${sha('a')}`,
      'd 0755 0:0 srv/sub',
      `f 0644 0:0 srv/sub/b.txt ${sha('b')}`,
      `f 0644 0:0 srv/up.txt ${sha('b')}`,
    ]);
  });

  it('a missing literal source fails naming the path, the Dockerfile and its line', async () => {
    const err = await failure(build({ Dockerfile: 'FROM scratch\nCOPY a.txt /a\n\nCOPY missing.txt /m\n', 'a.txt': 'a' }));
    expect(err).toEqual({
      code: 'CONTEXT_SOURCE_NOT_FOUND',
      message: '"/missing.txt": not found in the build context (source "missing.txt")',
      file: join(build.lastContext(), 'Dockerfile'),
      line: 4,
    });
  });

  it('several sources onto a destination that is not a directory fail (with the line)', async () => {
    const err = await failure(build({ Dockerfile: 'FROM scratch\nCOPY a.txt b.txt /dst\n', 'a.txt': 'a', 'b.txt': 'b' }));
    expect(err).toEqual({
      code: 'EXEC_COPY_DEST_NOT_DIR',
      message: 'When using COPY with more than one source file, the destination must be a directory and end with a /',
      file: join(build.lastContext(), 'Dockerfile'),
      line: 2,
      suggestion: 'write the destination as "/dst/"',
    });
  });
});

describe('COPY --from', () => {
  let layout: string;
  beforeAll(async () => {
    // An image given as an OCI layout: built here, then written out.
    const img = await build({ Dockerfile: 'FROM scratch\nCOPY tool /usr/bin/tool\n', tool: { file: '#!/bin/sh\n', mode: 0o755 } });
    layout = ws.dir('layout');
    await writeOciLayout(layout, img.image, { tag: 'v1' });
  });

  it('a stage by name, a stage by index, an image (oci-layout build context), a directory build context', async () => {
    const extra = writeTree(ws.dir('extra'), { 'conf/app.ini': '[app]', 'conf/ignored.tmp': 'not ignored: no .dockerignore here' });
    const r = await build(
      {
        Dockerfile: [
          'FROM scratch AS one',
          'COPY a /a',
          'FROM scratch',
          'COPY b /b',
          'FROM scratch',
          'COPY --from=one /a /x/a',
          'COPY --from=1 /b /x/b',
          'COPY --from=img /usr/bin/tool /x/tool',
          'COPY --from=extra conf /x/conf/',
          '',
        ].join('\n'),
        '.dockerignore': '*.tmp\n',
        a: 'a',
        b: 'b',
      },
      { buildContexts: { img: `oci-layout://${layout}:v1`, extra } },
    );
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 x',
      `f 0644 0:0 x/a ${sha('a')}`,
      `f 0644 0:0 x/b ${sha('b')}`,
      'd 0755 0:0 x/conf',
      `f 0644 0:0 x/conf/app.ini ${sha('[app]')}`,
      `f 0644 0:0 x/conf/ignored.tmp ${sha('not ignored: no .dockerignore here')}`,
      `f 0755 0:0 x/tool ${sha('#!/bin/sh\n')}`,
    ]);
    // Only the target's stages and its own layers: one COPY layer per instruction.
    expect(r.image.layers).toHaveLength(4);
  });
});

describe.runIf(busybox)('COPY --chown, --chmod (busybox base: real /etc/passwd and /etc/group)', () => {
  it('--chown resolves names through the image; a name alone takes its passwd group, an id alone gid=uid', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox',
        'COPY passwd group /etc/',
        'COPY --chown=svc a /o/name',
        'COPY --chown=2000 a /o/id',
        'COPY --chown=svc:other a /o/both',
        'COPY --chown=2000:other a /o/idname',
        'COPY --chown=svc:5 a /o/nameid',
        'COPY --chown=app:app d /o/d/',
        'COPY a /o/root-owned',
        '',
      ].join('\n'),
      passwd: 'root:x:0:0:root:/root:/bin/sh\nsvc:x:2000:3000::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
      group: 'root:x:0:\nsvcgrp:x:3000:\nother:x:4000:\napp:x:1000:\n',
      a: 'a',
      'd/x': 'x',
    });
    // As `docker build` gives (checked): `/o` is made by the first COPY, owned like its file.
    expect(await ownTree(r.image)).toEqual([
      'd 0755 2000:3000 o',
      `f 0644 2000:4000 o/both ${sha('a')}`,
      'd 0755 1000:1000 o/d',
      `f 0644 1000:1000 o/d/x ${sha('x')}`,
      `f 0644 2000:2000 o/id ${sha('a')}`,
      `f 0644 2000:4000 o/idname ${sha('a')}`,
      `f 0644 2000:3000 o/name ${sha('a')}`,
      `f 0644 2000:5 o/nameid ${sha('a')}`,
      `f 0644 0:0 o/root-owned ${sha('a')}`,
    ]);
  });

  it('USER does not change COPY ownership; --chmod sets files and created dirs', async () => {
    const r = await build({
      Dockerfile: ['FROM busybox', 'USER app', 'COPY a /u/a', 'COPY --chmod=0751 a d /m/', 'COPY --chmod=4755 a /m/suid', ''].join('\n'),
      a: { file: 'a', mode: 0o600 },
      'd/x': { file: 'x', mode: 0o640 },
    });
    expect(await ownTree(r.image)).toEqual([
      'd 0751 0:0 m',
      `f 0751 0:0 m/a ${sha('a')}`,
      `f 4755 0:0 m/suid ${sha('a')}`,
      `f 0751 0:0 m/x ${sha('x')}`,
      'd 0755 0:0 u',
      `f 0600 0:0 u/a ${sha('a')}`,
    ]);
  });

  it('--chown with a user the image does not have fails with the line', async () => {
    const err = await failure(build({ Dockerfile: 'FROM busybox\nCOPY --chown=ghost a /a\n', a: 'a' }));
    expect(err).toEqual({
      code: 'EXEC_CHOWN_UNKNOWN_USER',
      message: '--chown=ghost: unable to find user ghost: no matching entries in passwd file',
      file: join(build.lastContext(), 'Dockerfile'),
      line: 2,
      suggestion: 'use a numeric id, or create the user in an earlier step',
    });
  });
});

describe('COPY --exclude, --parents, --link', () => {
  it('--exclude skips paths below each match (patterns relative to the match)', async () => {
    const r = await build({
      Dockerfile: '# syntax=docker/dockerfile:1.7-labs\nFROM scratch\nCOPY --exclude=*.log --exclude=tmp --exclude=**/*.bak src /e/\n',
      'src/a': 'a',
      'src/b.log': '',
      'src/tmp/z': '',
      'src/k/c.log': 'nested log stays: *.log is relative to src',
      'src/k/d.bak': '',
    });
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 e',
      `f 0644 0:0 e/a ${sha('a')}`,
      'd 0755 0:0 e/k',
      `f 0644 0:0 e/k/c.log ${sha('nested log stays: *.log is relative to src')}`,
    ]);
  });

  it('--parents keeps the source paths (from the root, or from a /./ pivot)', async () => {
    const r = await build({
      Dockerfile: '# syntax=docker/dockerfile:1.7-labs\nFROM scratch\nCOPY --parents x/*/conf y/**/f /p/\nCOPY --parents ./base/./rel/file /q/\n',
      'x/1/conf': '1',
      'x/2/conf': '2',
      'x/2/other': '',
      'y/f': 'f',
      'y/q/r/f': 'qrf',
      'base/rel/file': 'pivot',
    });
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 p',
      'd 0755 0:0 p/x',
      'd 0755 0:0 p/x/1',
      `f 0644 0:0 p/x/1/conf ${sha('1')}`,
      'd 0755 0:0 p/x/2',
      `f 0644 0:0 p/x/2/conf ${sha('2')}`,
      'd 0755 0:0 p/y',
      `f 0644 0:0 p/y/f ${sha('f')}`,
      'd 0755 0:0 p/y/q',
      'd 0755 0:0 p/y/q/r',
      `f 0644 0:0 p/y/q/r/f ${sha('qrf')}`,
      'd 0755 0:0 q',
      'd 0755 0:0 q/rel',
      `f 0644 0:0 q/rel/file ${sha('pivot')}`,
    ]);
    expect(E).toBe(sha(''));
  });

  it.runIf(busybox)('--link makes the same layer whatever the base (it reads nothing of the image)', async () => {
    const files = { a: 'a', 'd/x': 'x' };
    const onBusybox = await build({ Dockerfile: 'FROM busybox\nCOPY --link a d /l/\n', ...files });
    const onScratch = await build({ Dockerfile: 'FROM scratch\nCOPY --link a d /l/\n', ...files });
    expect(onBusybox.image.layers.at(-1)!.diffID).toBe(onScratch.image.layers[0]!.diffID);
    expect(await ownTree(onBusybox.image)).toEqual(['d 0755 0:0 l', `f 0644 0:0 l/a ${sha('a')}`, `f 0644 0:0 l/x ${sha('x')}`]);
  });
});
