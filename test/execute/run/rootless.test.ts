/**
 * Rootless mode: the same RUN cases, run by an unprivileged user (started with `setpriv
 * --reuid`), through both runners — each step in a helper inside a user namespace that maps
 * the user to root and its /etc/subuid range to the other ids. The layers must be the very
 * bytes a root build makes. A user without a subordinate range gets a clear error.
 *
 * Needs root (to create the test user `bi-rootless` with useradd, which gives it a subuid
 * range, and to switch to it). Where the kernel refuses user namespaces the tests skip with
 * the reason — and fail in CI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/store.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { repoRoot } from '../../support/shared.js';
import { CASES, type CaseEnv } from './cases.js';
import { busyboxLayers, execute, mountPoints, tempDir } from './support.js';

const USER = 'bi-rootless';

function ensureUser(): { uid: number; gid: number } {
  const id = spawnSync('id', ['-u', USER], { encoding: 'utf8' });
  if (id.status !== 0) execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', USER]);
  // useradd allocates a subordinate range only where /etc/subuid exists; make sure it has one.
  const listed = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${USER}:`));
    } catch {
      return false;
    }
  };
  if (!listed('/etc/subuid') || !listed('/etc/subgid')) {
    execFileSync('usermod', ['--add-subuids', '600000-665535', '--add-subgids', '600000-665535', USER]);
  }
  return {
    uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()),
  };
}

/** Why the kernel will not give `uid` a user namespace (undefined when it will). */
function kernelRefusal(uid: number, gid: number): string | undefined {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'unshare', '--user', '--map-root-user', '--mount', 'true'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const reason = `the kernel refuses user namespaces to an unprivileged user: ${r.stderr.trim()}`;
  if (process.env['CI'] === 'true') throw new Error(reason);
  return reason;
}

function runChild(uid: number, gid: number, dir: string, runtimes: string[], groups = '--init-groups', cases?: string[]) {
  const r = spawnSync(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      groups,
      'env',
      `HOME=${dir}`,
      `PATH=${process.env['PATH']}`,
      ...(cases ? [`CASES=${cases.join(',')}`] : []),
      process.execPath,
      '--import',
      'tsx',
      join(repoRoot, 'test/execute/run/rootless-child.ts'),
      dir,
      ...runtimes,
    ],
    { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`rootless child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, Record<string, { lines?: string[]; expected?: string[]; output?: string; expectOutput?: string; diffID?: string; error?: { code?: string; message: string; suggestion?: string } }>>;
}

const ready = isRoot && hasTool('busybox', 'busybox-static') && hasTool('runc', 'runc') && hasTool('newuidmap', 'uidmap') && hasTool('getfattr', 'attr');
let refusal: string | undefined;
let ids = { uid: 0, gid: 0 };
if (ready) {
  ids = ensureUser();
  refusal = kernelRefusal(ids.uid, ids.gid);
  if (refusal) console.warn(`skipping rootless RUN tests: ${refusal}`);
}

describe.runIf(ready && refusal === undefined)('rootless RUN (as an unprivileged user)', () => {
  const rootIDs = new Map<string, string>();

  beforeAll(async () => {
    // The layers a root build makes, to compare bytes with.
    const store = await openStore({ root: await tempDir('root-store') });
    await busyboxLayers();
    const mode = { name: 'root', runtime: 'unshare', snapshotter: 'overlay' as const };
    for (const c of CASES) {
      const env: CaseEnv = { store, tmp: await tempDir('case'), run: (step, more = {}) => execute(mode, step, { store, ...more }) };
      rootIDs.set(c.name, (await c.run(env)).layer.diffID);
    }
  }, 300_000);

  it('passes every case with both runners, making the same layers as root', () => {
    const before = mountPoints();
    const dir = mkdtempSync(join(tmpdir(), 'bi-rootless-'));
    chmodSync(dir, 0o755);
    chownSync(dir, ids.uid, ids.gid);
    const results = runChild(ids.uid, ids.gid, dir, ['unshare', 'runc']);
    for (const runtime of ['unshare', 'runc']) {
      for (const c of CASES) {
        const r = results[runtime]![c.name]!;
        expect(r.error, `${runtime}: ${c.name}`).toBeUndefined();
        expect(r.lines, `${runtime}: ${c.name}`).toEqual(r.expected);
        if (r.expectOutput !== undefined) expect(r.output, `${runtime}: ${c.name}`).toBe(r.expectOutput);
        expect(r.diffID, `${runtime}: ${c.name}`).toBe(rootIDs.get(c.name));
      }
    }
    expect(mountPoints()).toEqual(before);
  }, 600_000);

  it('without a subordinate id range, files of other owners fail with a clear message', () => {
    // nobody has no /etc/subuid entry: only its own uid is mapped.
    const dir = mkdtempSync(join(tmpdir(), 'bi-rootless-nobody-'));
    chmodSync(dir, 0o755);
    chownSync(dir, 65534, 65534);
    const results = runChild(65534, 65534, dir, ['unshare'], '--clear-groups', [CASES[0]!.name]);
    const r = results['unshare']![CASES[0]!.name]!;
    expect(r.error?.code).toBe('RUN_LAYER_UNPACK');
    expect(r.error?.message).toMatch(/EINVAL|Invalid argument/);
    expect(r.error?.suggestion).toBe(
      'only your own uid is mapped into the user namespace, so files and users with other ids cannot exist: nobody has no subordinate id range in /etc/subuid and /etc/subgid (usermod --add-subuids/--add-subgids)',
    );
  }, 120_000);
});
