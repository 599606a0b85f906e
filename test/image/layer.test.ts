import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { compress } from '../../src/image/gzip.js';
import { layerDescriptor, layerFromCompressed, layerFromEntries, layerFromTar, withLayerMediaType } from '../../src/image/layer.js';
import { MediaType } from '../../src/image/schema.js';
import { readAll } from '../../src/image/stream.js';
import { writeTar } from '../../src/image/tar.js';
import { openStore } from '../../src/store/store.js';
import { FIXED_DIFF_ID, FIXED_DIGEST, FIXED_ENTRIES } from './samples.js';

describe('layerFromEntries / layerFromTar', () => {
  it('has the pinned diffID and digest', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES);
    expect(layer.mediaType).toBe(MediaType.ociLayerGzip);
    expect(layer.diffID).toBe(FIXED_DIFF_ID);
    expect(layer.digest).toBe(FIXED_DIGEST);
    const blob = await readAll(await layer.open());
    expect(sha256Digest(blob)).toBe(layer.digest);
    expect(blob.length).toBe(layer.size);
    expect(sha256Digest(await readAll(await layer.openUncompressed()))).toBe(FIXED_DIFF_ID);
  });

  it('re-opens the bytes on every call (no buffered copy)', async () => {
    let opened = 0;
    const layer = await layerFromTar(() => {
      opened++;
      return writeTar(FIXED_ENTRIES);
    });
    expect(opened).toBe(1);
    await readAll(await layer.open());
    await readAll(await layer.openUncompressed());
    expect(opened).toBe(3);
  });

  it('uncompressed layers: digest = diffID, media type tar', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES, { compression: 'none' });
    expect(layer).toMatchObject({ mediaType: MediaType.ociLayer, digest: FIXED_DIFF_ID, diffID: FIXED_DIFF_ID });
  });

  it('docker format uses Docker media types', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES, { format: 'docker' });
    expect(layer.mediaType).toBe(MediaType.dockerLayerGzip);
    expect(layer.digest).toBe(FIXED_DIGEST);
  });

  it('fails reading when the source changed since the layer was made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bi-layer-'));
    const path = join(dir, 'layer.tar');
    writeFileSync(path, await readAll(writeTar(FIXED_ENTRIES)));
    const { createReadStream } = await import('node:fs');
    const layer = await layerFromTar(() => createReadStream(path));
    writeFileSync(path, await readAll(writeTar(FIXED_ENTRIES.slice(1))));
    await expect(readAll(await layer.open())).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
    await expect(readAll(await layer.openUncompressed())).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('with a store: the blob is stored in the same pass and read back from the store', async () => {
    const store = await openStore({ root: mkdtempSync(join(tmpdir(), 'bi-layer-store-')) });
    const layer = await layerFromEntries(FIXED_ENTRIES, { store });
    expect(layer.digest).toBe(FIXED_DIGEST);
    expect(await store.hasBlob(layer.digest, layer.size)).toBe(true);
    expect(sha256Digest(await readAll(await layer.openUncompressed()))).toBe(FIXED_DIFF_ID);
  });

  it('has a manifest descriptor', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES, { annotations: { a: 'b' } });
    expect(layerDescriptor(layer)).toEqual({ mediaType: MediaType.ociLayerGzip, digest: FIXED_DIGEST, size: layer.size, annotations: { a: 'b' } });
  });
});

describe('layerFromCompressed', () => {
  const blob = async () => readAll(compress(writeTar(FIXED_ENTRIES), 'gzip'));

  it('computes digest, size and diffID by reading once', async () => {
    const bytes = await blob();
    const layer = await layerFromCompressed(() => Readable.from([bytes]), { mediaType: MediaType.ociLayerGzip });
    expect(layer).toMatchObject({ digest: FIXED_DIGEST, diffID: FIXED_DIFF_ID, size: bytes.length });
  });

  it('trusts given digests but verifies when opened', async () => {
    const bytes = await blob();
    const layer = await layerFromCompressed(() => Readable.from([bytes]), {
      mediaType: MediaType.ociLayerGzip,
      digest: sha256Digest('other'),
      size: bytes.length,
      diffID: FIXED_DIFF_ID,
    });
    await expect(readAll(await layer.open())).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('rejects content that does not match the expected digest', async () => {
    const bytes = await blob();
    await expect(layerFromCompressed(() => Readable.from([bytes]), { mediaType: MediaType.ociLayerGzip, digest: sha256Digest('x') })).rejects.toMatchObject({
      code: 'IMAGE_DIGEST_MISMATCH',
    });
  });
});

describe('withLayerMediaType', () => {
  it('relabels within the same compression and refuses across', async () => {
    const layer = await layerFromEntries(FIXED_ENTRIES);
    expect(withLayerMediaType(layer, MediaType.dockerLayerGzip)).toMatchObject({ mediaType: MediaType.dockerLayerGzip, digest: FIXED_DIGEST });
    expect(() => withLayerMediaType(layer, MediaType.ociLayer)).toThrow(expect.objectContaining({ code: 'IMAGE_UNSUPPORTED_MEDIA_TYPE' }));
  });
});
