#!/usr/bin/env node
/**
 * Parallel stages: three independent stages of `RUN sleep 1` joined by a final stage. With the
 * stages run side by side, a cold build takes about one second plus overhead; run one at a
 * time (--jobs 1) it takes three. Printed side by side with BuildKit (Docker's engine) when a
 * Docker engine answers (see ../shared/anchors/setup.sh to start one here).
 *
 *     node bench/parallel.mjs            # 3 rounds each
 *     BENCH_ROUNDS=5 node bench/parallel.mjs
 *
 * build-image runs with --jobs 4: the default is the CPU count, and a 2-CPU machine would run
 * only two of the three sleeps at once (sleeping takes no CPU; BuildKit has no limit by
 * default). Needs root (RUN), busybox-static and a built dist/ (made if missing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/bin/build-image.mjs');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const log = (m) => process.stderr.write(m + '\n');

if (!existsSync(bin)) {
  log('building dist/ first (npm run build)');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}

// The busybox-static base as an OCI layout (the test fixture).
const layout = JSON.parse(
  execFileSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./fixtures/busybox.ts').then(async (m) => process.stdout.write(JSON.stringify(await m.busyboxLayout())))"],
    { cwd: root, encoding: 'utf8' },
  ),
);

const work = mkdtempSync(join(tmpdir(), 'bench-parallel-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const dockerfile = (base) =>
  [
    ...['a', 'b', 'c'].flatMap((s) => [`FROM ${base} AS ${s}`, `RUN sleep 1 && echo ${s} > /out`]),
    `FROM ${base}`,
    ...['a', 'b', 'c'].map((s) => `COPY --from=${s} /out /${s}`),
    '',
  ].join('\n');

const ctxOurs = join(work, 'ours');
const ctxDocker = join(work, 'docker');
for (const [dir, base] of [
  [ctxOurs, 'base'],
  [ctxDocker, 'localhost/busybox:bench-parallel'],
]) {
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile(base));
}

function seconds(cmd, args, env = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${(r.stderr ?? '').slice(-3000)}`);
  return secs;
}

const cacheDir = join(work, 'cache');
const ours = (jobs) => () =>
  seconds(process.execPath, [
    bin,
    'build',
    '--progress',
    'quiet',
    '--no-cache',
    '--jobs',
    String(jobs),
    '--cache-dir',
    cacheDir,
    '--build-context',
    `base=oci-layout://${layout.dir}@${layout.digest}`,
    '-o',
    `type=oci,dest=${join(work, 'out.tar')}`,
    ctxOurs,
  ]);

const tools = [
  ['build-image --jobs 4', ours(4)],
  ['build-image --jobs 1', ours(1)],
];
const docker = '/usr/bin/docker';
if (existsSync(docker) && spawnSync(docker, ['info'], { stdio: 'ignore' }).status === 0) {
  // The same base for BuildKit, loaded into the engine from the layout.
  if (spawnSync(docker, ['image', 'inspect', 'localhost/busybox:bench-parallel'], { stdio: 'ignore' }).status !== 0) {
    const tar = join(work, 'base.tar');
    execFileSync('skopeo', ['copy', '-q', `oci:${layout.dir}:${layout.ref}`, `docker-archive:${tar}:localhost/busybox:bench-parallel`]);
    execFileSync(docker, ['load', '-q', '-i', tar]);
  }
  tools.push([
    'BuildKit (docker build)',
    () => seconds(docker, ['build', '--no-cache', '--network=host', '-q', '-t', 'bench-parallel', ctxDocker], { DOCKER_BUILDKIT: '1' }),
  ]);
} else {
  log('no Docker engine answers: BuildKit is left out (../shared/anchors/setup.sh starts one)');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const [name, run] of tools) {
  run(); // warm-up: base unpacked, images loaded
  const times = Array.from({ length: rounds }, () => run());
  log(`${name}: ${times.map((t) => t.toFixed(2)).join(' ')} s`);
  rows.push([name, median(times)]);
}
const buildkit = rows.find(([n]) => n.startsWith('BuildKit'))?.[1];
console.log(`\nthree parallel \`sleep 1\` stages + a final stage, cold (--no-cache), median of ${rounds}:`);
for (const [name, t] of rows) {
  console.log(`  ${name.padEnd(26)} ${t.toFixed(2)} s${buildkit ? `   ×${(t / buildkit).toFixed(2)} of BuildKit` : ''}`);
}
