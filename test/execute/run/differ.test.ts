import { chmod, link, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changeEntries, collapseOpaque, walkChanges } from '../../../src/execute/run/differ.js';
import { DirView } from '../../../src/execute/run/fsview.js';
import { findStubs, removeStubs } from '../../../src/execute/run/stubs.js';
import { cpTree } from '../../../src/execute/run/copytree.js';
import { tempDir } from './support.js';

async function tree(root: string): Promise<void> {
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/a'), 'a');
  await writeFile(join(root, 'etc/b'), 'b');
  await mkdir(join(root, 'dir'));
  await writeFile(join(root, 'dir/x'), 'x');
  await writeFile(join(root, 'dir/y'), 'y');
  await writeFile(join(root, 'same'), 'same');
  await symlink('etc/a', join(root, 'ln'));
  // Unpacked from a tar: whole-second mtimes.
  for (const p of ['etc/a', 'etc/b', 'dir/x', 'dir/y', 'same']) await utimes(join(root, p), 1000, 1000);
}

async function pair(): Promise<{ base: string; next: string }> {
  const base = await tempDir('base');
  await tree(base);
  const next = await tempDir('next');
  await cpTree(base, next);
  return { base, next };
}

describe('the walking differ (continuity double walk) and the ChangeWriter', () => {
  it('finds adds, modifications and deletions, skips what only looks touched', async () => {
    const { base, next } = await pair();
    await writeFile(join(next, 'etc/a'), 'A'); // same size, mtime moves
    await rm(join(next, 'etc/b'));
    await writeFile(join(next, 'etc/c'), 'c');
    await chmod(join(next, 'same'), 0o644); // unchanged mode: nothing
    await utimes(join(next, 'same'), 1000, 1000);
    await rm(join(next, 'ln'));
    await symlink('etc/c', join(next, 'ln'));
    const changes = await walkChanges(new DirView(base), new DirView(next));
    // A directory whose only change is its mtime is not a change (sameDirent ignores it).
    expect(changes).toEqual([
      { kind: 'modify', path: 'etc/a' },
      { kind: 'delete', path: 'etc/b' },
      { kind: 'add', path: 'etc/c' },
      { kind: 'modify', path: 'ln' },
    ]);
  });

  it('compares content when both mtimes are whole seconds (a copy-up that changed nothing)', async () => {
    const { base, next } = await pair();
    await writeFile(join(next, 'same'), 'SAME');
    await utimes(join(next, 'same'), 1000, 1000);
    expect(await walkChanges(new DirView(base), new DirView(next))).toEqual([{ kind: 'modify', path: 'same' }]);
  });

  it('deleting every entry of a directory becomes one opaque whiteout; some entries stay single whiteouts', async () => {
    const { base, next } = await pair();
    await rm(join(next, 'dir'), { recursive: true });
    await mkdir(join(next, 'dir'));
    await writeFile(join(next, 'dir/new'), 'n');
    await rm(join(next, 'etc/a'));
    const b = new DirView(base);
    const changes = await collapseOpaque(await walkChanges(b, new DirView(next)), b);
    expect(changes).toEqual([
      { kind: 'add', path: 'dir/new' },
      { kind: 'delete', path: 'etc/a' },
      { kind: 'opaque', path: 'dir' },
    ]);
    const entries = await changeEntries(changes, new DirView(next));
    expect(entries.map((e) => `${e.type} ${e.path}${e.linkname ? ` ${e.linkname}` : ''}`)).toEqual([
      'dir dir',
      'file dir/.wh..wh..opq',
      'file dir/new',
      'dir etc',
      'file etc/.wh.a',
    ]);
  });

  it('writes a file with several links once, then hard links to the first name; parents are included', async () => {
    const { base, next } = await pair();
    await mkdir(join(next, 'deep/er'), { recursive: true });
    await writeFile(join(next, 'deep/er/z'), 'z');
    await link(join(next, 'deep/er/z'), join(next, 'deep/a-link'));
    const changes = (await walkChanges(new DirView(base), new DirView(next))).filter((c) => c.path !== 'deep' && c.path !== 'deep/er');
    const entries = await changeEntries(changes, new DirView(next));
    expect(entries.map((e) => `${e.type} ${e.path}${e.linkname ? ` => ${e.linkname}` : ''}`)).toEqual([
      'dir deep',
      'file deep/a-link',
      'dir deep/er',
      'hardlink deep/er/z => deep/a-link',
    ]);
  });
});

describe('mount stubs (executor/stubs.go)', () => {
  it('records missing targets and parents, deepest first, and removes only the empty ones', async () => {
    const root = await tempDir('stubs');
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/hosts'), 'mine');
    await symlink('/real', join(root, 'link'));
    const view = new DirView(root);
    const stubs = await findStubs(view, ['/run/secrets/token', '/link/x', '/etc']);
    expect(stubs).toEqual(['etc/resolv.conf', 'run/secrets/token', 'run/secrets', 'run', 'real/x', 'real']);
    // What a runtime would have made, and what the step wrote.
    await writeFile(join(root, 'etc/resolv.conf'), '');
    await mkdir(join(root, 'run/secrets'), { recursive: true });
    await writeFile(join(root, 'run/secrets/token'), '');
    await mkdir(join(root, 'real/x'), { recursive: true });
    await writeFile(join(root, 'real/x/kept'), 'written by the step');
    await utimes(join(root, 'etc'), 5000, 5000);
    await removeStubs(root, stubs);
    const { readdirSync, statSync } = await import('node:fs');
    expect(readdirSync(root).sort()).toEqual(['etc', 'link', 'real']);
    expect(readdirSync(join(root, 'etc'))).toEqual(['hosts']);
    expect(readdirSync(join(root, 'real/x'))).toEqual(['kept']);
    expect(statSync(join(root, 'etc')).mtimeMs).toBe(5_000_000);
  });
});
