/**
 * The one place that locates the shared test data (../shared beside the checkout, or
 * $BUILD_IMAGE_SHARED). Tests read it at run time; nothing of it is copied into the repo.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function sharedDir(): string {
  const fromEnv = process.env['BUILD_IMAGE_SHARED'];
  const dir = fromEnv ? resolve(fromEnv) : resolve(repoRoot, '../shared');
  if (!existsSync(join(dir, 'conformance'))) {
    throw new Error(
      `shared test data not found at ${dir}: put the shared folder beside the checkout (../shared) ` +
        `or set BUILD_IMAGE_SHARED to its path`,
    );
  }
  return dir;
}

/** A path inside the shared data. */
export function shared(...parts: string[]): string {
  return join(sharedDir(), ...parts);
}
