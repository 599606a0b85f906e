#!/usr/bin/env node
/**
 * Parser throughput over the real-world corpus (../shared/corpus/real-world, or
 * $BUILD_IMAGE_SHARED/corpus/real-world), side by side with dockerfile-ast (the TypeScript
 * Dockerfile parser peer) in the same process and run. Both produce a full AST with ranges:
 * ours via parseDockerfile(); dockerfile-ast via parse() plus the instructions' arguments,
 * flags, comments and directives (its model computes them on demand).
 *
 * Rounds alternate between the two parsers so that machine noise hits both alike; the table
 * gives the median round. Run `npm run bench:parser` (it builds dist/ first).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser } from 'dockerfile-ast';
import { parseDockerfile } from '../dist/src/syntax/parse.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sharedDir = process.env.BUILD_IMAGE_SHARED ? resolve(process.env.BUILD_IMAGE_SHARED) : resolve(root, '../shared');
const corpus = join(sharedDir, 'corpus/real-world');
const texts = readdirSync(corpus)
  .filter((f) => !f.endsWith('.md') && !f.endsWith('.tsv') && statSync(join(corpus, f)).isFile())
  .sort()
  .map((f) => readFileSync(join(corpus, f), 'utf8'));
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);

const parsers = {
  'build-image': (text) => {
    const r = parseDockerfile(text);
    if (r.errors.length > 0) throw new Error(r.errors[0].message);
    return r.ast.instructions.length;
  },
  'dockerfile-ast': (text) => {
    const d = DockerfileParser.parse(text);
    let n = 0;
    for (const i of d.getInstructions()) {
      n += i.getArguments().length;
      if (typeof i.getFlags === 'function') n += i.getFlags().length;
    }
    n += d.getComments().length + d.getDirectives().length;
    return n;
  },
};

const passes = Number(process.env.BENCH_PASSES ?? 10); // corpus passes per round
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const times = Object.fromEntries(Object.keys(parsers).map((k) => [k, []]));

for (const fn of Object.values(parsers)) for (let i = 0; i < 3; i++) for (const t of texts) fn(t); // warm-up
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? Object.keys(parsers) : Object.keys(parsers).reverse();
  for (const name of order) {
    const fn = parsers[name];
    const t0 = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) for (const t of texts) fn(t);
    times[name].push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = Object.keys(parsers).map((name) => {
  const s = median(times[name]);
  return { name, mbs: (bytes * passes) / s / 1e6, fps: (texts.length * passes) / s };
});
const base = rows.find((r) => r.name === 'dockerfile-ast');
console.log(`Parser throughput: ${texts.length} real-world Dockerfiles (${(bytes / 1024).toFixed(0)} KiB), ${rounds} rounds × ${passes} passes, median round`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
console.log('| parser         |   MB/s | files/s | vs dockerfile-ast |');
console.log('|----------------|-------:|--------:|------------------:|');
for (const r of rows) {
  console.log(`| ${r.name.padEnd(14)} | ${r.mbs.toFixed(2).padStart(6)} | ${r.fps.toFixed(0).padStart(7)} | ${(r.mbs / base.mbs).toFixed(2).padStart(16)}× |`);
}
