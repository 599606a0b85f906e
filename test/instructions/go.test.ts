/**
 * The Go behaviours BuildKit relies on when reading instructions: time.ParseDuration (HEALTHCHECK
 * intervals), go-units v0.5.0 RAMInBytes (tmpfs size), go-csvvalue Fields (mount and device
 * values), strconv.ParseBool and ParseUint. Expected values are Go's.
 */
import { describe, expect, it } from 'vitest';
import { csvFields, parseGoBool, parseGoDuration, parseGoUint32, parseRamInBytes } from '../../src/instructions/go.js';

const NS = 1;
const US = 1e3;
const MS = 1e6;
const S = 1e9;
const M = 60 * S;
const H = 60 * M;

describe('parseGoDuration (time.ParseDuration)', () => {
  it.each([
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['1ns', 1 * NS],
    ['1us', 1 * US],
    ['1µs', 1 * US], // U+00B5 micro sign
    ['1μs', 1 * US], // U+03BC Greek mu
    ['300ms', 300 * MS],
    ['1s', S],
    ['1.5s', 1.5 * S],
    ['.5s', 0.5 * S],
    ['1.s', S],
    ['-1.5h', -1.5 * H],
    ['+2m', 2 * M],
    ['2h45m', 2 * H + 45 * M],
    ['1h1m1s1ms1us1ns', H + M + S + MS + US + NS],
    ['0.3ms', 300_000],
    ['1.0000001s', 1_000_000_100],
    // Each component's fraction is truncated on its own, as Go does: 0 + 0.
    ['0.5ns0.5ns', 0],
    // Go multiplies the fraction's digits by unit/scale: 9 × 3.6e9, not 0.009 × 3.6e12.
    ['0.009h', 32_400_000_000],
    ['0.29s', 290_000_000],
    ['2562047h', 2562047 * H], // the largest whole number of hours
    ['9223372036s', 9223372036 * S],
    ['00001s', S],
    ['1.000000000000000000000001s', S], // a fraction below 1ns is dropped
  ])('%s → %d ns', (input, ns) => {
    expect(parseGoDuration(input)).toBe(ns);
  });

  it.each([
    ['', 'time: invalid duration ""'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-.s', 'time: invalid duration "-.s"'],
    ['1', 'time: missing unit in duration "1"'],
    ['1.', 'time: missing unit in duration "1."'],
    ['1.5.5s', 'time: missing unit in duration "1.5.5s"'],
    ['1s2', 'time: missing unit in duration "1s2"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
    ['5 s', 'time: unknown unit " s" in duration "5 s"'],
    ['1S', 'time: unknown unit "S" in duration "1S"'],
    ['1sec', 'time: unknown unit "sec" in duration "1sec"'],
    // Go's time.quote escapes `"` and `\` and writes non-ASCII and control bytes as \xNN.
    ['1µx', 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'],
    ['1"s', 'time: unknown unit "\\"s" in duration "1\\"s"'],
    ['1\ts', 'time: unknown unit "\\x09s" in duration "1\\x09s"'],
    ['2562048h', 'time: invalid duration "2562048h"'],
    ['9223372037s', 'time: invalid duration "9223372037s"'],
    ['99999999999999999999ns', 'time: invalid duration "99999999999999999999ns"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
  ])('%j → %s', (input, message) => {
    expect(() => parseGoDuration(input)).toThrow(new Error(message));
  });

  it('-9223372036854775808ns is the one value past the positive maximum that parses', () => {
    expect(parseGoDuration('-9223372036854775808ns')).toBe(-9223372036854775808);
  });
});

describe('parseRamInBytes (go-units v0.5.0 RAMInBytes)', () => {
  it.each([
    ['0', 0],
    ['512', 512],
    ['10b', 10],
    ['10B', 10],
    ['1k', 1024],
    ['1K', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['1 k', 1024], // one space may separate number and suffix
    ['1 ', 1],
    ['64m', 64 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['2t', 2 * 1024 ** 4],
    ['1p', 1024 ** 5],
    ['.5k', 512], // strconv.ParseFloat accepts these forms
    ['5.k', 5120],
    ['1e3', 1000],
    ['1E1k', 10240],
    ['+2k', 2048],
    ['1.9', 1], // truncated
    ['1.0009k', 1024],
  ])('%j → %d', (input, bytes) => {
    expect(parseRamInBytes(input)).toBe(bytes);
  });

  it.each([
    '', 'k', 'lots', '-1', '-1k', '1x', '1ib', '1bb', '1kbb', '1kibb', '1kx', '1  k', ' 1k', '1.5.5k', '1_000', '0x10', '1e', 'k1',
  ])('%j is rejected', (input) => {
    expect(parseRamInBytes(input)).toBeUndefined();
  });
});

describe('csvFields (go-csvvalue Fields)', () => {
  it.each([
    ['a', ['a']],
    ['a,b', ['a', 'b']],
    ['a,', ['a', '']],
    [',a', ['', 'a']],
    [',', ['', '']],
    ['a,,b', ['a', '', 'b']],
    ['"a,b",c', ['a,b', 'c']],
    ['"a""b"', ['a"b']],
    ['""', ['']],
    ['"",""', ['', '']],
    ['"a",', ['a', '']],
    [' a , b ', [' a ', ' b ']], // spaces are kept
    ['a\n', ['a']], // one trailing newline is allowed
    ['a\r\n', ['a']],
    ['a\nb', ['a\nb']],
  ])('%j → %j', (input, fields) => {
    expect(csvFields(input)).toEqual(fields);
  });

  it.each([
    ['', 'EOF'],
    ['\n', 'EOF'],
    ['a"b', 'parse error on line 1, column 2: bare " in non-quoted-field'],
    ['ab,c"', 'parse error on line 1, column 5: bare " in non-quoted-field'],
    ['"a"b', 'parse error on line 1, column 3: extraneous or missing " in quoted-field'],
    ['"a', 'parse error on line 1, column 2: extraneous or missing " in quoted-field'],
    ['"a""', 'parse error on line 1, column 5: extraneous or missing " in quoted-field'],
    ['x,"a', 'parse error on line 1, column 4: extraneous or missing " in quoted-field'],
    ['é,"a"b', 'parse error on line 1, column 6: extraneous or missing " in quoted-field'], // byte columns
  ])('%j → %s', (input, message) => {
    expect(() => csvFields(input)).toThrow(new Error(message));
  });
});

describe('strconv', () => {
  it.each([
    ['1', true], ['t', true], ['T', true], ['TRUE', true], ['true', true], ['True', true],
    ['0', false], ['f', false], ['F', false], ['FALSE', false], ['false', false], ['False', false],
    ['', undefined], ['yes', undefined], ['tRUE', undefined], ['2', undefined], [' true', undefined],
  ])('ParseBool(%j) → %s', (input, value) => {
    expect(parseGoBool(input)).toBe(value);
  });

  it.each([
    ['0', 10, 0], ['4294967295', 10, 4294967295], ['4294967296', 10, undefined], ['-1', 10, undefined],
    ['+1', 10, undefined], ['', 10, undefined], ['1_000', 10, undefined], ['0x1', 10, undefined],
    ['0755', 8, 0o755], ['777', 8, 0o777], ['8', 8, undefined], ['37777777777', 8, 0xffffffff],
    ['40000000000', 8, undefined],
  ] as [string, 8 | 10, number | undefined][])('ParseUint(%j, %d, 32) → %s', (input, base, value) => {
    expect(parseGoUint32(input, base)).toBe(value);
  });
});
