/**
 * Helpers for end-to-end build tests: build contexts written from a compact spec, `build()`
 * with a fixed SOURCE_DATE_EPOCH and a per-file store, the busybox base (the real
 * busybox-static image of fixtures/busybox.ts) given as `--build-context busybox=oci-layout://…`,
 * image trees without the base's files, and a guard that proves a build wrote nothing on the
 * host outside its temp dirs.
 */
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, type BuildOptions, type BuildResult } from '../../src/build.js';
import type { Image } from '../../src/image/image.js';
import { busyboxLayout, type BusyboxLayout } from '../../fixtures/busybox.js';
import { imageTree, type TreeOptions } from '../support/tree.js';

/** The SOURCE_DATE_EPOCH every test uses unless it says otherwise (2023-11-14T22:13:20Z). */
export const EPOCH = 1700000000;
export const CREATED = '2023-11-14T22:13:20Z';

export type Spec =
  | string
  | Buffer
  | { readonly file: string | Buffer; readonly mode?: number; readonly mtime?: number }
  | { readonly dir: true; readonly mode?: number }
  | { readonly symlink: string };

/** A temp root for one test file, removed by `cleanup()` (call it in afterAll). */
export function workspace(prefix: string): { readonly root: string; dir(name: string): string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), `bi-e2e-${prefix}-`));
  let n = 0;
  return {
    root,
    dir: (name: string) => {
      const d = join(root, `${name}-${n++}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Writes `spec` under `dir` in order (parents made as needed); returns `dir`. */
export function writeTree(dir: string, spec: Readonly<Record<string, Spec>>): string {
  for (const [rel, node] of Object.entries(spec)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof node === 'string' || Buffer.isBuffer(node)) {
      writeFileSync(p, node);
      chmodSync(p, 0o644);
    } else if ('file' in node) {
      writeFileSync(p, node.file);
      chmodSync(p, node.mode ?? 0o644);
      if (node.mtime !== undefined) utimesSync(p, node.mtime, node.mtime);
    } else if ('dir' in node) {
      mkdirSync(p, { recursive: true });
      chmodSync(p, node.mode ?? 0o755);
    } else symlinkSync(node.symlink, p);
  }
  return dir;
}

let busybox: Promise<BusyboxLayout> | undefined;

/** The busybox fixture layout (built once per machine, see fixtures/busybox.ts). */
export function busyboxBase(): Promise<BusyboxLayout> {
  busybox ??= busyboxLayout();
  return busybox;
}

/** `--build-context busybox=oci-layout://<fixture>:latest`: `FROM busybox` builds on the fixture. */
export async function busyboxContext(): Promise<Record<string, string>> {
  return { busybox: `oci-layout://${(await busyboxBase()).dir}:latest` };
}

/** Paths of the busybox fixture's root filesystem (and what RUN adds as mount points). */
const BASE_PATHS = /^(bin|etc|home|root|tmp|dev|proc|sys)(\/|$)/;

/** The image's tree (see test/support/tree.ts) without the busybox base's paths. */
export async function ownTree(image: Image, options: TreeOptions = {}): Promise<string[]> {
  return (await imageTree(image, options)).filter((line) => !BASE_PATHS.test(line.split(' ')[options.owners === false ? 2 : 3]!));
}

export interface Builder {
  /** Writes a context from `spec` (with its Dockerfile) and builds it. */
  (spec: Readonly<Record<string, Spec>>, options?: Partial<BuildOptions> | ((context: string) => Partial<BuildOptions>)): Promise<BuildResult>;
  /** The context directory of the last build. */
  lastContext(): string;
}

/**
 * A builder for one test file: every build gets a fresh context dir, the file's store, the
 * busybox build context and SOURCE_DATE_EPOCH=EPOCH (each overridable through `options`).
 */
export function builder(ws: ReturnType<typeof workspace>, defaults: Partial<BuildOptions> = {}): Builder {
  const store = join(ws.root, 'store');
  let last = '';
  const fn = async (spec: Readonly<Record<string, Spec>>, more: Partial<BuildOptions> | ((context: string) => Partial<BuildOptions>) = {}) => {
    last = writeTree(ws.dir('ctx'), spec);
    const options = typeof more === 'function' ? more(last) : more;
    return build({
      context: last,
      cacheDir: store,
      sourceDateEpoch: EPOCH,
      ...defaults,
      ...options,
      buildContexts: { ...(await busyboxContext()), ...defaults.buildContexts, ...options.buildContexts },
    });
  };
  return Object.assign(fn, { lastContext: () => last });
}

/** `sha256:<hex>` of a text or bytes. */
export function sha(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Watches the host for writes outside temp dirs while a build runs: an empty sentinel dir (a
 * destination that attacks point at), the listing of `/` and of `/etc`, and the bytes of
 * /etc/passwd. `check()` returns what changed (nothing, when all is well).
 */
export function hostGuard(sentinel: string): { check(): string[] } {
  mkdirSync(sentinel, { recursive: true });
  const snapshot = () => ({
    root: readdirSync('/').sort().join(' '),
    etc: readdirSync('/etc').sort().join(' '),
    passwd: sha(readFileSync('/etc/passwd')),
  });
  const before = snapshot();
  return {
    check() {
      const after = snapshot();
      const changed: string[] = [];
      const inSentinel = readdirSync(sentinel);
      if (inSentinel.length > 0) changed.push(`${sentinel}: ${inSentinel.join(' ')}`);
      if (after.root !== before.root) changed.push(`/: ${before.root} → ${after.root}`);
      if (after.etc !== before.etc) changed.push(`/etc: ${before.etc} → ${after.etc}`);
      if (after.passwd !== before.passwd) changed.push('/etc/passwd changed');
      if (!lstatSync(sentinel).isDirectory()) changed.push(`${sentinel} is no longer a directory`);
      return changed;
    },
  };
}

/** Every file under `dir` (relative paths), for "no temp files left" checks. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const p = rel === '' ? name : `${rel}/${name}`;
      if (lstatSync(join(dir, p)).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}
