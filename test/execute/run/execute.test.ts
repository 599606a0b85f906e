/**
 * RUN behaviour around the cases: isolation from the host, failures and aborts (and that they
 * leave nothing behind), secrets absent from everything stored, SOURCE_DATE_EPOCH, users that
 * do not exist, and concurrent steps — through each runner.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SourceRange } from '../../../src/errors.js';
import { layerFromEntries } from '../../../src/image/layer.js';
import { RunStepError } from '../../../src/execute/run/execute.js';
import { secretsFromValues } from '../../../src/execute/run/secrets.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { repoRoot } from '../../support/shared.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { SECRET, SECRET_SHA } from './cases.js';
import { busyboxLayers, entries, execute, h, mountPoints, processesMentioning, runStep, tempDir, workDirs, type Mode } from './support.js';

const canRun = isRoot && hasTool('busybox', 'busybox-static') && hasTool('runc', 'runc') && hasTool('getfattr', 'attr');

const MODES: Mode[] = [
  { name: 'unshare', runtime: 'unshare', snapshotter: 'overlay' },
  { name: 'runc', runtime: 'runc', snapshotter: 'overlay' },
];

const RANGE: SourceRange = { start: { line: 4, column: 1, offset: 40 }, end: { line: 4, column: 30, offset: 69 } };

/** cgroups runc made for our containers and did not remove (anywhere in the first levels). */
function leftoverCgroups(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('build-image-')) out.push(join(dir, n));
      else if (depth < 4) walk(join(dir, n), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}

/** Every regular file below `dir` (blobs gunzipped too), as buffers. */
function storedBytes(dir: string): { path: string; data: Buffer }[] {
  const out: { path: string; data: Buffer }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile()) {
        const data = readFileSync(p);
        out.push({ path: p, data });
        if (data[0] === 0x1f && data[1] === 0x8b) out.push({ path: `${p} (gunzipped)`, data: gunzipSync(data) });
      }
    }
  };
  walk(dir);
  return out;
}

