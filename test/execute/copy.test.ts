import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildContext } from '../../src/context/build-context.js';
import { executePlan, executeStages } from '../../src/execute/build.js';
import { sha256Digest } from '../../src/image/digest.js';
import type { Image } from '../../src/image/image.js';
import { writeTar } from '../../src/image/tar.js';
import type { BaseSource, CopyStep, Step } from '../../src/plan/types.js';
import type { Node } from '../context/tree.js';
import { imageTree, layerEntries, sha } from '../support/tree.js';
import { baseImage, copyStep, ctx, layoutSource, makeContext, newStore, plan, type StageSpec } from './helpers.js';

const CTX: Record<string, Node> = {
  dir: { dir: true, mode: 0o750 },
  'a.txt': { file: 'A', mtime: 1000 },
  'b.txt': { file: 'B', mode: 0o600, mtime: 2000 },
  'dir/x': { file: 'X', mtime: 1000 },
  'dir/sub/y': { file: 'Y', mtime: 1000 },
  'dir/inner-link': { symlink: '../a.txt' },
  'dir/abs-link': { symlink: '/etc/shadow' },
  'link-to-a': { symlink: 'a.txt' },
  'link-to-dir': { symlink: 'dir' },
  'etc/hostname': { file: 'from the context\n', mtime: 1000 },
  'out-abs': { symlink: '/etc/hostname' },
  'out-rel': { symlink: '../../../../../etc/hostname' },
  'hl/h1': { file: 'hard', mtime: 1000 },
  'hl/h2': { hardlink: 'hl/h1' },
};

const A = sha('A');
const B = sha('B');
const X = sha('X');
const Y = sha('Y');

let base: BaseSource;
let main: BuildContext;

beforeAll(async () => {
  base = (await layoutSource(await baseImage())).source;
  main = await makeContext(CTX);
  // Directory mtimes are whatever the file system says: pin them for mtime tests.
  for (const d of ['', 'dir', 'dir/sub', 'etc']) await utimes(join(main.dir, d), 3000, 3000);
  main = await (await import('../../src/context/build-context.js')).BuildContext.open(main.dir);
});

interface Built {
  image: Image;
  /** Lines of the merged image. */
  tree: (under?: string, options?: { mtime?: boolean }) => Promise<string[]>;
  /** Entries of the layers the steps added. */
  added: (options?: { mtime?: boolean }) => Promise<string[][]>;
}

async function build(steps: Step[] | StageSpec[], options: { scratch?: boolean; epoch?: number; context?: BuildContext } = {}): Promise<Built> {
  const store = await newStore();
  const stages: StageSpec[] =
    steps.length > 0 && 'steps' in (steps[0] as object)
      ? (steps as StageSpec[])
      : [{ base: options.scratch ? { kind: 'scratch' } : base, steps: steps as Step[] }];
  const withEpoch = (st: Step): Step => (options.epoch === undefined ? st : { ...st, epoch: options.epoch });
  const p = plan(
    stages.map((s) => ({ ...s, steps: s.steps.map(withEpoch) })),
    { epoch: options.epoch },
  );
  const image = await executePlan(p, { store, contexts: { main: options.context ?? main } });
  const target = p.stages[p.target]!;
  const baseCount = image.layers.length - target.steps.length;
  return {
    image,
    tree: (under, o = {}) => imageTree(image, { ...o, ...(under !== undefined ? { under } : {}) }),
    added: async (o = {}) => Promise.all(image.layers.slice(baseCount).map((l) => layerEntries(l, o))),
  };
}

const copy = (sources: string[], dest: string, more: Partial<CopyStep> = {}) => copyStep(0, sources.map((s) => ctx(s)), dest, more);

