/** Small, deterministic images for registry tests, and a skopeo wrapper. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { appendLayers, emptyImage, setConfig, type Image } from '../../../src/image/image.js';
import { layerFromEntries } from '../../../src/image/layer.js';
import type { MediaTypeFormat } from '../../../src/image/schema.js';
import type { Store } from '../../../src/store/store.js';

/**
 * An image of one layer per entry of `layers` (path → content), for a platform. Layers are
 * written into `store` when given.
 */
export async function smallImage(options: {
  architecture: string;
  variant?: string;
  layers: readonly Readonly<Record<string, string>>[];
  format?: MediaTypeFormat;
  store?: Store;
  env?: string[];
}): Promise<Image> {
  let image = emptyImage({
    platform: { os: 'linux', architecture: options.architecture, ...(options.variant ? { variant: options.variant } : {}) },
    format: options.format ?? 'oci',
  });
  for (const files of options.layers) {
    const entries = Object.entries(files).map(([path, data]) => ({
      path,
      type: 'file' as const,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      data,
    }));
    const layer = await layerFromEntries(entries, options.store ? { store: options.store, format: options.format ?? 'oci' } : { format: options.format ?? 'oci' });
    image = appendLayers(image, { layer, history: { created_by: `add ${Object.keys(files).join(' ')}` } });
  }
  if (options.env) image = setConfig(image, { Env: options.env });
  return image;
}

const run = promisify(execFile);

/** Runs skopeo against plain-HTTP test registries; returns stdout. */
export async function skopeo(args: readonly string[]): Promise<string> {
  const { stdout } = await run('skopeo', [...args], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: process.env['HOME'] ?? '/tmp' } });
  return stdout;
}
