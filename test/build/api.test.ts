/**
 * The library API end to end: a typed `build()` call and its result, progress events in order
 * (and all CACHED on a rebuild), cancellation through an AbortSignal (the store stays valid and
 * clean, no output file is half-written), `target` and pruning of unused stages, options
 * validated at the boundary, and errors that carry a code, the Dockerfile and the line.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build, type BuildOptions, type BuildResult } from '../../src/build.js';
import { BuildImageError } from '../../src/errors.js';
import type { BuildEvent } from '../../src/events.js';
import { openStore } from '../../src/store/store.js';
import { hasTool } from '../support/tools.js';
import { imageTree } from '../support/tree.js';
import { builder, busyboxBase, busyboxContext, EPOCH, listFiles, sha, workspace, writeTree } from './helpers.js';

const ws = workspace('api');
afterAll(() => ws.cleanup());
const build2 = builder(ws);
const busybox = hasTool('busybox', 'busybox-static');

/** Events without times and durations, for exact comparison. */
function shape(e: BuildEvent): string {
  switch (e.type) {
    case 'plan':
      return `plan ${e.stages} stages ${e.steps} steps`;
    case 'step-start':
    case 'step-cached':
      return `${e.type} ${e.id} ${e.name}`;
    case 'step-done':
      return `step-done ${e.id}`;
    case 'step-error':
      return `step-error ${e.id} ${e.message}`;
    case 'step-output':
      return `step-output ${e.id} ${e.stream} ${JSON.stringify(e.data)}`;
    case 'warning':
      return `warning ${e.code}`;
    case 'done':
      return `done ${e.digest}`;
  }
}

describe.runIf(busybox)('build(): the typed call', () => {
  it('returns the digest, image, config digest, plan, outputs and store; the store holds the image', async () => {
    const context = writeTree(ws.dir('app'), { Dockerfile: 'FROM busybox\nCOPY a /a\n', a: 'a' });
    const cacheDir = join(ws.root, 'typed-store');
    const options: BuildOptions = { context, cacheDir, tags: ['example/app:1'], buildContexts: await busyboxContext(), sourceDateEpoch: EPOCH };
    const result: BuildResult = await build(options);
    expect(result.image.digest()).toBe(result.digest);
    expect(result.image.configDigest()).toBe(result.configDigest);
    expect(result.store).toBe(cacheDir);
    expect(result.outputs).toEqual([{ type: 'store', location: `${cacheDir}:example/app:1`, digest: result.digest }]);
    expect(result.plan.stages.map((s) => [s.name, s.steps.map((st) => st.name)])).toEqual([['stage-0', ['COPY a /a']]]);
    expect(result.image.layers.slice(1).length).toBe(1);
  });

  it.each<[string, Partial<BuildOptions>, string]>([
    ['jobs must be positive', { jobs: 0 }, 'invalid build option jobs: Too small: expected number to be >0'],
    ['unknown keys are refused', { contxt: '.' } as Partial<BuildOptions>, 'invalid build option (options): Unrecognized key: "contxt"'],
    ['network is an enum', { network: 'bridge' as 'host' }, 'invalid build option network: Invalid option: expected one of "default"|"none"|"host"'],
  ])('options are validated: %s', async (_name, options, message) => {
    await expect(build({ context: ws.root, ...options })).rejects.toMatchObject({ code: 'BUILD_BAD_OPTIONS', message });
  });
});

