#!/usr/bin/env node
// Brings what the tests need: the Debian packages listed in scripts/system-deps.json (installed
// with apt-get when run as root, otherwise named so a person can install them) and a fresh
// build of dist/ (the CLI tests run the compiled CLI, as users do).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const deps = JSON.parse(readFileSync(join(root, 'scripts/system-deps.json'), 'utf8'));
const onlyInstall = process.argv.includes('--system-only');

const has = (command) => spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', command]).status === 0;
const missing = [...new Set(deps.filter((d) => !has(d.command)).map((d) => d.package))];

if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log(`pretest: installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } else {
    const msg = `pretest: missing Debian packages: ${missing.join(' ')} (run: sudo apt-get install ${missing.join(' ')})`;
    if (process.env.CI === 'true') {
      console.error(msg);
      process.exit(1);
    }
    console.warn(`${msg}; tests that need them will be skipped`);
  }
}

if (!onlyInstall) {
  // The same build as `npm run build`: tsc for the library, one bundled file for the CLI.
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });
}
