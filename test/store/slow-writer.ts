/**
 * Run by store.test.ts: starts writing a blob that never ends and prints "writing" once the
 * temp file exists; the test then kills it with SIGKILL.
 * Usage: node --import tsx slow-writer.ts <storeRoot>
 */
import { Readable } from 'node:stream';
import { openStore } from '../../src/store/store.js';

const store = await openStore({ root: process.argv[2]! });
let sent = 0;
const endless = new Readable({
  read() {
    sent++;
    if (sent === 3) process.stdout.write('writing\n');
    setTimeout(() => this.push(Buffer.alloc(1024, 1)), sent > 3 ? 50 : 0);
  },
});
await store.putBlob(endless);
