/**
 * Shared by the CLI tests: temporary contexts, the busybox-static base as a build context,
 * images read back from the store or an OCI output, and progress text with its timings
 * normalised (times vary, nothing else may).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { busyboxLayout } from '../../fixtures/busybox.js';
import type { Image } from '../../src/image/image.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { runCli, type CliResult } from '../support/cli.js';

/** A temporary directory, removed by `cleanup()` (call it in afterAll). */
export function tempDir(prefix: string): { readonly path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), `build-image-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes `files` (relative path → content) under `root/name` and returns that directory. */
export function writeContext(root: string, name: string, files: Readonly<Record<string, string>>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** The busybox fixture and the `--build-context` flag that makes `FROM busybox` use it. */
export async function busybox(): Promise<{ readonly dir: string; readonly digest: string; readonly flags: readonly string[] }> {
  const layout = await busyboxLayout();
  return { dir: layout.dir, digest: layout.digest, flags: ['--build-context', `busybox=oci-layout://${layout.dir}:latest`] };
}

/** `build-image` with a private store: every build test passes `--cache-dir`. */
export function buildWith(cacheDir: string, args: readonly string[], options: Parameters<typeof runCli>[1] = {}): Promise<CliResult> {
  return runCli(['build', '--cache-dir', cacheDir, ...args], options);
}

/** The image the build stored under `tag` in the store at `cacheDir` (an OCI layout). */
export function storedImage(cacheDir: string, tag: string): Promise<Image> {
  return readOciLayout(cacheDir, { tag });
}

/**
 * Plain progress with what varies between runs replaced: durations (`DONE 0.3s` → `DONE #s`),
 * output offsets (`#3 0.354 text` → `#3 # text`) and hex digests (→ `<digest>`).
 */
export function normalisePlain(text: string): string {
  return text
    .replace(/^(#\d+) DONE \d+\.\ds/gm, '$1 DONE #s')
    .replace(/^(#\d+) \d+\.\d{3} /gm, '$1 # ')
    .replace(/sha256:[0-9a-f]{64}/g, '<digest>');
}

/** The lines of the result summary the CLI prints after a build (stderr, after progress). */
export function summary(stderr: string): string[] {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('built sha256:'));
  return at === -1 ? [] : lines.slice(at).filter((l) => l !== '');
}
