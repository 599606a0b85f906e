import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { autoDecompress, compress, compressAndHash, decompress, detectCompression } from '../../src/image/gzip.js';
import { readAll } from '../../src/image/stream.js';

const input = () => Readable.from([Buffer.from('hello '), Buffer.from('world\n'.repeat(1000))]);
const plain = Buffer.concat([Buffer.from('hello '), Buffer.from('world\n'.repeat(1000))]);

describe('gzip', () => {
  it.each([
    [1, '1f8b08000000000004ff'],
    [6, '1f8b08000000000000ff'],
    [9, '1f8b08000000000002ff'],
  ])('level %i writes the fixed header %s (mtime 0, no name, OS 0xff like Go)', async (level, header) => {
    const out = await readAll(compress(input(), 'gzip', { level }));
    expect(out.subarray(0, 10).toString('hex')).toBe(header);
    expect(gunzipSync(out).equals(plain)).toBe(true);
  });

  it('is deterministic', async () => {
    const a = await readAll(compress(input(), 'gzip'));
    const b = await readAll(compress(Readable.from([plain]), 'gzip'));
    expect(a.equals(b)).toBe(true);
  });

  it('round-trips through decompress', async () => {
    expect((await readAll(decompress(compress(input(), 'gzip'), 'gzip'))).equals(plain)).toBe(true);
    expect((await readAll(compress(input(), 'none'))).equals(plain)).toBe(true);
  });

  it('computes compressed digest and size and the diffID in one pass', async () => {
    const { stream, done } = compressAndHash(input(), 'gzip');
    const bytes = await readAll(stream);
    const info = await done;
    expect(info).toEqual({ digest: sha256Digest(bytes), size: bytes.length, diffID: sha256Digest(plain), uncompressedSize: plain.length });
  });

  it('uncompressed: digest = diffID', async () => {
    const { stream, done } = compressAndHash(input(), 'none');
    await readAll(stream);
    const d = sha256Digest(plain);
    expect(await done).toEqual({ digest: d, size: plain.length, diffID: d, uncompressedSize: plain.length });
  });

  it('fails the stream and the result when the input fails', async () => {
    const bad = new Readable({ read() { this.destroy(new Error('disk gone')); } });
    const { stream, done } = compressAndHash(bad, 'gzip');
    await expect(readAll(stream)).rejects.toThrow('disk gone');
    await expect(done).rejects.toThrow('disk gone');
  });

  it.each([
    ['1f8b0800', 'gzip'],
    ['28b52ffd00', 'zstd'],
    ['425a6839', 'bzip2'],
    ['fd377a585a00', 'xz'],
    ['7573746172', 'none'],
    ['', 'none'],
  ])('detectCompression(%s) = %s', (hex, kind) => {
    expect(detectCompression(Buffer.from(hex, 'hex'))).toBe(kind);
  });

  it('autoDecompress sniffs gzip and passes plain bytes through', async () => {
    const gz = await autoDecompress(compress(input(), 'gzip'));
    expect(gz.compression).toBe('gzip');
    expect((await readAll(gz.stream)).equals(plain)).toBe(true);
    const raw = await autoDecompress(input());
    expect(raw.compression).toBe('none');
    expect((await readAll(raw.stream)).equals(plain)).toBe(true);
  });

  it('autoDecompress refuses xz with a clear error', async () => {
    await expect(autoDecompress(Readable.from([Buffer.from('fd377a585a000000', 'hex')]))).rejects.toMatchObject({
      code: 'IMAGE_UNSUPPORTED_COMPRESSION',
      message: `xz compression is not supported by this Node.js runtime (${process.version})`,
    });
  });
});
