/**
 * Errors as the CLI prints them: the reason, the code frame (Dockerfile lines with a marker)
 * and a hint — a COPY source excluded by .dockerignore names the pattern and its line, an
 * unknown `--from` stage lists the stages, a failing RUN shows its exit code and last lines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busybox, buildWith, normalisePlain, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-errors');
const cache = `${tmp.path}/cache`;
afterAll(() => tmp.cleanup());

let bb: Awaited<ReturnType<typeof busybox>>;
beforeAll(async () => {
  bb = await busybox();
});

describe('a COPY source excluded by .dockerignore', () => {
  it('says so, with the pattern, its line, the code frame and how to send the file', async () => {
    const ctx = writeContext(tmp.path, 'ignored', {
      Dockerfile: 'FROM scratch\nCOPY app.txt /app/\nCOPY secret.key /app/\n',
      '.dockerignore': '# keys stay home\n*.log\nsecret*.key\n',
      'app.txt': 'app\n',
      'secret.key': 'k\n',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', '.'], { cwd: ctx });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'error CONTEXT_SOURCE_NOT_FOUND: "/secret.key": not found: excluded by .dockerignore pattern `secret*.key` (line 3)',
        '  at Dockerfile:3:1 (line 3, column 1)',
        '  2 | COPY app.txt /app/',
        '> 3 | COPY secret.key /app/',
        '    | ^^^^^^^^^^^^^^^^^^^^^',
        'hint: remove that pattern, or add an exception "!secret.key" after it, to send this path to the build',
        '',
      ].join('\n'),
    });
  });

  it('names a directory pattern that excludes a file below it', async () => {
    const ctx = writeContext(tmp.path, 'ignored-dir', {
      Dockerfile: 'FROM scratch\nCOPY build/out.txt /\n',
      '.dockerignore': 'node_modules\nbuild\n',
      'build/out.txt': 'x\n',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error CONTEXT_SOURCE_NOT_FOUND: "/build/out.txt": not found: excluded by .dockerignore pattern `build` (line 2)');
    expect(r.stderr).toContain('> 2 | COPY build/out.txt /\n');
    expect(r.stderr).toContain('hint: remove that pattern, or add an exception "!build" after it, to send this path to the build\n');
  });

  it('names Dockerfile.dockerignore when that is the file in use (-f)', async () => {
    const ctx = writeContext(tmp.path, 'ignored-df', {
      'docker/Dockerfile': 'FROM scratch\nCOPY app.txt /\n',
      'docker/Dockerfile.dockerignore': '**/app.txt\n',
      '.dockerignore': '# not used: docker/Dockerfile.dockerignore wins\n',
      'app.txt': 'app\n',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', '-f', 'docker/Dockerfile', '.'], { cwd: ctx });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'error CONTEXT_SOURCE_NOT_FOUND: "/app.txt": not found: excluded by Dockerfile.dockerignore pattern `**/app.txt` (line 1)',
        '  at docker/Dockerfile:2:1 (line 2, column 1)',
        '  1 | FROM scratch',
        '> 2 | COPY app.txt /',
        '    | ^^^^^^^^^^^^^^',
        'hint: remove that pattern, or add an exception "!app.txt" after it, to send this path to the build',
        '',
      ].join('\n'),
    );
  });

  it('an exception after the pattern sends the file (the build succeeds)', async () => {
    const ctx = writeContext(tmp.path, 'ignored-exception', {
      Dockerfile: 'FROM scratch\nCOPY public.key /\n',
      '.dockerignore': '*.key\n!public.key\n',
      'public.key': 'p\n',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', ctx]);
    expect(r.code).toBe(0);
  });

  it('a file that is simply missing gets no .dockerignore hint', async () => {
    const ctx = writeContext(tmp.path, 'missing', {
      Dockerfile: 'FROM scratch\nCOPY nothere.txt /\n',
      '.dockerignore': '*.log\n',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', '.'], { cwd: ctx });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'error CONTEXT_SOURCE_NOT_FOUND: "/nothere.txt": not found in the build context (source "nothere.txt")',
        '  at Dockerfile:2:1 (line 2, column 1)',
        '  1 | FROM scratch',
        '> 2 | COPY nothere.txt /',
        '    | ^^^^^^^^^^^^^^^^^^',
        '',
      ].join('\n'),
    );
  });
});

