/**
 * Tests that need an external tool (skopeo, umoci, runc, registry …) ask here. Outside CI a
 * missing tool makes the test skip with a reason; in CI (CI=true) it is a failure that names
 * the Debian package to install — a test never skips silently in CI.
 */
import { execFileSync } from 'node:child_process';

const cache = new Map<string, string | undefined>();

export function which(command: string): string | undefined {
  if (cache.has(command)) return cache.get(command);
  let found: string | undefined;
  try {
    found = execFileSync('sh', ['-c', `command -v "$1"`, 'sh', command], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    found = undefined;
  }
  cache.set(command, found);
  return found;
}

/**
 * True when `command` exists. When it does not: in CI, throws an error naming `debianPackage`;
 * elsewhere returns false (use with `describe.runIf`).
 */
export function hasTool(command: string, debianPackage: string): boolean {
  if (which(command)) return true;
  if (process.env['CI'] === 'true') {
    throw new Error(`required tool '${command}' is missing: install the Debian package '${debianPackage}'`);
  }
  console.warn(`skipping tests that need '${command}' (Debian package '${debianPackage}')`);
  return false;
}

/**
 * True when a platform condition holds (root, a kernel feature …). When it does not: in CI,
 * throws naming what is missing — CI runs as root on Debian 12, where every condition here
 * holds; elsewhere returns false with a warning (use with `describe.runIf`).
 */
export function hasPlatform(ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env['CI'] === 'true') throw new Error(`required platform condition missing: ${what}`);
  console.warn(`skipping tests that need ${what}`);
  return false;
}

/** Running as root (mounts, namespaces, owners): required in CI. */
export const isRoot = hasPlatform(process.getuid?.() === 0, 'root (mounts, namespaces, file owners)');
