/**
 * `npx build-image .` in a directory holding a Dockerfile, with no flags at all: the package's
 * bin as npm runs it (a project with build-image in node_modules), the default store
 * ($XDG_CACHE_HOME/build-image, else ~/.cache/build-image), and a summary that says where the
 * image went and how to load or push it — and those instructions work.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/shared.js';
import { hasTool } from '../support/tools.js';
import { normalisePlain, storedImage, tempDir } from './helpers.js';

const tmp = tempDir('cli-npx');
afterAll(() => tmp.cleanup());

/** A project that depends on build-image (linked to this checkout), and an app dir in it. */
function project(): { app: string } {
  const root = join(tmp.path, 'project');
  mkdirSync(join(root, 'node_modules/.bin'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'some-project', private: true, devDependencies: { 'build-image': '*' } }));
  symlinkSync(repoRoot, join(root, 'node_modules/build-image'));
  symlinkSync('../build-image/dist/bin/build-image.mjs', join(root, 'node_modules/.bin/build-image'));
  const app = join(root, 'my-app');
  cpSync(join(repoRoot, 'examples/hello'), app, { recursive: true });
  return { app };
}

const npx = existsSync(join(dirname(process.execPath), 'npx')) ? join(dirname(process.execPath), 'npx') : 'npx';

function runNpx(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(npx, args, { cwd, env }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      // npm's own notices (configuration warnings of this machine) are not ours.
      const ours = stderr
        .split('\n')
        .filter((l) => !/^npm (warn|notice)/i.test(l))
        .join('\n');
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr: ours });
    });
  });
}

describe('npx build-image . (no flags)', () => {
  const { app } = project();
  const base: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };
  delete base['XDG_CACHE_HOME'];
  delete base['CI'];

  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['$XDG_CACHE_HOME/build-image', { XDG_CACHE_HOME: join(tmp.path, 'xdg') }, join(tmp.path, 'xdg/build-image')],
    ['~/.cache/build-image without XDG_CACHE_HOME', { HOME: join(tmp.path, 'home') }, join(tmp.path, 'home/.cache/build-image')],
  ])('builds into the store at %s and says where it went and how to load or push it', async (_what, env, store) => {
    const r = await runNpx(['--offline', '--no-install', 'build-image', '.'], app, { ...base, ...env });
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    const image = await storedImage(store, 'my-app:latest');
    expect(normalisePlain(r.stderr).replace(image.digest(), '<image>')).toBe(
      [
        '#1 [1/2] COPY hello.txt /hello.txt',
        '#1 DONE #s',
        '#2 [2/2] COPY <<EOF /etc/motd',
        '#2 DONE #s',
        '#3 DONE #s: <digest>',
        `built <digest>`,
        `  stored in the local image store (an OCI layout): ${store}:my-app:latest`,
        `  load into docker:  skopeo copy oci:${store}:my-app:latest docker-daemon:my-app:latest`,
        '               or:  build-image -o type=docker,dest=image.tar … && docker load -i image.tar',
        '  push:             build-image -t REGISTRY/NAME:TAG --push …',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toContain(`built ${image.digest()}\n`);
    expect(image.config.config?.Cmd).toEqual(['/hello.txt']);
  });

  describe.runIf(hasTool('skopeo', 'skopeo'))('the printed skopeo reference', () => {
    it('names the image in the store (skopeo reads the same manifest)', async () => {
      const store = join(tmp.path, 'xdg/build-image');
      const image = await storedImage(store, 'my-app:latest');
      const r = spawnSync('skopeo', ['inspect', '--raw', `oci:${store}:my-app:latest`], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(Buffer.from(r.stdout)).toEqual(image.manifestBytes());
    });
  });
});
