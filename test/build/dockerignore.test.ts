/**
 * .dockerignore end to end (moby/patternmatcher + fsutil semantics, checked against
 * `docker build`): patterns anchored at the context root, `**`, `!` exceptions (also inside an
 * excluded directory), a directory excluded with everything below it, `<Dockerfile>.dockerignore`
 * taking precedence over the root file, the Dockerfile read even when it is ignored, and the
 * error for a COPY source that the ignore file excludes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { imageTree } from '../support/tree.js';
import { builder, sha, workspace } from './helpers.js';

const ws = workspace('ignore');
afterAll(() => ws.cleanup());
const build = builder(ws);
const E = sha('');

describe('.dockerignore', () => {
  it('anchors patterns at the root; ** spans directories; ! re-includes; a dir takes its contents; the Dockerfile is still read', async () => {
    const r = await build({
      Dockerfile: 'FROM scratch\nCOPY . /c/\n',
      '.dockerignore': [
        '\ufeff# a comment (after a BOM)',
        '*.md',
        '!keep.md',
        '**/*.log',
        'secret/',
        '/docs/**',
        '!docs/public/**',
        ' #hash.txt', // `#` starts a comment only in column 1; the line is trimmed
        'Dockerfile',
        'build/tmp',
        '',
      ].join('\n'),
      'a.md': '',
      'keep.md': 'keep',
      'sub/a.md': 'nested md stays: *.md is anchored',
      'sub/x.log': '',
      'sub/deep/y.log': '',
      'x.log': '',
      'secret/s': '',
      'secret/inner/t': '',
      'docs/p': '',
      'docs/public/q': '',
      'docs/public/deep/r': '',
      'build/tmp/o': '',
      'build/keep': '',
      '#hash.txt': '',
    });
    expect(await imageTree(r.image)).toEqual([
      'd 0755 0:0 c',
      `f 0644 0:0 c/.dockerignore ${sha(readIgnore(build.lastContext()))}`,
      'd 0755 0:0 c/build',
      `f 0644 0:0 c/build/keep ${E}`,
      'd 0755 0:0 c/docs',
      'd 0755 0:0 c/docs/public',
      'd 0755 0:0 c/docs/public/deep',
      `f 0644 0:0 c/docs/public/deep/r ${E}`,
      `f 0644 0:0 c/docs/public/q ${E}`,
      `f 0644 0:0 c/keep.md ${sha('keep')}`,
      'd 0755 0:0 c/sub',
      `f 0644 0:0 c/sub/a.md ${sha('nested md stays: *.md is anchored')}`,
      'd 0755 0:0 c/sub/deep', // kept, empty: the directory itself matches no pattern
    ]);
  });

  it('<Dockerfile>.dockerignore beside the Dockerfile wins over the root .dockerignore', async () => {
    const r = await build(
      {
        'build.Dockerfile': 'FROM scratch\nCOPY . /c/\n',
        'build.Dockerfile.dockerignore': 'a\n*.Dockerfile*\n',
        '.dockerignore': 'b\n',
        a: 'a',
        b: 'b',
      },
      (context) => ({ file: join(context, 'build.Dockerfile') }),
    );
    expect(await imageTree(r.image)).toEqual(['d 0755 0:0 c', `f 0644 0:0 c/.dockerignore ${sha('b\n')}`, `f 0644 0:0 c/b ${sha('b')}`]);
  });

  it('a COPY source excluded by .dockerignore fails naming the pattern, its line and the Dockerfile line', async () => {
    const err = (await build({
      Dockerfile: 'FROM scratch\nCOPY a /a\nCOPY conf/app.ini /etc/app.ini\n',
      '.dockerignore': '# config stays local\n\nconf\n',
      a: 'a',
      'conf/app.ini': '[app]',
    }).catch((e: unknown) => e)) as BuildImageError;
    expect(err).toBeInstanceOf(BuildImageError);
    expect({ code: err.code, message: err.message, file: err.file, line: err.range?.start.line, suggestion: err.suggestion }).toEqual({
      code: 'CONTEXT_SOURCE_NOT_FOUND',
      message: '"/conf/app.ini": not found: excluded by .dockerignore pattern `conf` (line 3)',
      file: join(build.lastContext(), 'Dockerfile'),
      line: 3,
      suggestion: 'remove that pattern, or add an exception "!conf" after it, to send this path to the build',
    });
  });

  it('a wildcard source skips ignored files (and matching nothing is fine)', async () => {
    const r = await build({
      Dockerfile: 'FROM scratch\nCOPY *.txt /t/\nCOPY *.none /n/\n',
      '.dockerignore': 'b.txt\n',
      'a.txt': 'a',
      'b.txt': 'b',
    });
    // BuildKit's docopy returns before creating anything when a wildcard matches nothing.
    expect(await imageTree(r.image)).toEqual(['d 0755 0:0 t', `f 0644 0:0 t/a.txt ${sha('a')}`]);
  });
});

function readIgnore(dir: string): string {
  return readFileSync(join(dir, '.dockerignore'), 'utf8');
}