describe('COPY: sources and destinations (fsutil copy semantics)', () => {
  it.each<{ name: string; step: () => CopyStep; under: string; want: string[] }>([
    {
      name: 'a file into a new directory (dest ends with /)',
      step: () => copy(['a.txt'], '/app/'),
      under: 'app',
      want: ['d 0755 0:0 app', `f 0644 0:0 app/a.txt ${A}`],
    },
    {
      name: 'a file to a new file name (no trailing /)',
      step: () => copy(['a.txt'], '/app'),
      under: 'app',
      want: [`f 0644 0:0 app ${A}`],
    },
    {
      name: 'a file onto an existing directory lands inside it',
      step: () => copy(['a.txt'], '/home'),
      under: 'home',
      want: ['d 0755 0:0 home', `f 0644 0:0 home/a.txt ${A}`, 'd 0750 1000:1001 home/app'],
    },
    {
      name: 'a directory copies its contents; a new destination directory is 0755',
      step: () => copy(['dir'], '/dest'),
      under: 'dest',
      want: ['d 0755 0:0 dest', 'l 0777 0:0 dest/abs-link -> /etc/shadow', 'l 0777 0:0 dest/inner-link -> ../a.txt', 'd 0755 0:0 dest/sub', `f 0644 0:0 dest/sub/y ${Y}`, `f 0644 0:0 dest/x ${X}`],
    },
    {
      name: 'a trailing / on the source is ignored',
      step: () => copy(['dir/'], '/dest/'),
      under: 'dest',
      want: ['d 0755 0:0 dest', 'l 0777 0:0 dest/abs-link -> /etc/shadow', 'l 0777 0:0 dest/inner-link -> ../a.txt', 'd 0755 0:0 dest/sub', `f 0644 0:0 dest/sub/y ${Y}`, `f 0644 0:0 dest/x ${X}`],
    },
    {
      name: 'a directory into an existing directory keeps its mode and owner',
      step: () => copy(['dir/sub'], '/home/app'),
      under: 'home/app',
      want: ['d 0750 1000:1001 home/app', `f 0644 0:0 home/app/y ${Y}`],
    },
    {
      name: 'a symlink named as the source is followed (the copy keeps the link name)',
      step: () => copy(['link-to-a'], '/app/'),
      under: 'app',
      want: ['d 0755 0:0 app', `f 0644 0:0 app/link-to-a ${A}`],
    },
    {
      name: 'a symlink to a directory named as the source copies the directory contents',
      step: () => copy(['link-to-dir'], '/d/'),
      under: 'd',
      want: ['d 0755 0:0 d', 'l 0777 0:0 d/abs-link -> /etc/shadow', 'l 0777 0:0 d/inner-link -> ../a.txt', 'd 0755 0:0 d/sub', `f 0644 0:0 d/sub/y ${Y}`, `f 0644 0:0 d/x ${X}`],
    },
    {
      name: 'a wildcard',
      step: () => copy(['*.txt'], '/app/'),
      under: 'app',
      want: ['d 0755 0:0 app', `f 0644 0:0 app/a.txt ${A}`, `f 0600 0:0 app/b.txt ${B}`],
    },
    {
      name: 'a wildcard-matched directory is copied by its contents (flattened)',
      step: () => copy(['di?'], '/w/'),
      under: 'w',
      want: ['d 0755 0:0 w', 'l 0777 0:0 w/abs-link -> /etc/shadow', 'l 0777 0:0 w/inner-link -> ../a.txt', 'd 0755 0:0 w/sub', `f 0644 0:0 w/sub/y ${Y}`, `f 0644 0:0 w/x ${X}`],
    },
    {
      name: 'a wildcard matching nothing is fine and creates nothing',
      step: () => copy(['*.none'], '/nothing/'),
      under: 'nothing',
      want: [],
    },
    {
      name: 'several files onto an existing directory without a trailing /',
      step: () => copy(['a.txt', 'b.txt'], '/home'),
      under: 'home',
      want: ['d 0755 0:0 home', `f 0644 0:0 home/a.txt ${A}`, 'd 0750 1000:1001 home/app', `f 0600 0:0 home/b.txt ${B}`],
    },
    {
      name: 'several directories merge into one destination',
      step: () => copy(['dir/sub', 'dir/sub'], '/m'),
      under: 'm',
      want: ['d 0755 0:0 m', `f 0644 0:0 m/y ${Y}`],
    },
    {
      name: 'a file replaces a file of the image (metadata from the source)',
      step: () => copy(['b.txt'], '/etc/hostname'),
      under: 'etc/hostname',
      want: [`f 0600 0:0 etc/hostname ${B}`],
    },
    {
      name: 'missing parents are created 0755 root',
      step: () => copy(['a.txt'], '/x/y/z/'),
      under: 'x',
      want: ['d 0755 0:0 x', 'd 0755 0:0 x/y', 'd 0755 0:0 x/y/z', `f 0644 0:0 x/y/z/a.txt ${A}`],
    },
    {
      name: 'hard links stay hard links',
      step: () => copy(['hl'], '/hl/'),
      under: 'hl',
      want: ['d 0755 0:0 hl', `f 0644 0:0 hl/h1 ${sha('hard')}`, `f 0644 0:0 hl/h2 ${sha('hard')}`],
    },
  ])('$name', async ({ step, under, want }) => {
    const b = await build([step()]);
    expect(await b.tree(under)).toEqual(want);
  });

  it('the layer holds the new entries and their parent directories, sorted, numeric owners, no names', async () => {
    const b = await build([copy(['a.txt'], '/usr/bin/'), copy(['dir/sub'], '/home/app/new/')]);
    expect(await b.added({ mtime: true })).toEqual([
      // usr keeps its metadata; usr/bin gained an entry (its mtime: SOURCE_DATE_EPOCH, else unchanged)
      ['d 0755 0:0 usr/ @1000', 'd 0755 0:0 usr/bin/ @1000', `f 0644 0:0 usr/bin/a.txt ${A} @1000`],
      ['d 0755 0:0 home/ @1000', 'd 0750 1000:1001 home/app/ @1000', 'd 0755 0:0 home/app/new/ @3000', `f 0644 0:0 home/app/new/y ${Y} @1000`],
    ]);
  });

  it('hard links inside one copied tree are written as links in the layer', async () => {
    const b = await build([copy(['hl'], '/hl/')]);
    expect(await b.added()).toEqual([['d 0755 0:0 hl/', `f 0644 0:0 hl/h1 ${sha('hard')}`, 'f 0644 0:0 hl/h2 => hl/h1']]);
  });

  it('hard links named as separate sources are copied separately (one fsutil copier per source)', async () => {
    const b = await build([copy(['hl/h1', 'hl/h2'], '/hl/')]);
    expect(await b.added()).toEqual([['d 0755 0:0 hl/', `f 0644 0:0 hl/h1 ${sha('hard')}`, `f 0644 0:0 hl/h2 ${sha('hard')}`]]);
  });

  it('an exact layer digest for fixed inputs', async () => {
    const b = await build([copy(['a.txt', 'b.txt'], '/app/')], { scratch: true, epoch: 1500 });
    expect(await b.added({ mtime: true })).toEqual([['d 0755 0:0 app/ @1500', `f 0644 0:0 app/a.txt ${A} @1000`, `f 0600 0:0 app/b.txt ${B} @1500`]]);
    // The same bytes as the tar writer (pinned against Go's archive/tar in test/image) makes of these entries.
    const expected = await sha256Digest(
      writeTar([
        { path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1500 },
        { path: 'app/a.txt', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1000, data: 'A' },
        { path: 'app/b.txt', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: 1500, data: 'B' },
      ]),
    );
    expect(b.image.layers[0]!.diffID).toBe(expected);
    expect(b.image.layers[0]!.diffID).toBe('sha256:9bed3a3e1edea16ace0d2b57eb39f09f6539d52a05c0eff546c5397aa4c55bbf');
  });
});