describe('an unknown stage in COPY --from', () => {
  const dockerfile = 'FROM busybox AS build\nRUN echo built > /out\nFROM scratch AS test\nFROM scratch\nCOPY --from=Buid /out /\n';

  it('lists the stages and suggests the closest, with the code frame on the flag', async () => {
    const ctx = writeContext(tmp.path, 'from', { Dockerfile: dockerfile });
    const r = await buildWith(cache, ['--progress', 'quiet', ...bb.flags, '.'], { cwd: ctx });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'error PLAN_UNKNOWN_STAGE: --from=Buid: no stage, build context or image of that name',
        '  at Dockerfile:5:6 (line 5, column 6)',
        '  4 | FROM scratch',
        '> 5 | COPY --from=Buid /out /',
        '    |      ^^^^^^^^^^^',
        'hint: did you mean build? stages: build, test',
        '',
      ].join('\n'),
    });
  });

  it('a name that is not close to any stage still lists them', async () => {
    const ctx = writeContext(tmp.path, 'from-far', { Dockerfile: dockerfile.replace('Buid', 'Compile') });
    const r = await buildWith(cache, ['--progress', 'quiet', ...bb.flags, ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').at(-2)).toBe('hint: stages: build, test');
  });

  it('plan reports it the same way', async () => {
    const ctx = writeContext(tmp.path, 'from-plan', { Dockerfile: dockerfile });
    const { runCli } = await import('../support/cli.js');
    const r = await runCli(['plan', '--cache-dir', cache, ...bb.flags, ctx]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('hint: did you mean build? stages: build, test\n');
  });
});

describe('a failing RUN', () => {
  it('shows its output while it runs, then the exit code, the last output lines and the code frame', async () => {
    const ctx = writeContext(tmp.path, 'run-fails', {
      Dockerfile: 'FROM busybox\nWORKDIR /w\nRUN for i in $(seq 1 12); do echo line $i; done; echo oops; exit 3\n',
    });
    const r = await buildWith(cache, ['--progress', 'plain', ...bb.flags, '.'], { cwd: ctx });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const run = 'RUN for i in $(seq 1 12); do echo line $i; done; echo oops; exit 3';
    const reason = `${run}: process "/bin/sh -c for i in $(seq 1 12); do echo line $i; done; echo oops; exit 3" did not complete successfully: exit code: 3`;
    expect(normalisePlain(r.stderr)).toBe(
      [
        '#1 [1/3] FROM busybox@<digest>',
        '#1 DONE #s',
        '#2 [2/3] WORKDIR /w',
        '#2 DONE #s',
        `#3 [3/3] ${run}`,
        ...Array.from({ length: 12 }, (_, i) => `#3 # line ${i + 1}`),
        '#3 # oops',
        `#3 ERROR: ${reason}`,
        `error RUN_FAILED: ${reason}`,
        // The last 10 lines of the step's output. (All on stdout: stdout and stderr come through
        // separate pipes, so their relative order is not something to pin.)
        ...[4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => `  line ${i}`),
        '  oops',
        '  at Dockerfile:3:1 (line 3, column 1)',
        '  2 | WORKDIR /w',
        `> 3 | ${run}`,
        `    | ${'^'.repeat(run.length)}`,
        '',
      ].join('\n'),
    );
  });

  it('a failure in one stage stops the build: nothing is stored, no iidfile is written', async () => {
    const ctx = writeContext(tmp.path, 'run-fails-2', {
      Dockerfile: 'FROM busybox AS a\nRUN echo a > /a\nFROM busybox AS b\nRUN false\nFROM scratch\nCOPY --from=a /a /\nCOPY --from=b /etc/passwd /\n',
    });
    const { existsSync } = await import('node:fs');
    const r = await buildWith(cache, ['--progress', 'quiet', '--iidfile', `${ctx}/iid`, '-t', 'never:stored', ...bb.flags, ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error RUN_FAILED: RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1');
    expect(r.stderr).toContain('> 4 | RUN false\n');
    expect(existsSync(`${ctx}/iid`)).toBe(false);
    const { readFileSync } = await import('node:fs');
    const index = existsSync(`${cache}/index.json`) ? readFileSync(`${cache}/index.json`, 'utf8') : '';
    expect(index).not.toContain('never:stored');
  });
});
