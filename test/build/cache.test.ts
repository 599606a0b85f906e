/**
 * The build cache, end to end through `build()`: an unchanged context is a cache hit for every
 * step; editing one file invalidates exactly the steps that depend on it; the same inputs give
 * the same digest; `noCache` recomputes and gives the same digest again.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../../src/build.js';
import type { BuildEvent } from '../../src/events.js';

const root = mkdtempSync(join(tmpdir(), 'build-image-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function context(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

async function run(dir: string, cacheDir: string, extra: { noCache?: boolean } = {}) {
  const events: BuildEvent[] = [];
  const result = await build({ context: dir, cacheDir, outputs: [`type=oci,dest=${join(root, 'out.tar')}`], onEvent: (e) => events.push(e), ...extra });
  const status = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'step-cached') status.set(e.name.replace(/^\[[^\]]*\] /, ''), 'cached');
    if (e.type === 'step-start') status.set(e.name.replace(/^\[[^\]]*\] /, ''), 'ran');
  }
  return { digest: result.digest, status: Object.fromEntries(status) };
}

describe('build cache', () => {
  const dockerfile = [
    'FROM scratch AS deps',
    'COPY package.json /app/',
    'COPY lib /app/lib',
    'FROM scratch',
    'COPY --from=deps /app /app',
    'WORKDIR /app/data',
    'COPY src /app/src',
    'COPY README.md /',
    '',
  ].join('\n');

  it('caches every step of an unchanged context; one edit invalidates exactly its dependents', async () => {
    const dir = context('a', {
      Dockerfile: dockerfile,
      'package.json': '{}',
      'lib/one.js': '1',
      'src/main.js': 'main',
      'src/util.js': 'util',
      'README.md': 'readme',
    });
    const cacheDir = join(root, 'store-a');
    const first = await run(dir, cacheDir);
    expect(first.status).toEqual({
      'COPY package.json /app/': 'ran',
      'COPY lib /app/lib': 'ran',
      'COPY --from=deps /app /app': 'ran',
      'WORKDIR /app/data': 'ran',
      'COPY src /app/src': 'ran',
      'COPY README.md /': 'ran',
    });

    const again = await run(dir, cacheDir);
    expect(again.digest).toBe(first.digest);
    expect(Object.values(again.status)).toEqual(['cached', 'cached', 'cached', 'cached', 'cached', 'cached']);

    writeFileSync(join(dir, 'src/util.js'), 'util, edited');
    const edited = await run(dir, cacheDir);
    expect(edited.digest).not.toBe(first.digest);
    expect(edited.status).toEqual({
      'COPY package.json /app/': 'cached',
      'COPY lib /app/lib': 'cached',
      'COPY --from=deps /app /app': 'cached',
      'WORKDIR /app/data': 'cached',
      'COPY src /app/src': 'ran',
      'COPY README.md /': 'ran',
    });

    writeFileSync(join(dir, 'lib/one.js'), '1, edited');
    const dep = await run(dir, cacheDir);
    expect(dep.status).toEqual({
      'COPY package.json /app/': 'cached',
      'COPY lib /app/lib': 'ran',
      'COPY --from=deps /app /app': 'ran',
      'WORKDIR /app/data': 'ran',
      'COPY src /app/src': 'ran',
      'COPY README.md /': 'ran',
    });
  });

  it('ignores files .dockerignore excludes, and mtimes', async () => {
    const dir = context('b', { Dockerfile: 'FROM scratch\nCOPY . /ctx\n', '.dockerignore': '*.log\n', 'a.txt': 'a', 'debug.log': 'x' });
    const cacheDir = join(root, 'store-b');
    const first = await run(dir, cacheDir);
    writeFileSync(join(dir, 'debug.log'), 'changed log');
    const { utimesSync } = await import('node:fs');
    utimesSync(join(dir, 'a.txt'), new Date(0), new Date(0));
    const again = await run(dir, cacheDir);
    expect(again.status).toEqual({ 'COPY . /ctx': 'cached' });
    // The key never covers mtimes: the hit reuses the stored layer, so the image is the same.
    expect(again.digest).toBe(first.digest);
  });

  it('gives the same digest from a fresh store and with noCache', async () => {
    const dir = context('c', { Dockerfile: 'FROM scratch\nCOPY x /x\nLABEL a=b\n', x: 'content' });
    const one = await run(dir, join(root, 'store-c1'));
    const two = await run(dir, join(root, 'store-c2'));
    const three = await run(dir, join(root, 'store-c1'), { noCache: true });
    expect(two.digest).toBe(one.digest);
    expect(three.digest).toBe(one.digest);
    expect(three.status).toEqual({ 'COPY x /x': 'ran' });
  });
});
