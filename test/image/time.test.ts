import { describe, expect, it } from 'vitest';
import { DEFAULT_CREATED, createdTime, formatTimestamp, parseSourceDateEpoch } from '../../src/image/time.js';

describe('timestamps', () => {
  it.each([
    [0, '1970-01-01T00:00:00Z'],
    [1700000000, '2023-11-14T22:13:20Z'],
    [1.5, '1970-01-01T00:00:01.5Z'],
    [new Date('2024-02-29T12:00:00.120Z'), '2024-02-29T12:00:00.12Z'],
  ])('formatTimestamp(%j) = %s', (t, text) => {
    expect(formatTimestamp(t)).toBe(text);
  });

  it('created is SOURCE_DATE_EPOCH when set, else the epoch', () => {
    expect(createdTime()).toBe(DEFAULT_CREATED);
    expect(DEFAULT_CREATED).toBe('1970-01-01T00:00:00Z');
    expect(createdTime(parseSourceDateEpoch('1700000000'))).toBe('2023-11-14T22:13:20Z');
  });

  it.each([[undefined, undefined], ['', undefined], ['0', 0], [' 42 ', 42], [7, 7]])('parseSourceDateEpoch(%j) = %j', (v, n) => {
    expect(parseSourceDateEpoch(v)).toBe(n);
  });

  it.each([['-1'], ['1.5'], ['soon'], ['1e9']])('parseSourceDateEpoch rejects %j', (v) => {
    expect(() => parseSourceDateEpoch(v)).toThrow(
      expect.objectContaining({
        code: 'IMAGE_INVALID_SOURCE_DATE_EPOCH',
        message: `invalid SOURCE_DATE_EPOCH "${v}": expected a whole number of seconds since 1970-01-01`,
      }),
    );
  });
});
