/**
 * Runs the RUN cases as the (unprivileged) user it is started as, in rootless mode, and prints
 * the results as JSON: `node --import tsx rootless-child.ts <store dir> <runtime>…`.
 * Started by rootless.test.ts under `setpriv --reuid …`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../../../src/store/store.js';
import { CASES, type CaseEnv } from './cases.js';
import { busyboxLayers, entries, execute, type Mode } from './support.js';

interface Result {
  lines?: string[];
  expected?: string[];
  output?: string;
  expectOutput?: string;
  diffID?: string;
  error?: { code?: string; message: string; suggestion?: string };
}

const [dir, ...runtimes] = process.argv.slice(2);
const only = process.env['CASES'];
const results: Record<string, Record<string, Result>> = {};
await busyboxLayers();
for (const runtime of runtimes) {
  const mode: Mode = { name: runtime, runtime, snapshotter: 'overlay' };
  const store = await openStore({ root: join(dir!, `store-${runtime}`) });
  const out: Record<string, Result> = {};
  for (const c of CASES) {
    if (only !== undefined && !only.split(',').includes(c.name)) continue;
    const tmp = join(dir!, `tmp-${runtime}-${Object.keys(out).length}`);
    await mkdir(tmp, { recursive: true });
    const env: CaseEnv = { store, tmp, run: (step, more = {}) => execute(mode, step, { store, ...more }) };
    try {
      const r = await c.run(env);
      out[c.name] = { lines: await entries(r.layer), expected: r.expected, output: r.output, expectOutput: r.expectOutput, diffID: r.layer.diffID };
    } catch (err) {
      const e = err as { code?: string; message: string; suggestion?: string };
      out[c.name] = { error: { code: e.code, message: e.message, suggestion: e.suggestion } };
    }
  }
  results[runtime] = out;
}
process.stdout.write(JSON.stringify(results));
