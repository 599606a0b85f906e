#!/usr/bin/env node
// Bundles the CLI into one ES module (dist/bin/build-image.mjs): start-up time matters for
// every build, and loading one file is several times faster than resolving chevrotain's and
// lodash-es's hundreds of modules. The library (dist/src) stays plain tsc output.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/bin/build-image.mjs');
await build({
  entryPoints: [join(root, 'src/cli/bin.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  // Some bundled CommonJS dependencies call require(): give the ES module one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