describe('COPY: errors', () => {
  it('a missing literal source names the path and the Dockerfile line', async () => {
    const range = { start: { line: 3, column: 1, offset: 20 }, end: { line: 3, column: 20, offset: 39 } };
    await expect(build([copy(['nope.txt'], '/app/', { range })])).rejects.toMatchObject({
      code: 'CONTEXT_SOURCE_NOT_FOUND',
      message: '"/nope.txt": not found in the build context (source "nope.txt")',
      range,
    });
  });

  it('several sources need a destination ending in / (BuildKit message)', async () => {
    await expect(build([copy(['a.txt', 'b.txt'], '/app')])).rejects.toMatchObject({
      code: 'EXEC_COPY_DEST_NOT_DIR',
      message: 'When using COPY with more than one source file, the destination must be a directory and end with a /',
    });
    await expect(build([copy(['*.txt'], '/app')])).rejects.toMatchObject({ code: 'EXEC_COPY_DEST_NOT_DIR' });
  });

  it('a directory onto an existing file fails', async () => {
    await expect(build([copy(['dir'], '/etc/hostname')])).rejects.toMatchObject({
      code: 'EXEC_COPY_CONFLICT',
      message: 'cannot copy to non-directory: /etc/hostname',
    });
  });

  it('a file onto an existing directory inside a copied tree fails', async () => {
    const c = await makeContext({ 'tree/keep': 'now a file' });
    await expect(build([copy(['tree'], '/opt')], { context: c })).rejects.toMatchObject({
      code: 'EXEC_COPY_CONFLICT',
      message: 'cannot replace to directory /opt/keep with file',
    });
  });

  it('a destination below a file fails', async () => {
    await expect(build([copy(['a.txt'], '/etc/hostname/x/')])).rejects.toMatchObject({ code: 'EXEC_NOT_A_DIRECTORY' });
  });
});

