#!/usr/bin/env node
/**
 * Builds side by side: build-image, BuildKit (Debian's Docker engine) and Buildah, on the
 * anchor scenarios (../shared/anchors/scenarios.sh), several rounds each, printing the median
 * wall time per tool and the ratio to BuildKit, plus peak memory of the large-context build.
 *
 *   npm run bench                 # all scenarios, 3 rounds
 *   BENCH_ROUNDS=5 npm run bench
 *   BENCH_ONLY=multistage npm run bench
 *
 * Prerequisites (root, this kind of machine): ../shared/anchors/setup.sh (Docker engine,
 * Buildah, busybox anchor) and ../shared/anchors/registry.sh (loopback registry holding the
 * base). Tools that are missing are left out of the table, never faked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.BUILD_IMAGE_SHARED ? resolve(process.env.BUILD_IMAGE_SHARED) : resolve(root, '../shared');
const anchors = join(shared, 'anchors');
const scen = process.env.SCEN ?? '/tmp/anchors/scen';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const only = process.env.BENCH_ONLY?.split(',');
const bin = join(root, 'dist/bin/build-image.mjs');

function ok(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function log(msg) {
  process.stderr.write(msg + '\n');
}

// --- prerequisites ------------------------------------------------------------------------------
if (!existsSync(bin)) {
  log('building dist/ first (npm run build)');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
const tools = { 'build-image': true, BuildKit: ok('/usr/bin/docker', ['info']), Buildah: ok('buildah', ['--version']) };
if (!ok('curl', ['-sf', 'http://127.0.0.1:5000/v2/'])) {
  if (existsSync(join(anchors, 'registry.sh')) && ok('skopeo', ['--version'])) {
    log('starting the loopback registry (anchors/registry.sh)');
    execFileSync('bash', [join(anchors, 'registry.sh')], { stdio: 'inherit' });
  } else {
    log('no registry on 127.0.0.1:5000 and anchors/registry.sh cannot run: run ../shared/anchors/setup.sh first');
    process.exit(2);
  }
}
if (!existsSync(join(scen, 'multistage'))) execFileSync('bash', [join(anchors, 'scenarios.sh')], { stdio: 'inherit', env: { ...process.env, SCEN: scen } });

// --- runners -------------------------------------------------------------------------------------
const cacheDir = mkdtempSync(join(tmpdir(), 'build-image-bench-'));
process.on('exit', () => rmSync(cacheDir, { recursive: true, force: true }));

/** Runs one build; returns seconds and peak RSS (KiB) measured by /usr/bin/time. */
function timed(cmd, args, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  const [secs, kib] = last.split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
  return { secs, kib };
}

function run(tool, mode, scenario) {
  const dir = join(scen, scenario);
  if (tool === 'build-image') {
    const args = [bin, 'build', '--progress', 'quiet', '--cache-dir', cacheDir, '-t', `bench-${scenario}`];
    if (mode === 'cold') args.push('--no-cache');
    return timed(process.execPath, [...args, dir]);
  }
  const t = tool === 'BuildKit' ? 'buildkit' : 'buildah';
  return timed('bash', [join(anchors, 'build.sh'), t, mode, scenario], { SCEN: scen });
}

function edit(scenario) {
  const dir = join(scen, scenario);
  const files = [];
  const walk = (d) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n !== 'Dockerfile' && n !== '.dockerignore') files.push(p);
    }
  };
  walk(dir);
  appendFileSync(files.sort()[0], `${process.hrtime.bigint()}\n`);
}

// --- scenarios -----------------------------------------------------------------------------------
// [scenario, mode, goal (ratio to BuildKit), description]
const cases = [
  ['multistage', 'cold', 1.0, 'small multi-stage build, cold'],
  ['multistage', 'noop', 1.5, 'small multi-stage build, no-op rebuild'],
  ['parallel', 'cold', 1.0, 'three parallel `sleep 1` stages, cold'],
  ['bigctx', 'cold', 1.0, '20,000 files / 130 MB context, cold'],
  ['bigctx', 'noop', 0.5, '20,000 files / 130 MB context, no-op rebuild'],
  ['bigctx', 'edit', 0.5, '20,000 files / 130 MB context, one file edited'],
  ['runheavy', 'cold', 1.0, 'RUN-heavy: 64 MB write, delete, 2,000 files'],
].filter(([s]) => !only || only.includes(s));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
let peakBig = 0;
for (const [scenario, mode, goal, description] of cases) {
  const times = {};
  for (const tool of Object.keys(tools).filter((t) => tools[t])) {
    times[tool] = [];
    // Prime: the base image in each tool's store, and the cache for warm modes.
    run(tool, 'warm', scenario);
    for (let r = 0; r < rounds; r++) {
      if (mode === 'edit') edit(scenario);
      const { secs, kib } = run(tool, mode === 'cold' ? 'cold' : 'warm', scenario);
      times[tool].push(secs);
      if (tool === 'build-image' && scenario === 'bigctx') peakBig = Math.max(peakBig, kib);
    }
    log(`${description}: ${tool} ${times[tool].map((t) => t.toFixed(2)).join(' ')}`);
  }
  rows.push({ description, goal, med: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) });
}

const fmt = (v) => (v === undefined ? '—' : `${v.toFixed(2)} s`);
console.log(`\nbuild-image vs BuildKit vs Buildah — median of ${rounds} rounds; ${cpus().length} CPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
console.log('| scenario | build-image | BuildKit | Buildah | build-image / BuildKit | goal |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = r.med.BuildKit ? r.med['build-image'] / r.med.BuildKit : undefined;
  const met = ratio === undefined ? '' : ratio <= r.goal ? ' ✓' : ' ✗';
  console.log(`| ${r.description} | ${fmt(r.med['build-image'])} | ${fmt(r.med.BuildKit)} | ${fmt(r.med.Buildah)} | ${ratio === undefined ? '—' : ratio.toFixed(2) + '×' + met} | ≤ ${r.goal}× |`);
}
if (peakBig > 0) console.log(`\nPeak memory of build-image on the large context: ${(peakBig / 1024).toFixed(0)} MiB (goal ≤ 300 MiB)`);
