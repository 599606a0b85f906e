/**
 * The examples that build offline, built with the CLI as a user would:
 *
 * - `examples/busybox-offline`: two stages on the busybox-static fixture given as
 *   `--build-context busybox=oci-layout://DIR:latest`, a RUN step, COPY --from, USER and CMD.
 *   Where the machine allows it, the CLI runs in a network namespace of its own (`unshare -n`):
 *   nothing can reach the network, so the build is offline by construction.
 * - `examples/hello`: FROM scratch, a label from an ARG, a file and a heredoc.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout } from '../../fixtures/busybox.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { cliPath, runCli, type CliResult } from '../support/cli.js';
import { repoRoot } from '../support/shared.js';
import { imageTree, sha } from '../support/tree.js';
import { storedImage, tempDir } from '../cli/helpers.js';
import { hasPlatform } from '../support/tools.js';

const tmp = tempDir('examples-build');
afterAll(() => tmp.cleanup());

/** `unshare -n` works here (root, or a kernel that lets us): builds run with no network at all. */
const isolated = hasPlatform(spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status === 0, 'a network namespace (unshare -n)');
if (!isolated) console.warn('examples: `unshare -n` is not permitted here; the offline builds run in the host network namespace');

function runOffline(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  if (!isolated) return runCli(args, { env });
  return new Promise((resolve, reject) => {
    execFile('unshare', ['-n', process.execPath, cliPath, ...args], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

describe('examples/busybox-offline', () => {
  let layout: Awaited<ReturnType<typeof busyboxLayout>>;
  beforeAll(async () => {
    layout = await busyboxLayout();
  });

  const build = (cache: string, extra: string[] = [], env?: NodeJS.ProcessEnv) =>
    runOffline(['build', '--cache-dir', cache, '--progress', 'plain', '--build-context', `busybox=oci-layout://${layout.dir}:latest`, ...extra, join(repoRoot, 'examples/busybox-offline')], env);

  it('builds offline: /srv holds what the RUN step made, the config is the final stage’s', async () => {
    const cache = join(tmp.path, 'cache-offline');
    const r = await build(cache);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    // The RUN step ran (it is no cache hit) in the first stage.
    expect(r.stderr).toMatch(/^#\d+ \[build 4\/4\] RUN tr 'a-z' 'A-Z' < greeting\.txt > shout\.txt && wc -c shout\.txt > size\.txt$/m);
    expect(r.stderr).toContain(`  stored in the local image store (an OCI layout): ${cache}:busybox-offline:latest\n`);

    const image = await storedImage(cache, 'busybox-offline:latest');
    expect(await imageTree(image, { under: 'srv' })).toEqual([
      'd 0755 0:0 srv',
      `f 0644 0:0 srv/shout.txt ${sha('HELLO, OFFLINE WORLD\n')}`,
      `f 0644 0:0 srv/size.txt ${sha('21 shout.txt\n')}`,
    ]);
    // Nothing of the build stage (its WORKDIR, greeting.txt) is in the final image.
    expect((await imageTree(image)).filter((l) => l.includes('work'))).toEqual([]);
    const base = await readOciLayout(layout.dir, { tag: layout.ref });
    expect(image.layers.map((l) => l.digest)).toEqual([base.layers[0]!.digest, image.layers[1]!.digest]);
    expect(image.config.config).toEqual({ User: 'app', Env: ['PATH=/bin'], Cmd: ['cat', '/srv/shout.txt'], ArgsEscaped: true });
    expect(image.platform()).toEqual(base.platform());
    expect(image.config.history?.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      [base.config.history![0]!.created_by, false],
      ['COPY /work/shout.txt /work/size.txt /srv/ # buildkit', false],
      ['USER app', true],
      ['CMD ["cat" "/srv/shout.txt"]', true],
    ]);
  });

  it('with SOURCE_DATE_EPOCH two cold builds make the same image, and a rebuild is all CACHED', async () => {
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    const a = join(tmp.path, 'cache-a');
    const b = join(tmp.path, 'cache-b');
    expect((await build(a, [], env)).code).toBe(0);
    expect((await build(b, [], env)).code).toBe(0);
    const digest = (await storedImage(a, 'busybox-offline:latest')).digest();
    expect((await storedImage(b, 'busybox-offline:latest')).digest()).toBe(digest);
    const again = await build(a, [], env);
    const steps = again.stderr.split('\n').filter((l) => /^#\d+ \[(build|stage-1) [2-9]/.test(l)).length;
    expect(again.stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(steps);
    expect(steps).toBe(4);
    expect(again.stderr).toContain(`built ${digest}\n`);
  });

  // Only where the build can be cut off from the network (else docker.io may well answer).
  it.runIf(isolated)('without the fixture the build needs the network, and says so', async () => {
    const r = await runOffline(['build', '--cache-dir', join(tmp.path, 'cache-none'), '--progress', 'quiet', join(repoRoot, 'examples/busybox-offline')]);
    expect(r.code).toBe(1);
    // Offline, docker.io cannot be reached: the error names the image and the line (both
    // stages resolve busybox at the same time; either may report first).
    expect(r.stderr).toMatch(/^error REGISTRY_UNREACHABLE: busybox: cannot reach registry docker\.io at https:\/\/registry-1\.docker\.io: /);
    expect(r.stderr).toMatch(/^> (4 \| FROM busybox AS build|9 \| FROM busybox)$/m);
  });
});

describe('examples/hello', () => {
  it('FROM scratch: a file, a heredoc, a label from an ARG, CMD', async () => {
    const cache = join(tmp.path, 'cache-hello');
    const r = await runOffline(['build', '--cache-dir', cache, '--progress', 'plain', join(repoRoot, 'examples/hello')]);
    expect(r.code).toBe(0);
    const image = await storedImage(cache, 'hello:latest');
    expect(await imageTree(image)).toEqual([
      'd 0755 0:0 etc',
      `f 0644 0:0 etc/motd ${sha('Built without a daemon.\n')}`,
      `f 0644 0:0 hello.txt ${sha('Hello from build-image.\n')}`,
    ]);
    // As BuildKit's empty image: WorkingDir / and the default PATH; CMD sets ArgsEscaped.
    expect(image.config.config).toEqual({
      Labels: { greeting: 'hello', 'org.opencontainers.image.title': 'hello' },
      Cmd: ['/hello.txt'],
      ArgsEscaped: true,
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      WorkingDir: '/',
    });
    expect(image.layers).toHaveLength(2);
  });

  it('--build-arg GREETING changes the label only: the layers are cache hits', async () => {
    const cache = join(tmp.path, 'cache-hello-arg');
    const dir = join(tmp.path, 'hello');
    cpSync(join(repoRoot, 'examples/hello'), dir, { recursive: true });
    await runOffline(['build', '--cache-dir', cache, '--progress', 'quiet', '-t', 'hello:1', dir]);
    const r = await runOffline(['build', '--cache-dir', cache, '--progress', 'plain', '-t', 'hello:2', '--build-arg', 'GREETING=hi', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(2);
    const [one, two] = [await storedImage(cache, 'hello:1'), await storedImage(cache, 'hello:2')];
    expect(two.config.config?.Labels).toEqual({ greeting: 'hi', 'org.opencontainers.image.title': 'hello' });
    expect(two.layers.map((l) => l.digest)).toEqual(one.layers.map((l) => l.digest));
  });
});