describe('COPY --chown, --chmod', () => {
  it.each([
    ['app', ['d 0755 1000:1001 o', 'd 0755 1000:1001 o/p', `f 0644 1000:1001 o/p/a.txt ${A}`]],
    ['1234', ['d 0755 1234:1234 o', 'd 0755 1234:1234 o/p', `f 0644 1234:1234 o/p/a.txt ${A}`]],
    ['app:staff', ['d 0755 1000:50 o', 'd 0755 1000:50 o/p', `f 0644 1000:50 o/p/a.txt ${A}`]],
    ['root', ['d 0755 0:0 o', 'd 0755 0:0 o/p', `f 0644 0:0 o/p/a.txt ${A}`]],
  ])('--chown=%s sets files and created parents', async (chown, want) => {
    const b = await build([copy(['a.txt'], '/o/p/', { chown })]);
    expect(await b.tree('o')).toEqual(want);
  });

  it('--chown does not change existing parents', async () => {
    const b = await build([copy(['a.txt'], '/etc/', { chown: 'app' })]);
    expect((await b.tree('etc')).filter((l) => !l.includes('etc/'))).toEqual(['d 0755 0:0 etc']);
  });

  it('--chown with an unknown user fails with the line', async () => {
    await expect(build([copy(['a.txt'], '/o/', { chown: 'nobodyx', range: { start: { line: 2, column: 1, offset: 0 }, end: { line: 2, column: 5, offset: 4 } } })])).rejects.toMatchObject({
      code: 'EXEC_CHOWN_UNKNOWN_USER',
      range: { start: { line: 2 } },
    });
  });

  it('--chmod applies to copied files and directories, and to created parents (as fsutil does)', async () => {
    const b = await build([copy(['dir/sub', 'a.txt'], '/c/d/', { chmod: 0o600 })]);
    expect(await b.tree('c')).toEqual(['d 0600 0:0 c', 'd 0600 0:0 c/d', `f 0600 0:0 c/d/a.txt ${A}`, `f 0600 0:0 c/d/y ${Y}`]);
    const s = await build([copy(['dir'], '/s/', { chmod: 0o4755 })]);
    expect(await s.tree('s/sub')).toEqual(['d 4755 0:0 s/sub', `f 4755 0:0 s/sub/y ${Y}`]);
  });
});

