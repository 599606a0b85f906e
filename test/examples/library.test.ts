/**
 * examples/library/build.ts, run as its README says (tsx; `build-image` resolves to this
 * package's dist/), offline on examples/hello: its progress lines, a cached rebuild, a time limit
 * that stops the build, and a failing build reported with the CLI's format.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/shared.js';
import { storedImage, tempDir, writeContext } from '../cli/helpers.js';

const tmp = tempDir('examples-library');
afterAll(() => tmp.cleanup());

const tsx = join(repoRoot, 'node_modules/.bin/tsx');

function runExample(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(tsx, [join(repoRoot, 'examples/library/build.ts'), ...args], { cwd: repoRoot, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** Times vary; nothing else may. */
const norm = (s: string) => s.replace(/\(\d+ ms\)/g, '(# ms)').replace(/ in \d+ ms$/gm, ' in # ms');

describe('examples/library/build.ts', () => {
  const store = join(tmp.path, 'xdg/build-image');
  const env = { XDG_CACHE_HOME: join(tmp.path, 'xdg') };

  it('builds examples/hello, printing each event, then the image ID and where the image went', async () => {
    const r = await runExample(['examples/hello', 'hello:lib'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const image = await storedImage(store, 'hello:lib');
    expect(norm(r.stdout)).toBe(
      [
        'plan    1 stage(s), 2 step(s)',
        'start   [1/2] COPY hello.txt /hello.txt',
        'done    [1/2] COPY hello.txt /hello.txt (# ms)',
        'start   [2/2] COPY <<EOF /etc/motd',
        'done    [2/2] COPY <<EOF /etc/motd (# ms)',
        `built   ${image.digest()} in # ms`,
        `image   ${image.configDigest()} (the image ID)`,
        `output  store ${store}:hello:lib`,
        '',
      ].join('\n'),
    );
  });

  it('the second run is all cache hits and the same image', async () => {
    const r = await runExample(['examples/hello', 'hello:lib'], env);
    expect(r.code).toBe(0);
    const image = await storedImage(store, 'hello:lib');
    expect(norm(r.stdout)).toBe(
      [
        'plan    1 stage(s), 2 step(s)',
        'cached  [1/2] COPY hello.txt /hello.txt',
        'cached  [2/2] COPY <<EOF /etc/motd',
        `built   ${image.digest()} in # ms`,
        `image   ${image.configDigest()} (the image ID)`,
        `output  store ${store}:hello:lib`,
        '',
      ].join('\n'),
    );
  });

  it('with a build context for its base: busybox-offline, RUN output printed under its step', async () => {
    const { busyboxLayout } = await import('../../fixtures/busybox.js');
    const layout = await busyboxLayout();
    const ctx = writeContext(tmp.path, 'run', { Dockerfile: 'FROM busybox\nRUN echo one && echo two\n' });
    const r = await runExample([ctx, 'run:lib', `busybox=oci-layout://${layout.dir}:latest`], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const image = await storedImage(store, 'run:lib');
    expect(norm(r.stdout)).toBe(
      [
        'plan    1 stage(s), 1 step(s)',
        `start   [1/2] FROM busybox@${layout.digest}`,
        `done    [1/2] FROM busybox@${layout.digest} (# ms)`,
        'start   [2/2] RUN echo one && echo two',
        '        | one',
        '        | two',
        'done    [2/2] RUN echo one && echo two (# ms)',
        `built   ${image.digest()} in # ms`,
        `image   ${image.configDigest()} (the image ID)`,
        `output  store ${store}:run:lib`,
        '',
      ].join('\n'),
    );
  });

  it('a time limit stops the build: a clear message, exit 1, nothing tagged', async () => {
    const xdg = join(tmp.path, 'xdg-timeout');
    const r = await runExample(['examples/hello', 'hello:late'], { XDG_CACHE_HOME: xdg, BUILD_TIMEOUT_MS: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('timed out after 1 ms: the build was stopped\n');
    const index = join(xdg, 'build-image/index.json');
    expect(existsSync(index) ? readFileSync(index, 'utf8') : '').not.toContain('hello:late');
  });

  it('a failing build is reported as the CLI reports it (code, frame, hint), exit 1', async () => {
    const ctx = writeContext(tmp.path, 'broken', { Dockerfile: 'FROM scratch\nCOPY missing.txt /\n' });
    const r = await runExample([ctx], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'error CONTEXT_SOURCE_NOT_FOUND: "/missing.txt": not found in the build context (source "missing.txt")',
        `  at ${ctx}/Dockerfile:2:1 (line 2, column 1)`,
        '  1 | FROM scratch',
        '> 2 | COPY missing.txt /',
        '    | ^^^^^^^^^^^^^^^^^^',
        '',
      ].join('\n'),
    );
  });
});
