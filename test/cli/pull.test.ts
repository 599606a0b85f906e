/**
 * `--pull` and `--push` against a real registry (CNCF distribution, Debian `docker-registry`, on
 * 127.0.0.1): a tag resolved once is reused by later builds, as `docker build` reuses a local
 * image, until `--pull` asks the registry again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../registry/support/registry-server.js';
import { hasTool } from '../support/tools.js';
import { imageTree, sha } from '../support/tree.js';
import { busybox, buildWith, storedImage, summary, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-pull');
afterAll(() => tmp.cleanup());

describe.runIf(hasTool('docker-registry', 'docker-registry') && hasTool('busybox', 'busybox-static'))('--pull and --push with a registry', () => {
  let registry: RunningRegistry;
  let bb: Awaited<ReturnType<typeof busybox>>;
  beforeAll(async () => {
    [registry, bb] = await Promise.all([startRegistry(), busybox()]);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  /** Pushes a base image whose /version.txt says `version` to REGISTRY/base:latest; its digest. */
  async function pushBase(version: string): Promise<string> {
    const ctx = writeContext(tmp.path, `base-${version}`, { Dockerfile: 'FROM busybox\nCOPY version.txt /\n', 'version.txt': `${version}\n` });
    const r = await buildWith(`${tmp.path}/cache-publisher`, ['--progress', 'quiet', '-t', `${registry.host}/base:latest`, '--push', ...bb.flags, ctx]);
    expect(r.code).toBe(0);
    const pushed = summary(r.stderr).find((l) => l.startsWith('  pushed '));
    const m = /^  pushed (\S+)@(sha256:[0-9a-f]{64})$/.exec(pushed ?? '');
    expect(m?.[1]).toBe(`${registry.host}/base:latest`);
    return m![2]!;
  }

  it('a tag is resolved once and reused; --pull asks again and takes the new image', async () => {
    const one = await pushBase('one');
    const app = writeContext(tmp.path, 'app', { Dockerfile: `FROM ${registry.host}/base:latest\nLABEL app=1\n` });
    const cache = `${tmp.path}/cache-app`;
    const build = async (flags: string[], tag: string) => {
      const r = await buildWith(cache, ['--progress', 'plain', '-t', tag, ...flags, app]);
      expect(r.code).toBe(0);
      const from = /^#\d+ \[1\/1\] FROM (\S+)$/m.exec(r.stderr)?.[1];
      const versions = (await imageTree(await storedImage(cache, tag))).filter((l) => l.includes('version.txt'));
      return { from, versions };
    };
    const v1 = [`f 0644 0:0 version.txt ${sha('one\n')}`];
    const v2 = [`f 0644 0:0 version.txt ${sha('two\n')}`];

    expect(await build([], 'app:1')).toEqual({ from: `${registry.host}/base:latest@${one}`, versions: v1 });
    const two = await pushBase('two');
    expect(two).not.toBe(one);
    // The registry has moved on; without --pull the build keeps the digest it resolved before.
    expect(await build([], 'app:2')).toEqual({ from: `${registry.host}/base:latest@${one}`, versions: v1 });
    expect(await build(['--pull'], 'app:3')).toEqual({ from: `${registry.host}/base:latest@${two}`, versions: v2 });
    // And from then on the new resolution is the one reused.
    expect(await build([], 'app:4')).toEqual({ from: `${registry.host}/base:latest@${two}`, versions: v2 });
  });

  it('a fresh store always asks the registry (there is nothing to reuse)', async () => {
    const latest = await pushBase('three');
    const app = writeContext(tmp.path, 'app-fresh', { Dockerfile: `FROM ${registry.host}/base:latest\n` });
    const r = await buildWith(`${tmp.path}/cache-fresh`, ['--progress', 'plain', app]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`FROM ${registry.host}/base:latest@${latest}\n`);
  });
});