describe('COPY --from (stages and images)', () => {
  it('copies from another stage, keeping the owners of the image', async () => {
    const b = await build([
      { name: 'base', base, steps: [] },
      { base: { kind: 'scratch' }, steps: [copyStep(1, [{ kind: 'stage', stage: 0, path: '/home' }], '/h/')], dependsOn: [0] },
    ]);
    expect(await b.tree()).toEqual(['d 0755 0:0 h', 'd 0750 1000:1001 h/app']);
  });

  it('copies from an image: symlinks named as sources are followed, inside the image', async () => {
    const img = base as Extract<BaseSource, { kind: 'image' }>;
    const b = await build([
      { base: { kind: 'scratch' }, steps: [copyStep(0, [{ kind: 'image', ref: img.ref, digest: img.digest, origin: img.origin, path: '/bin/tool' }, { kind: 'image', ref: img.ref, digest: img.digest, origin: img.origin, path: 'etc-link/host*' }], '/t/')] },
    ]);
    expect(await b.tree()).toEqual(['d 0755 0:0 t', `f 0644 0:0 t/hostname ${sha('base\n')}`, `f 0755 0:0 t/tool ${sha('#!/bin/sh\necho tool\n')}`]);
  });

  it('a missing path in a stage fails with CONTEXT_SOURCE_NOT_FOUND and a suggestion', async () => {
    await expect(
      build([{ name: 'base', base, steps: [] }, { base: { kind: 'scratch' }, steps: [copyStep(1, [{ kind: 'stage', stage: 0, path: '/etc/hostnam' }], '/x')] }]),
    ).rejects.toMatchObject({
      code: 'CONTEXT_SOURCE_NOT_FOUND',
      message: '"/etc/hostnam": not found in stage "base" (source "/etc/hostnam")',
      suggestion: 'did you mean /etc/hostname?',
    });
  });

  it('security: a COPY --from source cannot leave the stage root', async () => {
    const b = await build([
      { name: 'base', base, steps: [] },
      { base: { kind: 'scratch' }, steps: [copyStep(1, [{ kind: 'stage', stage: 0, path: '../../../../etc/hostname' }, { kind: 'stage', stage: 0, path: '/up/up/etc/passwd' }], '/x/')] },
    ]);
    expect(await b.tree()).toEqual(['d 0755 0:0 x', `f 0644 0:0 x/hostname ${sha('base\n')}`, expect.stringMatching(/^f 0644 0:0 x\/passwd /)]);
  });
});

describe('COPY --exclude and --parents', () => {
  it.each<[string, string[], string[], string[]]>([
    ['*.txt at the top of the match', ['.'], ['*.txt'], ['a.txt', 'b.txt']],
    ['a subtree', ['dir'], ['sub'], ['sub', 'sub/y']],
    ['with an exception', ['dir'], ['*', '!x'], ['abs-link', 'inner-link', 'sub', 'sub/y']],
    ['never the match itself', ['a.txt'], ['a.txt'], []],
  ])('--exclude %s', async (_name, sources, exclude, gone) => {
    const all = await build([copy(sources, '/e/')]);
    const some = await build([copy(sources, '/e/', { exclude })]);
    const names = (lines: string[]) => lines.map((l) => l.split(' ')[3]!.slice(2));
    const allNames = names(await all.tree('e')).filter((n) => n !== '');
    expect(names(await some.tree('e')).filter((n) => n !== '')).toEqual(allNames.filter((n) => !gone.includes(n)));
  });

  it('--parents keeps the path from the context root, parents with their source metadata', async () => {
    const b = await build([copy(['dir/sub/y', 'a.txt'], '/p/', { parents: true })]);
    expect(await b.tree('p')).toEqual(['d 0755 0:0 p', `f 0644 0:0 p/a.txt ${A}`, 'd 0750 0:0 p/dir', 'd 0755 0:0 p/dir/sub', `f 0644 0:0 p/dir/sub/y ${Y}`]);
  });

  it('--parents with a /./ pivot and with a wildcard', async () => {
    const pivot = await build([copy(['./dir/./sub/y'], '/p/', { parents: true })]);
    expect(await pivot.tree('p')).toEqual(['d 0755 0:0 p', 'd 0755 0:0 p/sub', `f 0644 0:0 p/sub/y ${Y}`]);
    const wild = await build([copy(['dir/*/y'], '/p/', { parents: true })]);
    expect(await wild.tree('p')).toEqual(['d 0755 0:0 p', 'd 0750 0:0 p/dir', 'd 0755 0:0 p/dir/sub', `f 0644 0:0 p/dir/sub/y ${Y}`]);
  });

  it('--parents with a missing literal path fails', async () => {
    await expect(build([copy(['dir/nope'], '/p/', { parents: true })])).rejects.toMatchObject({ code: 'CONTEXT_SOURCE_NOT_FOUND', message: expect.stringContaining('"/dir/nope": not found') });
  });
});

