/**
 * The flag parser on its own: BuildKit's bflag_test.go (TestBuilderFlags), re-expressed from
 * shared/conformance/buildkit-instructions.md § "bflag_test.go", plus the messages of bflag.go.
 */
import { describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { Flags } from '../../src/instructions/flags.js';
import { errorOf, flagNode } from './helpers.js';

function flags(given: readonly string[], instruction = 'TEST'): Flags {
  return new Flags(given.map(flagNode), instruction, (code, message, flag, suggestion) =>
    new BuildImageError(code, message, { range: flag?.range, suggestion }),
  );
}

describe('Flags (bflag_test.go: TestBuilderFlags)', () => {
  it.each([[[]], [['--']]])('no flags declared, given %j → OK', (given) => {
    expect(() => flags(given).parse()).not.toThrow();
  });

  it('str1 (default "") and bool1 declared, none given → OK, neither used', () => {
    const f = flags([]);
    const str1 = f.string('str1');
    const bool1 = f.bool('bool1');
    f.parse();
    expect([str1(), bool1(), f.isUsed('str1'), f.isUsed('bool1'), f.usedNames()]).toEqual(['', false, false, false, []]);
  });

  it('str1 default HI, bool1 default false, none given → defaults, neither used', () => {
    const f = flags([]);
    const str1 = f.string('str1', 'HI');
    const bool1 = f.bool('bool1', false);
    f.parse();
    expect([str1(), bool1(), f.isUsed('str1'), f.isUsed('bool1')]).toEqual(['HI', false, false, false]);
  });

  it('a bool default can be true', () => {
    const f = flags([]);
    const b = f.bool('b', true);
    f.parse();
    expect(b()).toBe(true);
  });

  it.each([
    // [declared, given, expected values or an error]
    [['string:str1=HI'], ['--str1'], { error: ['INSTR_FLAG_VALUE', 'missing a value on flag: --str1'] }],
    [['string:str1=HI'], ['--str1='], { values: { str1: '' } }],
    [['string:str1=HI'], ['--str1=BYE'], { values: { str1: 'BYE' } }],
    [['string:str1'], ['--str1=a=b'], { values: { str1: 'a=b' } }], // the first `=` splits
    [['bool:bool1'], ['--bool1'], { values: { bool1: true } }],
    [['bool:bool1'], ['--bool1=true'], { values: { bool1: true } }],
    [['bool:bool1'], ['--bool1=false'], { values: { bool1: false } }],
    [['bool:bool1'], ['--bool1=TRUE'], { values: { bool1: true } }], // compared lowercased
    [['bool:bool1'], ['--bool1=False'], { values: { bool1: false } }],
    [['bool:bool1'], ['--bool1=false1'], { error: ['INSTR_FLAG_VALUE', 'expecting boolean value for flag --bool1, not: false1'] }],
    [['bool:bool1'], ['--bool1=1'], { error: ['INSTR_FLAG_VALUE', 'expecting boolean value for flag --bool1, not: 1'] }],
    [['bool:bool1'], ['--bool1='], { error: ['INSTR_FLAG_VALUE', 'missing a value on flag: --bool1'] }],
    [['bool:bool1'], ['--bool2'], { error: ['INSTR_UNKNOWN_FLAG', 'unknown flag: --bool2 (did you mean --bool1?)'] }],
    [['bool:bool1'], ['--zzzzzz'], { error: ['INSTR_UNKNOWN_FLAG', 'unknown flag: --zzzzzz'] }],
    [['string:str1=HI', 'bool:bool1'], ['--bool1', '--str1=BYE'], { values: { str1: 'BYE', bool1: true } }],
    [['string:str1'], ['--str1=a', '--str1=b'], { error: ['INSTR_DUPLICATE_FLAG', 'duplicate flag specified: --str1'] }],
    [['bool:bool1'], ['--bool1', '--bool1'], { error: ['INSTR_DUPLICATE_FLAG', 'duplicate flag specified: --bool1'] }],
    [['strings:s'], ['--s=a', '--s=b', '--s='], { values: { s: ['a', 'b', ''] } }],
    [['strings:s'], ['--s'], { error: ['INSTR_FLAG_VALUE', 'missing a value on flag: --s'] }],
    [['string:str1'], ['-str1=x'], { error: ['INSTR_BAD_FLAG', 'arg should start with -- : -str1=x'] }],
    // A bare `--` ends the flags: what follows is not read.
    [['string:str1'], ['--str1=x', '--', '--nope'], { values: { str1: 'x' } }],
    [['string:str1'], ['--', '--str1=x'], { values: { str1: '' } }],
    // Names are case-sensitive.
    [['string:from'], ['--FROM=x'], { error: ['INSTR_UNKNOWN_FLAG', 'unknown flag: --FROM'] }],
  ] as [string[], string[], { values?: Record<string, unknown>; error?: [string, string] }][])(
    'declared %j, given %j',
    (declared, given, expected) => {
      const f = flags(given);
      const getters: Record<string, () => unknown> = {};
      for (const d of declared) {
        const [type, rest] = d.split(':') as [string, string];
        const [name, def] = rest.split('=') as [string, string | undefined];
        getters[name] = type === 'bool' ? f.bool(name) : type === 'string' ? f.string(name, def ?? '') : f.strings(name);
      }
      if (expected.error !== undefined) {
        const e = errorOf(() => f.parse());
        expect([e.code, e.message]).toEqual(expected.error);
        return;
      }
      f.parse();
      expect(Object.fromEntries(Object.entries(expected.values!).map(([k]) => [k, getters[k]!()]))).toEqual(expected.values);
    },
  );

  it('used flags: exactly bool2..bool5, str2..str4, even when set to the default or to false', () => {
    const f = flags(['--bool2=false', '--bool3', '--bool4=true', '--bool5', '--str2= ', '--str3=def3', '--str4=my-val']);
    f.bool('bool1', false);
    f.bool('bool2', false);
    f.bool('bool3', false);
    f.bool('bool4', true);
    f.bool('bool5', true);
    f.string('str1', '');
    const str2 = f.string('str2', '');
    f.string('str3', 'def3');
    f.string('str4', 'def4');
    f.parse();
    expect([...f.usedNames()].sort()).toEqual(['bool2', 'bool3', 'bool4', 'bool5', 'str2', 'str3', 'str4']);
    // In the order given (BuildKit's map has no order; ours keeps the user's).
    expect(f.usedNames()).toEqual(['bool2', 'bool3', 'bool4', 'bool5', 'str2', 'str3', 'str4']);
    expect(str2()).toBe(' ');
    expect(f.isUsed('bool1')).toBe(false);
    expect(f.isUsed('str1')).toBe(false);
  });

  it('an unknown flag lists the accepted ones as the suggestion', () => {
    const f = flags(['--nope'], 'COPY');
    f.string('from');
    f.bool('link');
    const e = errorOf(() => f.parse());
    expect(e.message).toBe('unknown flag: --nope');
    expect(e.suggestion).toBe('COPY accepts --from, --link');
    const none = errorOf(() => flags(['--x'], 'USER').parse());
    expect(none.suggestion).toBe('USER accepts no flags');
  });

  it('the first error wins', () => {
    const f = flags(['--a', '--b=1']);
    f.string('a');
    const e = errorOf(() => f.parse());
    expect(e.message).toBe('missing a value on flag: --a');
  });
});
