import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/image/json.js';
import { readAll } from '../../src/image/stream.js';
import { normalizeEntryPath, readTar, sortEntries, writeTar, type TarEntry } from '../../src/image/tar.js';

const segment = fc.oneof(
  fc.stringMatching(/^[a-z0-9._-]{1,12}$/),
  fc.constantFrom('ü', '名前', 'x'.repeat(120), 'a b', 'e\u0301'),
).filter((s) => s !== '.' && s !== '..' && !s.startsWith('.wh.'));

const entry = fc.record({
  segments: fc.array(segment, { minLength: 1, maxLength: 3 }),
  type: fc.constantFrom('file', 'dir', 'symlink', 'fifo', 'char'),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(5_000_000)),
  gid: fc.integer({ min: 0, max: 70000 }),
  mtime: fc.oneof(fc.integer({ min: 0, max: 2 ** 33 - 1 }), fc.constant(2 ** 34), fc.constant(-5)),
  data: fc.uint8Array({ maxLength: 1500 }),
  link: fc.oneof(fc.constant('target'), fc.constant('/' + 'l'.repeat(150)), fc.constant('../ünï')),
  xattr: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 }), { nil: undefined }),
});

describe('tar round trip (property)', () => {
  it('every field written is read back, in sorted order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entry, { maxLength: 12, selector: (e) => e.segments.join('/') }), async (raw) => {
        // Make the path set consistent: drop entries whose path is a prefix of another's (a
        // non-directory cannot have children in a tar we would write).
        const paths = raw.map((r) => r.segments.join('/'));
        const entries: TarEntry[] = raw
          .filter((r, i) => r.type === 'dir' || !paths.some((p, j) => j !== i && p.startsWith(paths[i] + '/')))
          .map((r) => ({
            path: r.segments.join('/'),
            type: r.type,
            mode: r.mode,
            uid: r.uid,
            gid: r.gid,
            mtime: r.mtime,
            ...(r.type === 'file' ? { data: r.data } : {}),
            ...(r.type === 'symlink' ? { linkname: r.link } : {}),
            ...(r.type === 'char' ? { devmajor: 1, devminor: 7 } : {}),
            ...(r.xattr ? { xattrs: { 'user.x': r.xattr } } : {}),
          }));
        const bytes = await readAll(writeTar(entries));
        const read = [];
        for await (const e of readTar([bytes])) {
          read.push({
            path: e.path.replace(/\/$/, ''),
            type: e.type,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
            data: Buffer.from(await e.bytes()).toString('hex'),
            linkname: e.linkname,
            xattr: e.xattrs['user.x']?.toString('hex'),
          });
        }
        const expected = sortEntries(entries).map((e) => ({
          path: normalizeEntryPath(e.path),
          type: e.type,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          mtime: e.mtime,
          data: e.type === 'file' ? Buffer.from(e.data as Uint8Array).toString('hex') : '',
          linkname: e.linkname ?? '',
          xattr: e.xattrs ? Buffer.from(e.xattrs['user.x'] as Uint8Array).toString('hex') : undefined,
        }));
        expect(read).toEqual(expected);
        expect(bytes.length % 512).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});

describe('canonical JSON (property)', () => {
  it('parses back to the same value and does not depend on key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        const reordered = JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
          v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
        ) as unknown;
        expect(canonicalJson(reordered)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