describe('COPY --link', () => {
  it('makes a layer independent of the image: destination symlinks are not followed, parents are in the layer', async () => {
    const b = await build([copy(['a.txt'], '/etc-link/', { link: true }), copy(['a.txt'], '/usr/local/x', { link: true })]);
    expect(await b.added()).toEqual([
      ['d 0755 0:0 etc-link/', `f 0644 0:0 etc-link/a.txt ${A}`],
      ['d 0755 0:0 usr/', 'd 0755 0:0 usr/local/', `f 0644 0:0 usr/local/x ${A}`],
    ]);
    // In the image the directory replaces the symlink, as with BuildKit's merge.
    expect(await b.tree('etc-link')).toEqual(['d 0755 0:0 etc-link', `f 0644 0:0 etc-link/a.txt ${A}`]);
  });

  it('the same layer whatever the image below', async () => {
    const onImage = await build([copy(['dir'], '/app/', { link: true })]);
    const onScratch = await build([copy(['dir'], '/app/', { link: true })], { scratch: true });
    expect(onImage.image.layers.at(-1)!.diffID).toBe(onScratch.image.layers.at(-1)!.diffID);
  });

  it('--chown names cannot be resolved with --link; numeric ids can', async () => {
    await expect(build([copy(['a.txt'], '/x/', { link: true, chown: 'app' })])).rejects.toMatchObject({ code: 'EXEC_CHOWN_LINK' });
    const b = await build([copy(['a.txt'], '/x/', { link: true, chown: '7:8' })]);
    expect(await b.added()).toEqual([['d 0755 7:8 x/', `f 0644 7:8 x/a.txt ${A}`]]);
  });

  it('is ignored with --chmod (as BuildKit does): the destination symlink is followed', async () => {
    const b = await build([copy(['a.txt'], '/etc-link/', { link: true, chmod: 0o640 })]);
    expect(await b.tree('etc/a.txt')).toEqual([`f 0640 0:0 etc/a.txt ${A}`]);
  });
});

describe('COPY: modification times', () => {
  it('keeps source mtimes; created directories get 0 without SOURCE_DATE_EPOCH', async () => {
    const b = await build([copy(['b.txt', 'dir/sub'], '/m/n/')]);
    // m/n/ was made by the first source; copying the directory dir/sub onto it gives it sub's mtime.
    expect(await b.added({ mtime: true })).toEqual([['d 0755 0:0 m/ @0', 'd 0755 0:0 m/n/ @3000', `f 0600 0:0 m/n/b.txt ${B} @2000`, `f 0644 0:0 m/n/y ${Y} @1000`]]);
    const files = await build([copy(['b.txt'], '/m/n/')]);
    expect(await files.added({ mtime: true })).toEqual([['d 0755 0:0 m/ @0', 'd 0755 0:0 m/n/ @0', `f 0600 0:0 m/n/b.txt ${B} @2000`]]);
  });

  it('SOURCE_DATE_EPOCH clamps mtimes, dates created directories and modified parents', async () => {
    const b = await build([copy(['b.txt', 'a.txt'], '/etc/new/')], { epoch: 1500 });
    expect(await b.added({ mtime: true })).toEqual([['d 0755 0:0 etc/ @1500', 'd 0755 0:0 etc/new/ @1500', `f 0644 0:0 etc/new/a.txt ${A} @1000`, `f 0600 0:0 etc/new/b.txt ${B} @1500`]]);
  });

  it('a directory copied onto an existing one gives it its mtime', async () => {
    const b = await build([copy(['dir/sub'], '/home/app')]);
    expect(await b.added({ mtime: true })).toEqual([['d 0755 0:0 home/ @1000', 'd 0750 1000:1001 home/app/ @3000', `f 0644 0:0 home/app/y ${Y} @1000`]]);
  });
});

