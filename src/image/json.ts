/**
 * Canonical JSON: the one serialisation used for every config, manifest, index and cache
 * record build-image writes, so equal values always give equal bytes (and digests).
 *
 * Rules:
 * - object keys sorted by Unicode code point (the same order as Go's sort.Strings on UTF-8,
 *   which is how Go's encoding/json orders map keys);
 * - no whitespace;
 * - properties whose value is `undefined` are dropped (like Go's `omitempty` for absent
 *   fields); `undefined` inside an array is an error;
 * - strings escaped as JSON.stringify does (Go additionally escapes <, > and & as \u003c …;
 *   we do not: the bytes differ from Go's but the value is the same);
 * - numbers must be finite; -0 is written as 0.
 */
import { BuildImageError } from '../errors.js';

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Compares two strings by Unicode code point (= UTF-8 byte order). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (0xD800–0xDFFF) encode code points above 0xFFFF, which sort after every
    // BMP character even though 0xE000–0xFFFF are larger UTF-16 units.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}

function write(value: unknown, out: string[], path: string): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new BuildImageError('IMAGE_INVALID_JSON', `cannot write ${String(value)} as JSON at ${path || '(root)'}`);
      }
      out.push(Object.is(value, -0) ? '0' : JSON.stringify(value));
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'object': {
      if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item, i) => {
          if (item === undefined) {
            throw new BuildImageError('IMAGE_INVALID_JSON', `undefined array element at ${path}[${i}]`);
          }
          if (i > 0) out.push(',');
          write(item, out, `${path}[${i}]`);
        });
        out.push(']');
        return;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(compareCodePoints);
      out.push('{');
      keys.forEach((k, i) => {
        if (i > 0) out.push(',');
        out.push(JSON.stringify(k), ':');
        write(obj[k], out, path ? `${path}.${k}` : k);
      });
      out.push('}');
      return;
    }
    default:
      throw new BuildImageError('IMAGE_INVALID_JSON', `cannot write a ${typeof value} as JSON at ${path || '(root)'}`);
  }
}

/** The canonical JSON text of `value` (see the module comment for the rules). */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, '');
  return out.join('');
}

/** The canonical JSON of `value` as UTF-8 bytes. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
