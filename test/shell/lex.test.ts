import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { envFrom, processWord, processWords, ShellLexer, type ShellEnv } from '../../src/shell/index.js';
import { shared } from '../support/shared.js';
import {
  colonCases,
  errorCases,
  lexingCases,
  matchCases,
  optionCases,
  patternCases,
  wordsCases,
  type ErrorCase,
  type WordCase,
} from './cases.js';

// ---------------------------------------------------------------------------------------------
// BuildKit's vector files, read as FORMAT.md in their folder describes.

function vectorLines(name: string): { line: number; text: string }[] {
  const text = readFileSync(shared('conformance', 'buildkit-shell', name), 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // Go's line scanner yields no empty last line
  return lines.map((raw, i) => ({ line: i + 1, text: raw.replace(/\r$/, '') }));
}

interface EnvVarRow {
  line: number;
  platform: string;
  input: string;
  expected: string;
}

function readEnvVarTest(): EnvVarRow[] {
  const rows: EnvVarRow[] = [];
  for (const { line, text } of vectorLines('envVarTest')) {
    if (text.startsWith('#')) continue;
    const trimmed = text.trim();
    if (trimmed === '') continue;
    const fields = trimmed.split('|');
    if (fields.length !== 3) throw new Error(`envVarTest line ${line}: expected 3 fields, got ${fields.length}`);
    const [platform, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
    if (!['A', 'U', 'W'].includes(platform)) throw new Error(`envVarTest line ${line}: bad platform ${platform}`);
    rows.push({ line, platform, input, expected });
  }
  return rows;
}

interface WordsRow {
  line: number;
  input: string;
  env: [string, string][];
  expected: string[];
}

function readWordsTest(): WordsRow[] {
  const rows: WordsRow[] = [];
  let env: [string, string][] = [];
  for (const { line, text } of vectorLines('wordsTest')) {
    if (text.startsWith('#')) continue;
    if (text.startsWith('ENV ')) {
      const rest = text.slice(3).replace(/^ +/, '');
      const eq = rest.indexOf('=');
      env = [...env, eq === -1 ? [rest, ''] : [rest.slice(0, eq), rest.slice(eq + 1)]];
      continue;
    }
    const fields = text.split('|');
    if (fields.length !== 2) throw new Error(`wordsTest line ${line}: expected exactly one |`);
    rows.push({ line, input: fields[0]!.trim(), env, expected: fields[1]!.replace(/^ +/, '').split(',') });
  }
  return rows;
}

const envVarRows = readEnvVarTest();
const wordsRows = readWordsTest();
const VECTOR_ENV = envFrom([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['NULL', ''],
]);

/** `it.each` rows titled in full (`$name` in a title is cut at 40 characters). */
function titled<T extends { name: string; word: string }>(cases: T[]): [string, T][] {
  return cases.map((c) => [`${c.name}: ${c.word}`, c]);
}

/** Runs `fn` and returns the BuildImageError it throws; fails the test if it does not throw one. */
function thrown(fn: () => unknown): BuildImageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BuildImageError);
    return error as BuildImageError;
  }
  throw new Error('expected an error, but the call succeeded');
}

describe('BuildKit envVarTest vectors (processWord)', () => {
  it('reads all 230 rows: 226 A, 2 U, 2 W', () => {
    const count = (p: string) => envVarRows.filter((r) => r.platform === p).length;
    expect([envVarRows.length, count('A'), count('U'), count('W')]).toEqual([230, 226, 2, 2]);
  });

  const linux = envVarRows.filter((r) => r.platform !== 'W');

  it.each(linux.filter((r) => r.expected !== 'error').map((r) => [`line ${r.line}: ${r.input} → ${r.expected}`, r] as const))('%s', (_, row) => {
    expect(processWord(row.input, VECTOR_ENV).result).toBe(row.expected);
  });

  it.each(linux.filter((r) => r.expected === 'error').map((r) => [`line ${r.line}: ${r.input} fails`, r] as const))('%s', (_, row) => {
    const error = thrown(() => processWord(row.input, VECTOR_ENV));
    expect(error.code).toMatch(/^SHELL_(SYNTAX|UNSET_REQUIRED)$/);
    expect(error.message.startsWith(`failed to process ${JSON.stringify(row.input)}: `)).toBe(true);
  });
});