describe('COPY: security', () => {
  it('security: a destination through an absolute symlink stays in the image (/etc-link -> /etc)', async () => {
    const b = await build([copy(['a.txt'], '/etc-link/')]);
    expect(await b.added()).toEqual([['d 0755 0:0 etc/', `f 0644 0:0 etc/a.txt ${A}`]]);
  });

  it('security: a destination through ../../.. resolves to the image root', async () => {
    const b = await build([copy(['a.txt'], '/up/up/')]);
    expect(await b.added()).toEqual([[`f 0644 0:0 a.txt ${A}`]]);
  });

  it('security: a destination symlink loop fails cleanly', async () => {
    const c = await makeContext({ 'loops/loop1': { symlink: 'loop2' }, 'loops/loop2': { symlink: '/loop1' }, f: 'x' });
    const steps = [copyStep(0, [ctx('loops')], '/'), copyStep(0, [ctx('f')], '/loop1/x')];
    await expect(build(steps, { context: c, scratch: true })).rejects.toMatchObject({
      code: 'EXEC_SYMLINK_LOOP',
      message: 'too many levels of symbolic links resolving "/loop1"',
    });
  });

  it('security: `..` in a source is clamped to the context root', async () => {
    const b = await build([copy(['../../../../../etc/hostname'], '/h')]);
    expect(await b.tree('h')).toEqual([`f 0644 0:0 h ${sha('from the context\n')}`]);
  });

  it('security: an absolute source is relative to the context root', async () => {
    const b = await build([copy(['/etc/hostname'], '/h')]);
    expect(await b.tree('h')).toEqual([`f 0644 0:0 h ${sha('from the context\n')}`]);
  });

  it('security: a symlink in the context pointing outside is followed inside the context', async () => {
    const b = await build([copy(['out-abs', 'out-rel'], '/s/')]);
    expect(await b.tree('s')).toEqual(['d 0755 0:0 s', `f 0644 0:0 s/out-abs ${sha('from the context\n')}`, `f 0644 0:0 s/out-rel ${sha('from the context\n')}`]);
  });

  it('security: symlinks inside a copied tree are copied as links, never followed', async () => {
    const b = await build([copy(['dir'], '/t/')]);
    expect((await b.tree('t')).filter((l) => l.startsWith('l '))).toEqual(['l 0777 0:0 t/abs-link -> /etc/shadow', 'l 0777 0:0 t/inner-link -> ../a.txt']);
  });

  it('security: writing through a copied symlink is refused (the link is not a directory)', async () => {
    const c = await makeContext({ 'one/lnk': { symlink: '/etc' }, 'two/lnk/passwd': 'pwned' });
    await expect(build([copy(['one', 'two'], '/x/')], { context: c })).rejects.toMatchObject({ code: 'EXEC_COPY_CONFLICT', message: 'cannot copy to non-directory: /x/lnk' });
  });
});

describe('COPY: stage results feed later stages', () => {
  it('a stage based on another stage sees its files', async () => {
    const s0 = [copyStep(0, [ctx('a.txt')], '/first/')];
    const s1 = [copyStep(1, [{ kind: 'stage', stage: 0, path: '/first/a.txt' }], '/first/again')];
    const store = await newStore();
    const p = plan([
      { name: 'one', base, steps: s0 },
      { name: 'two', base: { kind: 'stage', stage: 0 }, steps: s1, dependsOn: [0] },
    ]);
    const r = await executeStages(p, { store, contexts: { main } });
    expect(await imageTree(r.image, { under: 'first' })).toEqual(['d 0755 0:0 first', `f 0644 0:0 first/a.txt ${A}`, `f 0644 0:0 first/again ${A}`]);
    expect(r.stages.get(0)!.image.layers.length).toBe(3);
  });
});