describe.runIf(busybox)('progress events', () => {
  it('come in order: plan, each step (a COPY --from only after the stage it reads), done; a rebuild is all CACHED', async () => {
    const bb = await busyboxBase();
    const spec = { Dockerfile: 'FROM busybox AS one\nCOPY a /a\nFROM scratch\nCOPY --from=one /a /b\nLABEL x=y\n', a: 'a' };
    const context = writeTree(ws.dir('events'), spec);
    const cacheDir = join(ws.root, 'events-store');
    const events: BuildEvent[] = [];
    const options = { context, cacheDir, sourceDateEpoch: EPOCH, buildContexts: await busyboxContext(), jobs: 1, onEvent: (e: BuildEvent) => events.push(e) };
    const first = await build(options);
    expect(events.map(shape)).toEqual([
      'plan 2 stages 2 steps',
      `step-start s0.from [one 1/2] FROM busybox@${bb.digest}`,
      'step-done s0.from',
      'step-start s0.1 [one 2/2] COPY a /a',
      'step-done s0.1',
      'step-start s1.1 [stage-1 1/1] COPY --from=one /a /b',
      'step-done s1.1',
      `done ${first.digest}`,
    ]);
    const ts = events.map((e) => ('time' in e ? e.time : 0));
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);

    events.length = 0;
    const again = await build(options);
    expect(again.digest).toBe(first.digest);
    expect(events.map(shape)).toEqual([
      'plan 2 stages 2 steps',
      `step-start s0.from [one 1/2] FROM busybox@${bb.digest}`,
      'step-done s0.from',
      'step-cached s0.1 [one 2/2] COPY a /a',
      'step-cached s1.1 [stage-1 1/1] COPY --from=one /a /b',
      `done ${first.digest}`,
    ]);
  });

  it('RUN output arrives as step-output events of its step', async () => {
    const events: BuildEvent[] = [];
    await build2({ Dockerfile: 'FROM busybox\nRUN echo to-stdout; echo to-stderr >&2\n' }, { onEvent: (e) => events.push(e) });
    const out = events.filter((e) => e.type === 'step-output').map(shape);
    expect(out.sort()).toEqual(['step-output s0.1 stderr "to-stderr\\n"', 'step-output s0.1 stdout "to-stdout\\n"']);
  });
});

describe.runIf(busybox)('cancellation', () => {
  const big = Buffer.alloc(4 * 1024 * 1024, 7);

  it.each([
    ['while a step runs', (e: BuildEvent) => e.type === 'step-start' && e.name.includes('COPY big')],
    ['after the last step, before the outputs are written', (e: BuildEvent) => e.type === 'step-done' && e.id === 's0.2'],
  ])('%s: rejects with the reason, writes no output, leaves the store valid and without temp files', async (_when, trigger) => {
    const spec = { Dockerfile: 'FROM busybox\nCOPY big /big\nCOPY small /small\n', big, small: 's' };
    const context = writeTree(ws.dir('cancel'), spec);
    const outDir = ws.dir('cancel-out');
    const cacheDir = join(ws.dir('cancel-store'), 'store');
    const controller = new AbortController();
    const reason = new BuildImageError('BUILD_CANCELLED', 'build cancelled');
    const outputs = [`type=oci,dest=${join(outDir, 'image.tar')}`, `type=docker,dest=${join(outDir, 'docker.tar')}`, `type=local,dest=${join(outDir, 'rootfs')}`];
    const options = { context, cacheDir, sourceDateEpoch: EPOCH, buildContexts: await busyboxContext(), outputs };
    const err = await build({ ...options, signal: controller.signal, onEvent: (e) => (trigger(e) ? controller.abort(reason) : undefined) }).catch((e: unknown) => e);
    // The reason itself, or (stopped inside a step) the reason attributed to the step's line.
    expect(err).toMatchObject({ code: 'BUILD_CANCELLED', message: 'build cancelled' });
    expect(readdirSync(outDir)).toEqual([]);
    const tempFiles = () => listFiles(cacheDir).filter((p) => /(^|\/)\.?tmp|\.tmp-/.test(p));
    expect(tempFiles()).toEqual([]);
    expect(await (await openStore({ root: cacheDir })).gc()).toEqual({ removedTempFiles: [], removedLocks: [] });
    // The same store builds the image afterwards, the same as a fresh store does.
    const after = await build({ ...options, outputs: [] });
    const fresh = await build({ ...options, outputs: [], cacheDir: join(ws.dir('cancel-fresh'), 'store') });
    expect(after.digest).toBe(fresh.digest);
    expect(tempFiles()).toEqual([]);
  });
});

