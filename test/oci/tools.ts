/** Helpers that run the real consumers of our outputs (skopeo, umoci, oci-image-tool). */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const isRoot = process.getuid?.() === 0;

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `skopeo inspect <transport:ref>` parsed. */
export function skopeoInspect(ref: string): Record<string, unknown> {
  return JSON.parse(run('skopeo', ['inspect', ref])) as Record<string, unknown>;
}

/** `skopeo inspect --raw` / `--config` output parsed. */
export function skopeoRaw(ref: string, what: '--raw' | '--config'): Record<string, unknown> {
  return JSON.parse(run('skopeo', ['inspect', what, ref])) as Record<string, unknown>;
}

/** Unpacks `layout:tag` with umoci and returns the rootfs path. */
export function umociUnpack(layout: string, tag: string): string {
  const bundle = join(mkdtempSync(join(tmpdir(), 'bi-umoci-')), 'bundle');
  run('umoci', ['unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${layout}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

/**
 * Every path under `root`, sorted: `<type> <mode> <uid>:<gid> <path>` plus the link target or
 * the file content (text, or its length when binary/large). Owners are printed only as root
 * (a rootless unpack owns everything itself).
 */
export function tree(root: string, options: { maxContent?: number } = {}): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = relative(root, p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      const owner = isRoot ? ` ${st.uid}:${st.gid}` : '';
      if (st.isSymbolicLink()) out.push(`l ${mode}${owner} ${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`d ${mode}${owner} ${rel}`);
        walk(p);
      } else if (st.isFile()) {
        const bytes = readFileSync(p);
        const text = bytes.length <= (options.maxContent ?? 200) && !bytes.includes(0) ? JSON.stringify(bytes.toString('utf8')) : `(${bytes.length} bytes)`;
        out.push(`f ${mode}${owner} ${rel} ${text}`);
      } else out.push(`? ${mode}${owner} ${rel}`);
    }
  };
  walk(root);
  return out;
}
