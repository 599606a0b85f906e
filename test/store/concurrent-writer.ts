/**
 * Run by store.test.ts in two processes at once: writes the same blobs and cache records as
 * the other process, and increments a shared counter under the store lock.
 * Usage: node --import tsx concurrent-writer.ts <storeRoot> <rounds> <tag>
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sha256Digest } from '../../src/image/digest.js';
import { openStore } from '../../src/store/store.js';

const [root, roundsText, tag] = process.argv.slice(2);
const rounds = Number(roundsText);
const store = await openStore({ root: root! });
const counter = join(await store.stateDir('counter'), 'count');

for (let i = 0; i < rounds; i++) {
  // The same content from both processes: 200 KiB so writes overlap.
  const body = Buffer.alloc(200 * 1024, `blob-${i}`);
  const chunks = [];
  for (let o = 0; o < body.length; o += 16 * 1024) chunks.push(body.subarray(o, o + 16 * 1024));
  const put = await store.putBlob(Readable.from(chunks));
  if (put.digest !== sha256Digest(body)) throw new Error('wrong digest');
  await store.putCacheRecord(sha256Digest(`key-${i}`), { metadata: { round: i, from: tag! } });
  await store.withLock('counter', async () => {
    const n = Number(await readFile(counter, 'utf8').catch(() => '0'));
    await new Promise((r) => setTimeout(r, 1));
    await writeFile(counter, String(n + 1));
  });
}