describe('target and pruning', () => {
  const dockerfile = [
    'FROM scratch AS broken',
    'COPY does-not-exist /x',
    'FROM scratch AS base',
    'COPY a /a',
    'FROM base AS test',
    'COPY t /t',
    'FROM scratch AS release',
    'COPY --from=base /a /release/a',
    '',
  ].join('\n');
  const spec = { Dockerfile: dockerfile, a: 'a', t: 't' };

  it.each([
    [undefined, ['d 0755 0:0 release', `f 0644 0:0 release/a ${sha('a')}`], ['base', 'release']],
    ['test', [`f 0644 0:0 a ${sha('a')}`, `f 0644 0:0 t ${sha('t')}`], ['base', 'test']],
    ['BASE', [`f 0644 0:0 a ${sha('a')}`], ['base']],
  ])('target %s builds only the stages it needs (the broken one never runs)', async (target, tree, stages) => {
    const events: BuildEvent[] = [];
    const r = await build2(spec, { target, onEvent: (e) => events.push(e) });
    expect(await imageTree(r.image)).toEqual(tree);
    expect(r.plan.stages.map((s) => s.name)).toEqual(stages);
    expect(events.filter((e) => e.type === 'step-start').map((e) => (e as { name: string }).name).some((n) => n.includes('does-not-exist'))).toBe(false);
  });

  it('an unknown target names the stages', async () => {
    const err = (await build2(spec, { target: 'relase' }).catch((e: unknown) => e)) as BuildImageError;
    expect([err.code, err.message, err.suggestion]).toEqual(['PLAN_UNKNOWN_TARGET', 'target stage "relase" could not be found', 'did you mean release? stages: broken, base, test, release']);
  });
});

describe('errors carry code, file and line', () => {
  const file = () => join(build2.lastContext(), 'Dockerfile');
  it.each<[string, Record<string, string>, { code: string; message: string; line?: number; suggestion?: string }]>([
    ['a parse error', { Dockerfile: 'FROM scratch\nCOPPY a /a\n' }, { code: 'INSTR_UNKNOWN_INSTRUCTION', message: 'unknown instruction: COPPY', line: 2, suggestion: 'did you mean COPY?' }],
    ['a missing COPY source', { Dockerfile: 'FROM scratch\n# comment\nCOPY nope /n\n' }, { code: 'CONTEXT_SOURCE_NOT_FOUND', message: '"/nope": not found in the build context (source "nope")', line: 3 }],
    ['an executor error', { Dockerfile: 'FROM scratch\nCOPY a b /d\n', a: 'a', b: 'b' }, { code: 'EXEC_COPY_DEST_NOT_DIR', message: 'When using COPY with more than one source file, the destination must be a directory and end with a /', line: 2, suggestion: 'write the destination as "/d/"' }],
    ['a stage used before it is defined', { Dockerfile: 'FROM scratch\nCOPY --from=later /a /a\nFROM scratch AS later\nFROM scratch\nCOPY --from=0 /a /a\n' }, { code: 'PLAN_STAGE_ORDER', message: 'cannot copy from stage "later", it needs to be defined before current stage "stage-0"', line: 2 }],
  ])('%s', async (_name, spec, want) => {
    const err = await build2(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildImageError);
    const e = err as BuildImageError;
    expect({ code: e.code, message: e.message, file: e.file, line: e.range?.start.line, ...(e.suggestion ? { suggestion: e.suggestion } : {}) }).toEqual({ ...want, file: file() });
  });

  it.runIf(busybox)('a failing RUN: exit code, output, line', async () => {
    const e = (await build2({ Dockerfile: 'FROM busybox\nCOPY a /a\nRUN echo out; echo err >&2; exit 3\n', a: 'a' }).catch((x: unknown) => x)) as BuildImageError;
    expect([e.code, e.file, e.range?.start.line]).toEqual(['RUN_FAILED', file(), 3]);
    expect(e.message).toBe('RUN echo out; echo err >&2; exit 3: process "/bin/sh -c echo out; echo err >&2; exit 3" did not complete successfully: exit code: 3\n  out\n  err');
    expect(e.format()).toContain('> 3 | RUN echo out; echo err >&2; exit 3');
  });

  it('no Dockerfile', async () => {
    const context = ws.dir('empty');
    const e = (await build({ context, cacheDir: join(ws.root, 'store') }).catch((x: unknown) => x)) as BuildImageError;
    expect([e.code, e.message, e.suggestion]).toEqual(['BUILD_NO_DOCKERFILE', `cannot read the Dockerfile ${join(context, 'Dockerfile')}: no such file`, `put a Dockerfile in ${context} or pass -f FILE`]);
  });
});
