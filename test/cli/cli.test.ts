/**
 * The CLI as users meet it: the compiled binary, its exit codes, its help, and its errors.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'build-image-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(name: string, dockerfile: string): string {
  const ctx = join(dir, name);
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
  return ctx;
}

describe('build-image CLI', () => {
  it('prints usage with --help and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage:\n  build-image [build] [options] CONTEXT');
    expect(r.stdout).toContain('build-image parse [options] [FILE]');
    expect(r.stdout).toContain('Exit codes: 0 success, 1 the Dockerfile or the build failed, 2 bad usage.');
  });

  it.each([['parse'], ['build']])('prints the options of `%s --help`', async (command) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-f, --file FILE/);
  });

  it('prints its version', async () => {
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: 'build-image 0.1.0\n', stderr: '' });
  });

  it('build: a typo in an instruction fails with file, line 2, the text and a suggestion', async () => {
    const ctx = context('typo', 'FROM scratch\nCOPPY a /a\n');
    const r = await runCli(['build', ctx]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'error INSTR_UNKNOWN_INSTRUCTION: unknown instruction: COPPY',
        `  at ${ctx}/Dockerfile:2:1 (line 2, column 1)`,
        '  1 | FROM scratch',
        '> 2 | COPPY a /a',
        '    | ^^^^^',
        'hint: did you mean COPY?',
        '',
      ].join('\n'),
    );
  });

  it('build is the default command: `build-image CONTEXT`', async () => {
    const ctx = context('default', 'FROM scratch\nCOPPY a /a\n');
    const r = await runCli([ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('hint: did you mean COPY?');
  });

  it('build reports every error of the file, with a count', async () => {
    const ctx = context('many', 'FROM scratch\nCOPY --form=x a /a\nEXPOSE\n');
    const r = await runCli(['build', '-f', join(ctx, 'Dockerfile'), ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error INSTR_UNKNOWN_FLAG: unknown flag: --form (did you mean --from?)');
    expect(r.stderr).toContain('hint: COPY accepts --chmod, --chown, --exclude, --from, --link, --parents');
    expect(r.stderr).toContain('error INSTR_ARGUMENTS: EXPOSE requires at least one argument');
    expect(r.stderr).toContain(`  at ${ctx}/Dockerfile:3:1 (line 3, column 1)`);
    expect(r.stderr.endsWith('2 errors\n')).toBe(true);
  });

  it('an unknown flag exits 2 with the closest flag', async () => {
    const r = await runCli(['build', '--fil', 'x', '.']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error CLI_UNKNOWN_FLAG: unknown flag: --fil for 'build'\nhint: did you mean --file?\n" });
  });

  it('an unknown command close to a known one exits 2 with a suggestion', async () => {
    const r = await runCli(['parze']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error CLI_UNKNOWN_COMMAND: unknown command "parze"\nhint: did you mean parse?\n' });
  });

  it('a missing Dockerfile exits 1 and says how to pass one', async () => {
    const r = await runCli(['parse', join(dir, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error CLI_FILE_NOT_FOUND: cannot read ${join(dir, 'nope')}: no such file\n  at ${join(dir, 'nope')}\nhint: pass the Dockerfile with -f FILE\n`,
    );
  });

  it('parse --format json prints the AST with ranges', async () => {
    const ctx = context('json', 'FROM alpine AS base\nRUN --mount=type=cache,target=/c \\\n  echo hi\n');
    const r = await runCli(['parse', '-f', join(ctx, 'Dockerfile')]);
    expect(r.code).toBe(0);
    const ast = JSON.parse(r.stdout);
    expect(ast.kind).toBe('dockerfile');
    expect(ast.instructions.map((i: { name: string }) => i.name)).toEqual(['from', 'run']);
    const run = ast.instructions[1];
    expect(run.original).toBe('RUN --mount=type=cache,target=/c   echo hi');
    expect(run.flags).toEqual([
      {
        kind: 'flag',
        text: '--mount=type=cache,target=/c',
        name: 'mount',
        value: 'type=cache,target=/c',
        range: { start: { line: 2, column: 5, offset: 24 }, end: { line: 2, column: 33, offset: 52 } },
      },
    ]);
    expect(run.args).toEqual([
      { kind: 'arg', value: 'echo hi', range: { start: { line: 3, column: 3, offset: 57 }, end: { line: 3, column: 10, offset: 64 } } },
    ]);
    expect(run.range).toEqual({ start: { line: 2, column: 1, offset: 20 }, end: { line: 3, column: 10, offset: 64 } });
  });

  it('parse reads the Dockerfile from stdin with -f -', async () => {
    const r = await runCli(['parse', '--format', 'buildkit', '-f', '-'], { input: 'from busybox\nCMD ["a", "b"]\n' });
    expect(r).toEqual({ code: 0, stdout: '(from "busybox")\n(cmd "a" "b")\n', stderr: '' });
  });

  it('parse rejects an unknown format with a suggestion', async () => {
    const r = await runCli(['parse', '--format', 'buildkti', 'Dockerfile']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error CLI_BAD_FLAG: unknown format "buildkti"\nhint: did you mean buildkit?\n' });
  });
});