describe.runIf(canRun).each(MODES)('RUN with $name', (mode) => {
  let store: Store;
  let mountsBefore: string[];

  beforeAll(async () => {
    store = await openStore({ root: await tempDir('store') });
    await busyboxLayers();
    mountsBefore = mountPoints();
  });

  afterEach(() => {
    expect(mountPoints()).toEqual(mountsBefore);
    expect(processesMentioning(store.root)).toEqual([]);
    expect(workDirs(store)).toEqual([]);
    expect(leftoverCgroups()).toEqual([]);
  });

  it('runs in its own PID, mount, UTS and IPC namespaces; PID 1 is the step', async () => {
    const { output } = await execute(
      mode,
      runStep('for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; tr "\\0" " " < /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"'),
      { store },
    );
    const lines = output.trim().split('\n');
    const host = (n: string) => readlinkSync(`/proc/self/ns/${n}`);
    expect(lines.slice(0, 4)).toHaveLength(4);
    ['pid', 'mnt', 'uts', 'ipc'].forEach((n, i) => expect(lines[i], n).not.toBe(host(n)));
    expect(lines[4]).toBe(host('net')); // --network=default is the host's network
    expect(lines[5]).toBe('/bin/sh -c for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; tr "\\0" " " < /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]" ');
    // sh, ls and grep: nothing of the host.
    expect(Number(lines[6])).toBeLessThanOrEqual(3);
  });

  it('--network=none: a network namespace of its own with only lo (up)', async () => {
    const { output } = await execute(mode, runStep('readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/operstate', { network: 'none' }), { store });
    const [ns, ...rest] = output.trim().split('\n');
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(rest).toEqual(['lo', 'unknown']);
  });

  it('a failing step reports the instruction, its line, the exit code and its last lines', async () => {
    const step = runStep('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line $i; done; exit 3', { range: RANGE, name: 'RUN failing' });
    const err = await execute(mode, step, { store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunStepError);
    const e = err as RunStepError;
    expect(e.code).toBe('RUN_FAILED');
    expect(e.exitCode).toBe(3);
    expect(e.range).toEqual(RANGE);
    expect(e.outputTail).toEqual(['line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10', 'line 11', 'line 12']);
    expect(e.message).toBe(
      'RUN failing: process "/bin/sh -c for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line $i; done; exit 3" did not complete successfully: exit code: 3\n' +
        ['line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10', 'line 11', 'line 12'].map((l) => `  ${l}`).join('\n'),
    );
  });

  it('PID 1 ignores a SIGKILL from inside; a killed child makes exit code 137', async () => {
    // The kernel protects a PID namespace's init from signals sent from inside it.
    const { output } = await execute(mode, runStep('kill -9 $$; echo survived'), { store });
    expect(output).toBe('survived\n');
    const err = (await execute(mode, runStep("sh -c 'kill -9 $$'; exit $?"), { store }).catch((e: unknown) => e)) as RunStepError;
    expect(err.code).toBe('RUN_FAILED');
    expect(err.exitCode).toBe(137);
    expect(err.message.split('\n')[0]).toBe(`RUN /bin/sh -c sh -c 'kill -9 $$'; exit $?: process "/bin/sh -c sh -c 'kill -9 $$'; exit $?" did not complete successfully: exit code: 137`);
  });

  it('an abort stops the step and leaves no process, mount or directory', async () => {
    const controller = new AbortController();
    const step = runStep('echo started; sleep 3141; echo never');
    let output = '';
    const running = execute(mode, step, {
      store,
      signal: controller.signal,
      executor: {
        onOutput: (_id, c) => {
          output += c.data.toString();
          if (output.includes('started')) controller.abort(new Error('stop now'));
        },
      },
    });
    await expect(running).rejects.toThrow('stop now');
    expect(processesMentioning('sleep 3141')).toEqual([]);
  });

  it('a secret is in no blob, record or file of the store', async () => {
    const step = runStep(`cat /run/secrets/token > /copy; echo "$TOKEN" > /env-copy; test "$(sha256sum < /run/secrets/token)" = "${SECRET_SHA}  -"`, {
      mountSpecs: ['type=secret,id=token', 'type=secret,id=token,env=TOKEN'],
    });
    // The step copies it on purpose: that copy is in its layer, but nothing else may hold it.
    const { layer } = await execute(mode, step, { store, secrets: secretsFromValues({ token: SECRET }) });
    const lines = await entries(layer);
    expect(lines).toContain(`f 0644 0:0 copy ${h(SECRET)}`);
    const clean = runStep(`test "$(sha256sum < /run/secrets/token)" = "${SECRET_SHA}  -" && test "$(printf %s "$TOKEN" | sha256sum)" = "${SECRET_SHA}  -" && echo checked > /ok`, {
      mountSpecs: ['type=secret,id=token', 'type=secret,id=token,env=TOKEN'],
    });
    const other = await openStore({ root: await tempDir('secret-store') });
    const r = await execute(mode, clean, { store: other, secrets: secretsFromValues({ token: SECRET }) });
    expect(await entries(r.layer)).toContain(`f 0644 0:0 ok ${h('checked\n')}`);
    const holders = storedBytes(other.root).filter((f) => f.data.includes(SECRET));
    expect(holders.map((f) => f.path)).toEqual([]);
    expect(JSON.stringify(clean)).not.toContain(SECRET);
  });

  it('a required secret that is missing fails before anything runs; an optional one is skipped', async () => {
    const missing = runStep('true', { mountSpecs: ['type=secret,id=nope,required'], range: RANGE });
    await expect(execute(mode, missing, { store })).rejects.toMatchObject({ code: 'RUN_SECRET_NOT_FOUND', message: 'secret nope: not found', range: RANGE });
    const { layer } = await execute(mode, runStep('test ! -e /run/secrets/nope && echo skipped > /o', { mountSpecs: ['type=secret,id=nope'] }), { store });
    expect(await entries(layer)).toContain(`f 0644 0:0 o ${h('skipped\n')}`);
  });

  it('an unknown USER fails with BuildKit\'s message', async () => {
    await expect(execute(mode, runStep('true', { user: 'nosuch', range: RANGE }), { store })).rejects.toMatchObject({
      code: 'RUN_USER_NOT_FOUND',
      message: 'unable to find user nosuch: no matching entries in passwd file',
      range: RANGE,
    });
  });

  it('SOURCE_DATE_EPOCH clamps the mtimes of what RUN wrote; older ones stay', async () => {
    const { layer } = await execute(mode, runStep('echo new > /new && touch -d @500 /old', { epoch: 1000 }), { store });
    expect(await entries(layer, { mtime: true })).toEqual([
      'd 0755 0:0 dev @1000',
      `f 0644 0:0 new ${h('new\n')} @1000`,
      `f 0644 0:0 old ${h('')} @500`,
      'd 0755 0:0 proc @1000',
      'd 0755 0:0 sys @1000',
    ]);
  });

  it('a cache mount from another stage starts with its content', async () => {
    const seed = await layerFromEntries([
      { path: 'seed', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
      { path: 'seed/a', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'seeded\n' },
    ]);
    const sources = async () => ({ kind: 'layers' as const, layers: [seed], identity: `stage seed ${seed.diffID}` });
    const spec = `type=cache,target=/c,from=seed,source=/seed,id=seeded-${mode.name}`;
    await execute(mode, runStep('cat /c/a > /dev/null && echo more >> /c/a', { mountSpecs: [spec] }), { store, sources });
    const { layer } = await execute(mode, runStep('cat /c/a > /out', { mountSpecs: [spec] }), { store, sources });
    expect(await entries(layer)).toContain(`f 0644 0:0 out ${h('seeded\nmore\n')}`);
  });

  it('work directories of a dead process are removed by the next step', async () => {
    const stale = join(store.root, 'state', 'run-tmp', '999999-s0.1-dead');
    mkdirSync(join(stale, 'root', 'upper'), { recursive: true });
    await execute(mode, runStep('true'), { store });
    expect(existsSync(stale)).toBe(false);
  });

  it('when this process is killed mid-step, the step dies too; the next step removes what was left', async () => {
    const marker = String(3000 + Math.floor(Math.random() * 1000));
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/execute/run/killed-child.ts'), store.root, mode.runtime, marker], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    // pdeathsig → unshare --kill-child → the step's PID namespace (and runc's) goes down.
    for (let i = 0; i < 50 && processesMentioning(`sleep ${marker}`).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesMentioning(`sleep ${marker}`)).toEqual([]);
    expect(workDirs(store)).toHaveLength(1);
    await execute(mode, runStep('true'), { store });
  });

  it('steps run side by side on one store', async () => {
    const steps = [1, 2, 3].map((i) => runStep(`echo ${i} > /n${i}`));
    const layers = await Promise.all(steps.map((s) => execute(mode, s, { store })));
    for (const [i, r] of layers.entries()) {
      expect(await entries(r.layer)).toContain(`f 0644 0:0 n${i + 1} ${h(`${i + 1}\n`)}`);
    }
  });
});
