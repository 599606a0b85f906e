// Writes an OCI image layout of Debian's busybox-static (tag `busybox`) to DIR, for building
// offline: `build-image --build-context busybox=oci-layout://DIR:busybox …`.
//   npm run fixture:busybox -- DIR
import { resolve } from 'node:path';
import { makeBusyboxImage } from '../fixtures/busybox.js';
import { writeOciLayout } from '../src/oci/layout.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run fixture:busybox -- DIR');
  process.exit(2);
}
const image = await makeBusyboxImage();
const { digest } = await writeOciLayout(resolve(dir), image, { tag: 'busybox' });
console.log(`wrote ${resolve(dir)} (busybox, ${digest})`);