describe('COPY: heredocs and what images carry', () => {
  it('an inline heredoc source is a 0644 root file named after the heredoc (mtime SOURCE_DATE_EPOCH or 0)', async () => {
    const steps = [
      copyStep(0, [{ kind: 'inline', name: 'EOF', data: 'line one\nline two\n' }], '/etc/'),
      copyStep(0, [{ kind: 'inline', name: 'script', data: '#!/bin/sh\n' }], '/usr/local/bin/run', { chmod: 0o755, chown: 'app' }),
    ];
    const b = await build(steps);
    expect(await b.added({ mtime: true })).toEqual([
      ['d 0755 0:0 etc/ @1000', `f 0644 0:0 etc/EOF ${sha('line one\nline two\n')} @0`],
      ['d 0755 0:0 usr/ @1000', 'd 0755 1000:1001 usr/local/ @0', 'd 0755 1000:1001 usr/local/bin/ @0', `f 0755 1000:1001 usr/local/bin/run ${sha('#!/bin/sh\n')} @0`],
    ]);
    const e = await build([copyStep(0, [{ kind: 'inline', name: 'EOF', data: 'x' }], '/f', { epoch: 1234 })]);
    expect(await e.added({ mtime: true })).toEqual([[`f 0644 0:0 f ${sha('x')} @1234`]]);
  });

  it('COPY --from keeps hard links and xattrs of the image', async () => {
    const { layerFromEntries } = await import('../../src/image/layer.js');
    const { appendLayers, emptyImage } = await import('../../src/image/image.js');
    const cap = Buffer.from([1, 0, 0, 2, 0, 32, 0, 0]);
    const layer = await layerFromEntries([
      { path: 'bin', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 5 },
      { path: 'bin/ping', type: 'file', mode: 0o4755, uid: 0, gid: 0, mtime: 5, data: 'ping', xattrs: { 'security.capability': cap } },
      { path: 'bin/ping6', type: 'hardlink', mode: 0o4755, uid: 0, gid: 0, mtime: 5, linkname: 'bin/ping' },
    ]);
    const src = (await layoutSource(appendLayers(emptyImage(), { layer }), 'caps')).source as Extract<BaseSource, { kind: 'image' }>;
    const b = await build([copyStep(0, [{ kind: 'image', ref: src.ref, digest: src.digest, origin: src.origin, path: '/bin' }], '/b/')], { scratch: true });
    expect(await b.added()).toEqual([['d 0755 0:0 b/', `f 4755 0:0 b/ping ${sha('ping')}`, 'f 4755 0:0 b/ping6 => b/ping']]);
    const { readTar } = await import('../../src/image/tar.js');
    const xattrs: Record<string, string> = {};
    for await (const e of readTar(await b.image.layers[0]!.openUncompressed())) {
      for (const [k, v] of Object.entries(e.xattrs)) xattrs[`${e.path} ${k}`] = v.toString('hex');
    }
    // containerd's ChangeWriter adds security.capability to the link entry too.
    expect(xattrs).toEqual({ 'b/ping security.capability': cap.toString('hex'), 'b/ping6 security.capability': cap.toString('hex') });
  });
});

describe('COPY: extended attributes', () => {
  it('only security.capability reaches the layer (as containerd writes layers)', async () => {
    const { layerFromEntries } = await import('../../src/image/layer.js');
    const { appendLayers, emptyImage } = await import('../../src/image/image.js');
    const layer = await layerFromEntries([
      { path: 'f', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 5, data: 'f', xattrs: { 'security.capability': 'cap', 'user.note': 'n', 'security.selinux': 'ctx' } },
    ]);
    const src = (await layoutSource(appendLayers(emptyImage(), { layer }), 'x')).source as Extract<BaseSource, { kind: 'image' }>;
    const b = await build([copyStep(0, [{ kind: 'image', ref: src.ref, digest: src.digest, origin: src.origin, path: '/f' }], '/g')], { scratch: true });
    const { readTar } = await import('../../src/image/tar.js');
    const seen: string[] = [];
    for await (const e of readTar(await b.image.layers[0]!.openUncompressed())) seen.push(`${e.path} ${Object.keys(e.xattrs).join(',')}`);
    expect(seen).toEqual(['g security.capability']);
  });
});

describe('COPY: symlinks of the image inside the destination tree', () => {
  it('security: a file copied onto a symlink of the image replaces the link, never writes through it', async () => {
    const c = await makeContext({ 'tree/etc-link': 'a file now' });
    const b = await build([copy(['tree'], '/')], { context: c });
    expect(await b.added()).toEqual([[`f 0644 0:0 etc-link ${sha('a file now')}`]]);
    expect(await b.tree('etc/passwd')).toEqual([expect.stringMatching(/^f 0644 0:0 etc\/passwd /)]);
  });

  it('a copied directory onto a symlink of the image fails, as fsutil does (no write through the link)', async () => {
    const c = await makeContext({ 'tree/bin/extra': 'x' });
    await expect(build([copy(['tree'], '/')], { context: c })).rejects.toMatchObject({ code: 'EXEC_COPY_CONFLICT', message: 'cannot copy to non-directory: /bin' });
  });
});
