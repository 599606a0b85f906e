/**
 * `--load`: the image piped into `docker load` (or `podman load`). Engines are stand-ins on a
 * PATH the test controls (they record what they are given), so the contract is checked
 * everywhere; with a real docker daemon (`docker info` works) the image is also loaded and run.
 * CI has no docker: that part skips with a message — an engine is a platform condition, not a
 * package the pretest step can install.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar } from '../../src/image/tar.js';
import { repoRoot } from '../support/shared.js';
import { busybox, buildWith, storedImage, summary, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-load');
afterAll(() => tmp.cleanup());

const HELLO = { Dockerfile: 'FROM scratch\nCOPY a.txt /\nCMD ["/a.txt"]\n', 'a.txt': 'a\n' };

/** A PATH holding `sh` and the given stand-in engines (shell scripts) — and nothing else. */
function fakePath(name: string, engines: Readonly<Record<string, string>>): string {
  const bin = join(tmp.path, name);
  mkdirSync(bin, { recursive: true });
  symlinkSync('/bin/sh', join(bin, 'sh'));
  for (const [engine, script] of Object.entries(engines)) {
    writeFileSync(join(bin, engine), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, engine), 0o755);
  }
  return bin;
}

/** The entries of a docker archive: file name → content (JSON files only). */
async function archiveJson(file: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const e of readTar(Readable.from(readFileSync(file)))) {
    if (e.type !== 'file') continue;
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(Buffer.from(c as Uint8Array));
    if (e.path.endsWith('.json') || e.path === 'repositories') out[e.path] = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    else out[e.path] = `${Buffer.concat(chunks).length} bytes`;
  }
  return out;
}

describe('--load with stand-in engines', () => {
  it('no docker and no podman: CLI_NO_ENGINE before anything is built, exit 1', async () => {
    const ctx = writeContext(tmp.path, 'none', HELLO);
    const cache = join(tmp.path, 'cache-none');
    const path = fakePath('bin-none', {});
    const r = await buildWith(cache, ['--progress', 'plain', '--load', ctx], { env: { ...process.env, PATH: path } });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error CLI_NO_ENGINE: --load needs docker or podman, and neither is installed\n' +
        'hint: write an archive with -o type=docker,dest=image.tar and load it where an engine runs\n',
    });
    expect(existsSync(join(cache, 'index.json'))).toBe(false);
  });

  it('docker load gets a docker archive of the image, tagged with every -t; the summary says so', async () => {
    const ctx = writeContext(tmp.path, 'docker', HELLO);
    const cache = join(tmp.path, 'cache-docker');
    const received = join(tmp.path, 'docker-received.tar');
    const path = fakePath('bin-docker', {
      docker: `[ "$1" = load ] || exit 64\n/bin/cat > "${received}"\necho "Loaded image: app:1"`,
      podman: 'exit 99',
    });
    const r = await buildWith(cache, ['--progress', 'quiet', '--load', '-t', 'app:1', '-t', 'app:latest', '--iidfile', join(ctx, 'iid'), ctx], {
      env: { ...process.env, PATH: path },
    });
    expect(r.code).toBe(0);
    expect(r.stderr.startsWith('Loaded image: app:1\n')).toBe(true);
    expect(summary(r.stderr).at(-1)).toBe('  loaded into docker as app:1');
    const image = await storedImage(cache, 'app:1');
    const iid = readFileSync(join(ctx, 'iid'), 'utf8');
    const files = await archiveJson(received);
    // `docker save`'s layout: the config as <ID>.json, each layer uncompressed as <diff_id>.tar.
    expect(files['manifest.json']).toEqual([
      { Config: `${iid.slice(7)}.json`, RepoTags: ['app:1', 'app:latest'], Layers: image.config.rootfs.diff_ids.map((d) => `${d.slice(7)}.tar`) },
    ]);
    expect(files[`${iid.slice(7)}.json`]).toEqual(image.config);
  });

  it('podman is used when there is no docker', async () => {
    const ctx = writeContext(tmp.path, 'podman', HELLO);
    const received = join(tmp.path, 'podman-received.tar');
    const path = fakePath('bin-podman', { podman: `[ "$1" = load ] || exit 64\n/bin/cat > "${received}"\necho "Loaded image: localhost/p:1"` });
    const r = await buildWith(join(tmp.path, 'cache-podman'), ['--progress', 'quiet', '--load', '-t', 'p:1', ctx], { env: { ...process.env, PATH: path } });
    expect(r.code).toBe(0);
    expect(summary(r.stderr).at(-1)).toBe('  loaded into podman as p:1');
    expect(Object.keys(await archiveJson(received))).toContain('manifest.json');
  });

  it('an engine that refuses the image: CLI_LOAD_FAILED with its message, exit 1', async () => {
    const ctx = writeContext(tmp.path, 'refuses', HELLO);
    const path = fakePath('bin-refuses', { docker: '/bin/cat > /dev/null\necho "Error response from daemon: no space left on device" >&2\nexit 3' });
    const r = await buildWith(join(tmp.path, 'cache-refuses'), ['--progress', 'quiet', '--load', ctx], { env: { ...process.env, PATH: path } });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error CLI_LOAD_FAILED: docker load failed (exit 3): Error response from daemon: no space left on device\n' });
  });

  it('an engine that exits without reading: CLI_LOAD_FAILED, no crash', async () => {
    const ctx = writeContext(tmp.path, 'early', { Dockerfile: 'FROM scratch\nCOPY big.bin /\n', 'big.bin': 'x'.repeat(4 * 1024 * 1024) });
    const path = fakePath('bin-early', { docker: 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2\nexit 1' });
    const r = await buildWith(join(tmp.path, 'cache-early'), ['--progress', 'quiet', '--load', ctx], { env: { ...process.env, PATH: path } });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error CLI_LOAD_FAILED: docker load failed (exit 1): Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n',
    });
  });
});

const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
if (!dockerWorks) console.warn('skipping --load into a real docker daemon: `docker info` fails here (no engine is a platform condition)');

describe.runIf(dockerWorks)('--load into a real docker daemon', () => {
  const tag = `build-image-test/offline:${process.pid}`;
  afterAll(() => {
    spawnSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  });

  let bb: Awaited<ReturnType<typeof busybox>>;
  beforeAll(async () => {
    bb = await busybox();
  });

  it('the busybox-offline example: docker knows it by its image ID and runs it', async () => {
    const cache = join(tmp.path, 'cache-real');
    const iidfile = join(tmp.path, 'real.iid');
    const r = await buildWith(cache, ['--progress', 'quiet', '--load', '-t', tag, '--iidfile', iidfile, ...bb.flags, join(repoRoot, 'examples/busybox-offline')]);
    expect(r.code).toBe(0);
    expect(summary(r.stderr).at(-1)).toBe(`  loaded into docker as ${tag}`);
    const inspect = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}} {{json .RepoTags}} {{.Config.User}} {{json .Config.Cmd}}', tag], { encoding: 'utf8' });
    expect(inspect.stdout.trim()).toBe(`${readFileSync(iidfile, 'utf8')} ["${tag}"] app ["cat","/srv/shout.txt"]`);
    const run = spawnSync('docker', ['run', '--rm', '--network', 'none', tag], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toBe('HELLO, OFFLINE WORLD\n');
  });
});
