import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes, compareCodePoints } from '../../src/image/json.js';

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ z: { y: [3, { d: 1, c: 2 }], x: null }, a: true }, '{"a":true,"z":{"x":null,"y":[3,{"c":2,"d":1}]}}'],
    [{ keep: 'x', drop: undefined }, '{"keep":"x"}'],
    [[1, 'two', false], '[1,"two",false]'],
    [{ s: 'quote " back \\ nl \n tab \t <>&' }, '{"s":"quote \\" back \\\\ nl \\n tab \\t <>&"}'],
    [{ n: -0 }, '{"n":0}'],
    [{ 'é': 1, z: 2, 'Z': 3, '😀': 4, '\uffff': 5 }, '{"Z":3,"z":2,"é":1,"\uffff":5,"😀":4}'],
    [{}, '{}'],
  ])('%j → %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text);
    expect(canonicalJsonBytes(value).toString('utf8')).toBe(text);
  });

  it.each([[{ a: NaN }], [{ a: Infinity }], [[undefined]], [{ f: () => 1 }], [{ b: 1n }]])('refuses %s', (value) => {
    expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: 'IMAGE_INVALID_JSON' }));
  });

  it('orders by code point, like Go sorts UTF-8 map keys', () => {
    const keys = ['\uffff', '😀', 'a', 'A'];
    expect([...keys].sort(compareCodePoints)).toEqual(['A', 'a', '\uffff', '😀']);
    // Byte order of the UTF-8 encodings agrees.
    expect([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))).toEqual(['A', 'a', '\uffff', '😀']);
  });
});