describe('BuildKit wordsTest vectors (processWords)', () => {
  it('reads all rows', () => {
    expect(wordsRows.length).toBe(24);
    expect(wordsRows.at(-1)!.env.map(([k]) => k)).toEqual(['hi', 'space', 'leading', 'trailing']);
  });

  it.each(wordsRows.map((r) => [`line ${r.line}: ${r.input} → ${r.expected.join(',')}`, r] as const))('%s', (_, row) => {
    let result: string[];
    try {
      result = processWords(row.input, envFrom(row.env));
    } catch (error) {
      expect(error).toBeInstanceOf(BuildImageError);
      result = ['error'];
    }
    expect(result).toEqual(row.expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Our own tables (cases.ts), checked against upstream lex.go.

function checkWord(c: WordCase): void {
  const r = processWord(c.word, envFrom(c.env ?? {}), c.options);
  expect(r.result).toBe(c.expected);
  if (c.matched !== undefined) expect([...r.matched].sort()).toEqual(c.matched);
  if (c.unmatched !== undefined) expect([...r.unmatched].sort()).toEqual(c.unmatched);
}

describe('pattern operators # ## % %% / //', () => {
  it.each(titled(patternCases))('%s', (_, c) => checkWord(c));
});

describe('with and without colon: empty versus unset', () => {
  it.each(titled(colonCases))('%s', (_, c) => checkWord(c));
});

describe('quotes, escapes, names', () => {
  it.each(titled(lexingCases))('%s', (_, c) => checkWord(c));
});

describe('options', () => {
  it.each(titled(optionCases))('%s', (_, c) => checkWord(c));
});

describe('matched and unmatched names', () => {
  it.each(titled(matchCases))('%s', (_, c) => checkWord(c));

  it('processWords does not need the sets and processWord always returns both', () => {
    const r = processWord('abc', envFrom({}));
    expect(r).toEqual({ result: 'abc', matched: new Set(), unmatched: new Set() });
  });
});

describe('word splitting', () => {
  it.each(titled(wordsCases))('%s', (_, c) => {
    expect(processWords(c.word, envFrom(c.env ?? {}), c.options)).toEqual(c.expected);
  });
});

describe('errors', () => {
  it.each(titled(errorCases))('%s', (_, c: ErrorCase) => {
    const env = envFrom(c.env ?? {});
    const error = thrown(() => (c.words ? processWords(c.word, env, c.options) : processWord(c.word, env, c.options)));
    expect({ code: error.code, message: error.message }).toEqual({ code: c.code, message: c.message });
    expect(error.range).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// API surface

describe('ShellLexer', () => {
  const wordTables = [...patternCases, ...colonCases, ...lexingCases, ...optionCases, ...matchCases];

  it('gives the same results as the functions for every table case', () => {
    const lexers = new Map<string, ShellLexer>();
    for (const c of wordTables) {
      const key = JSON.stringify(c.options ?? {});
      if (!lexers.has(key)) lexers.set(key, new ShellLexer(c.options));
      const lexer = lexers.get(key)!;
      const env = envFrom(c.env ?? {});
      expect(lexer.processWord(c.word, env)).toEqual(processWord(c.word, env, c.options));
    }
    for (const c of wordsCases) {
      const env = envFrom(c.env ?? {});
      expect(new ShellLexer(c.options).processWords(c.word, env)).toEqual(c.expected);
    }
  });

  it('is reusable after an error and across environments', () => {
    const lexer = new ShellLexer({ escape: '`' });
    expect(lexer.processWord('a`$X$X', envFrom({ X: '1' })).result).toBe('a$X1');
    expect(() => lexer.processWord('"open', envFrom({}))).toThrow(BuildImageError);
    const second = lexer.processWord('$X $Y', envFrom({ X: '2' }));
    expect(second).toEqual({ result: '2 ', matched: new Set(['X']), unmatched: new Set(['Y']) });
    expect(lexer.processWords('a$X b', envFrom({ X: ' c' }))).toEqual(['a', 'c', 'b']);
  });

  it('rejects an escape character other than \\ and `', () => {
    const error = thrown(() => new ShellLexer({ escape: '#' as '\\' }));
    expect(error.code).toBe('SHELL_SYNTAX');
    expect(error.message).toBe('invalid escape character "#": use "\\" or "`"');
  });
});

describe('envFrom', () => {
  const read = (env: ShellEnv, names: string[]) => names.map((n) => env.get(n));

  it('reads a Map and snapshots it', () => {
    const map = new Map([['A', '1']]);
    const env = envFrom(map);
    map.set('B', '2');
    expect(read(env, ['A', 'B'])).toEqual(['1', undefined]);
    expect([...env.keys()]).toEqual(['A']);
  });

  it('reads own properties of a record only', () => {
    const env = envFrom({ A: '1', EMPTY: '' });
    expect(read(env, ['A', 'EMPTY', 'constructor', 'toString', '__proto__', 'hasOwnProperty'])).toEqual([
      '1',
      '',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(processWord('${constructor:-unset}', env).result).toBe('unset');
  });

  it('reads pairs, a later pair winning', () => {
    const env = envFrom([
      ['car', 'hat'],
      ['foo', 'bar'],
      ['car', 'bike'],
    ]);
    expect(read(env, ['car', 'foo'])).toEqual(['bike', 'bar']);
    expect([...env.keys()]).toEqual(['car', 'foo']);
  });

  it('compares names case-sensitively (BuildKit on Linux)', () => {
    expect(processWord('he$pwd.', VECTOR_ENV).result).toBe('he.');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

describe('properties', () => {
  const anyText = fc.string({ unit: 'binary', maxLength: 40 });
  const none = envFrom({});

  it('single quotes keep any text without a single quote', () => {
    fc.assert(
      fc.property(
        anyText.filter((s) => !s.includes("'")),
        (s) => processWord(`'${s}'`, none).result === s,
      ),
    );
  });

  it('escaping every character gives the text back, as one word', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const escaped = Array.from(s, (ch) => '\\' + ch).join('');
        const words = processWords(escaped, none);
        return processWord(escaped, none).result === s && JSON.stringify(words) === JSON.stringify(s === '' ? [] : [s]);
      }),
    );
  });

  it('a variable expands to its exact value, and in quotes to one word', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        const env = envFrom({ X: value });
        const words = processWords('"${X}"', env);
        return processWord('$X', env).result === value && JSON.stringify(words) === JSON.stringify(value === '' ? [] : [value]);
      }),
    );
  });

  it('any input either expands or fails with a SHELL_ error', () => {
    const piece = fc.constantFrom('$', '${', '}', ':', '-', '+', '?', '#', '%', '/', '\\', '`', "'", '"', '<', ' ', '*', 'A', 'B', '1', '@', '한', '=', 'x');
    const word = fc.array(piece, { maxLength: 16 }).map((p) => p.join(''));
    const env = envFrom({ A: 'a b', B: '' });
    fc.assert(
      fc.property(word, fc.boolean(), fc.boolean(), (w, rawQuotes, skipUnsetEnv) => {
        for (const run of [() => processWord(w, env, { rawQuotes, skipUnsetEnv }), () => processWords(w, env, { rawQuotes, skipUnsetEnv })]) {
          try {
            run();
          } catch (error) {
            if (!(error instanceof BuildImageError) || !/^SHELL_(SYNTAX|UNSET_REQUIRED)$/.test(error.code)) return false;
          }
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
