/**
 * BuildKit's own parser golden tests (../shared/conformance), run through the compiled CLI as
 * a user would: `build-image parse --format buildkit FILE` must print the `result` file byte
 * for byte; the negative cases must fail with a located error; the line-number case must give
 * BuildKit's ranges; every real-world Dockerfile of the corpus must parse.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../src/syntax/parse.js';
import { runCli } from '../support/cli.js';
import { shared } from '../support/shared.js';

function cases(dir: string): string[] {
  return readdirSync(dir)
    .filter((c) => statSync(join(dir, c)).isDirectory())
    .sort();
}

describe('buildkit-parser golden cases through `build-image parse --format buildkit`', () => {
  const dir = shared('conformance', 'buildkit-parser');
  const all = cases(dir);

  it('has all 33 cases', () => {
    expect(all).toHaveLength(33);
  });

  it.each(all)('%s', async (name) => {
    const expected = readFileSync(join(dir, name, 'result'), 'utf8').replace(/\r\n/g, '\n');
    const { code, stdout, stderr } = await runCli(['parse', '--format', 'buildkit', join(dir, name, 'Dockerfile')]);
    expect(stderr).toBe('');
    expect(stdout).toBe(expected);
    expect(code).toBe(0);
  });
});

describe('buildkit-parser-negative cases fail with a located error', () => {
  const dir = shared('conformance', 'buildkit-parser-negative');
  // The error each case must give: code, line and column of the range start, message.
  const expected: Record<string, [string, number, number, string]> = {
    empty_dockerfile: ['PARSE_NO_INSTRUCTIONS', 1, 1, 'file with no instructions'],
    env_no_value: ['PARSE_MISSING_VALUE', 3, 1, 'ENV must have two arguments'],
    only_comments: ['PARSE_NO_INSTRUCTIONS', 3, 1, 'file with no instructions'],
    'shykes-nested-json': [
      'PARSE_JSON_NOT_STRINGS',
      1,
      1,
      'when using JSON array syntax, arrays must be comprised of strings only',
    ],
  };

  it('covers every case', () => {
    expect(cases(dir)).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', async (name, [code, line, column, message]) => {
    const file = join(dir, name, 'Dockerfile');
    const result = parseDockerfile(readFileSync(file, 'utf8'), { file });
    expect(result.errors.map((e) => [e.code, e.range?.start.line, e.range?.start.column, e.message])).toEqual([
      [code, line, column, message],
    ]);
    // And the CLI exits 1 printing the code and the location.
    const failure = await runCli(['parse', '--format', 'buildkit', file]);
    expect(failure.code).toBe(1);
    expect(failure.stdout).toBe('');
    expect(failure.stderr).toContain(`error ${code}: ${message}`);
    expect(failure.stderr).toContain(`${file}:${line}:${column} (line ${line}, column ${column})`);
  });
});

describe('buildkit-parser-lines', () => {
  it('gives BuildKit line ranges: root 5-31, children 5-5, 11-12, 17-31', () => {
    const ast = parseDockerfile(readFileSync(shared('conformance', 'buildkit-parser-lines', 'Dockerfile'), 'utf8')).ast!;
    expect([ast.range.start.line, ast.range.end.line]).toEqual([5, 31]);
    expect(ast.instructions.map((i) => [i.keyword, i.range.start.line, i.range.end.line])).toEqual([
      ['FROM', 5, 5],
      ['ENV', 11, 12],
      ['RUN', 17, 31],
    ]);
  });
});

describe('real-world corpus', () => {
  const dir = shared('corpus', 'real-world');
  const files = readdirSync(dir)
    .filter((f) => !f.endsWith('.md') && !f.endsWith('.tsv') && statSync(join(dir, f)).isFile())
    .sort();

  it('has all 147 files', () => {
    expect(files).toHaveLength(147);
  });

  it.each(files)('%s parses', (name) => {
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    const result = parseDockerfile(text, { file });
    expect(result.errors.map((e) => e.format())).toEqual([]);
    expect(result.ast!.instructions.length).toBeGreaterThan(0);
  });
});
