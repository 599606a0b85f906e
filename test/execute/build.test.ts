import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { BuildContext } from '../../src/context/build-context.js';
import { executePlan, executeStages, normalizeHistory, type ImageProvider } from '../../src/execute/build.js';
import type { Runner } from '../../src/execute/runner.js';
import type { UrlFetcher } from '../../src/execute/url.js';
import type { BuildEvent } from '../../src/events.js';
import type { Digest } from '../../src/image/digest.js';
import { layerFromEntries } from '../../src/image/layer.js';
import type { BaseSource, RunStep } from '../../src/plan/types.js';
import type { Store } from '../../src/store/store.js';
import { imageTree, sha } from '../support/tree.js';
import { PLATFORM, baseImage, copyStep, ctx, key, layoutSource, makeContext, newStore, plan, workdirStep } from './helpers.js';

let base: Extract<BaseSource, { kind: 'image' }>;
let main: BuildContext;
beforeAll(async () => {
  base = (await layoutSource(await baseImage())).source;
  main = await makeContext({ 'a.txt': { file: 'A', mtime: 1000 }, 'b.txt': { file: 'B', mtime: 1000 } });
});

function recorder() {
  const events: BuildEvent[] = [];
  return { events, onEvent: (e: BuildEvent) => events.push(e), types: () => events.map((e) => `${e.type}${'id' in e ? ` ${e.id}` : ''}`) };
}

async function storeFiles(store: Store): Promise<string[]> {
  const out: string[] = [];
  for (const d of ['blobs/sha256', 'cache/sha256']) for (const n of await readdir(join(store.root, d))) out.push(`${d}/${n}`);
  return out.sort();
}

const urlStep = (stage: number, name: string, dest: string) =>
  copyStep(stage, [{ kind: 'url', url: `http://test/${name}` }], dest, { instruction: 'ADD', unpack: true, id: `s${stage}.${name}` });

/** A fetcher that serves `name` as content and lets a test hold requests. */
function fakeFetcher(options: { hold?: (url: string, signal?: AbortSignal) => Promise<void> } = {}): UrlFetcher & { calls: string[] } {
  const calls: string[] = [];
  const f = (async (url: string, o: { signal?: AbortSignal }) => {
    calls.push(url);
    await options.hold?.(url, o.signal);
    return { body: Readable.from([Buffer.from(url.slice(url.lastIndexOf('/') + 1))]) };
  }) as UrlFetcher & { calls: string[] };
  f.calls = calls;
  return f;
}

describe('the cache', () => {
  it('a second build takes every step from the cache: nothing runs, nothing is read or written', async () => {
    const store = await newStore();
    const steps = [copyStep(0, [ctx('a.txt')], '/app/', { id: 's0.1' }), workdirStep(0, '/app/w', { id: 's0.2' }), copyStep(0, [ctx('b.txt')], '/app/', { id: 's0.3' })];
    const p = plan([{ base, steps }]);
    const first = recorder();
    const image1 = await executePlan(p, { store, contexts: { main }, onEvent: first.onEvent });
    expect(first.types()).toEqual(['plan', 'step-start s0.from', 'step-done s0.from', 'step-start s0.1', 'step-done s0.1', 'step-start s0.2', 'step-done s0.2', 'step-start s0.3', 'step-done s0.3']);
    const files = await storeFiles(store);

    const second = recorder();
    const select = vi.spyOn(main, 'select');
    const image2 = await executePlan(p, { store, contexts: { main }, onEvent: second.onEvent });
    select.mockRestore();
    expect(second.types()).toEqual(['plan', 'step-start s0.from', 'step-done s0.from', 'step-cached s0.1', 'step-cached s0.2', 'step-cached s0.3']);
    expect(select).not.toHaveBeenCalled();
    expect(await storeFiles(store)).toEqual(files);
    expect(image2.digest()).toBe(image1.digest());
    expect(second.events[3]).toMatchObject({ type: 'step-cached', id: 's0.1', name: '[2/4] COPY a.txt /app/', stage: 'stage-0' });
  });

  it('noCache runs every step again (and gets the same layers)', async () => {
    const store = await newStore();
    const p = plan([{ base, steps: [copyStep(0, [ctx('a.txt')], '/app/', { id: 's0.1', epoch: 0 })] }]);
    const image1 = await executePlan(p, { store, contexts: { main } });
    const r = recorder();
    const image2 = await executePlan(p, { store, contexts: { main }, noCache: true, onEvent: r.onEvent });
    expect(r.types()).toContain('step-start s0.1');
    expect(image2.layers.at(-1)!.digest).toBe(image1.layers.at(-1)!.digest);
  });

  it('a record whose layer blob is gone is recomputed', async () => {
    const store = await newStore();
    const p = plan([{ steps: [copyStep(0, [ctx('a.txt')], '/app/', { id: 's0.1' })] }]);
    const image1 = await executePlan(p, { store, contexts: { main } });
    await store.removeBlob(image1.layers[0]!.digest);
    const r = recorder();
    const image2 = await executePlan(p, { store, contexts: { main }, onEvent: r.onEvent });
    expect(r.types()).toEqual(['plan', 'step-start s0.1', 'step-done s0.1']);
    expect(await store.hasBlob(image2.layers[0]!.digest)).toBe(true);
  });
});

describe('scheduling', () => {
  it('independent stages run at the same time', async () => {
    // Each fetch waits until both stages have asked: sequential execution would never finish.
    let waiting = 0;
    let release!: () => void;
    const both = new Promise<void>((r) => (release = r));
    const fetcher = fakeFetcher({
      hold: async () => {
        if (++waiting === 2) release();
        await Promise.race([both, new Promise((_r, reject) => setTimeout(() => reject(new Error('stages did not run in parallel')), 10_000))]);
      },
    });
    const p = plan([{ steps: [urlStep(0, 'one', '/one')] }, { steps: [urlStep(1, 'two', '/two')] }, { steps: [copyStep(2, [{ kind: 'stage', stage: 0, path: '/one' }, { kind: 'stage', stage: 1, path: '/two' }], '/both/')], dependsOn: [0, 1] }]);
    const image = await executePlan(p, { store: await newStore(), fetcher, jobs: 2 });
    expect(await imageTree(image)).toEqual(['d 0755 0:0 both', `f 0600 0:0 both/one ${sha('one')}`, `f 0600 0:0 both/two ${sha('two')}`]);
  });

  it('jobs limits how many steps execute at once', async () => {
    let active = 0;
    let max = 0;
    const fetcher = fakeFetcher({
      hold: async () => {
        max = Math.max(max, ++active);
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        active--;
      },
    });
    const stages = ['a', 'b', 'c', 'd'].map((n, i) => ({ steps: [urlStep(i, n, `/${n}`)] }));
    await executeStages(plan(stages), { store: await newStore(), fetcher, jobs: 1 });
    expect(max).toBe(1);
    expect(fetcher.calls).toHaveLength(4);
  });

  it('a failing stage stops the others and its error is the build error', async () => {
    const fetcher = fakeFetcher({
      hold: (_url, signal) =>
        new Promise((_resolve, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason));
        }),
    });
    const p = plan([{ steps: [urlStep(0, 'slow', '/slow')] }, { steps: [copyStep(1, [ctx('missing.txt')], '/x')] }, { steps: [], dependsOn: [0, 1] }]);
    await expect(executePlan(p, { store: await newStore(), contexts: { main }, fetcher })).rejects.toMatchObject({ code: 'CONTEXT_SOURCE_NOT_FOUND' });
  });

  it('cancellation through the AbortSignal leaves nothing half-written in the store', async () => {
    const controller = new AbortController();
    const fetcher = fakeFetcher({
      hold: async (_url, signal) => {
        controller.abort(new Error('stop!'));
        signal?.throwIfAborted();
      },
    });
    const store = await newStore();
    const p = plan([{ steps: [copyStep(0, [ctx('a.txt')], '/a/', { id: 's0.1' }), urlStep(0, 'x', '/x')] }]);
    await expect(executePlan(p, { store, contexts: { main }, fetcher, signal: controller.signal })).rejects.toThrow('stop!');
    const files = await storeFiles(store);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    // The finished first step is recorded; the cancelled one is not.
    expect(files.filter((f) => f.startsWith('cache/'))).toHaveLength(1);
    expect(await readdir(join(store.root, 'state', 'tmp'))).toEqual([]);
  });
});

describe('RUN steps go to the runner', () => {
  const runStep = (more: Partial<RunStep> = {}): RunStep => ({
    kind: 'run',
    id: 's0.run',
    stage: 0,
    key: key('run', more.args ?? ['true']),
    parentKey: key('p'),
    name: 'RUN true',
    createdBy: 'RUN /bin/sh -c true # buildkit',
    args: ['/bin/sh', '-c', 'true'],
    env: [],
    user: '',
    workdir: '/',
    mounts: [],
    network: 'default',
    security: 'sandbox',
    files: [],
    ...more,
  });

  it('without a runner: RUN_NOT_SUPPORTED with the Dockerfile line', async () => {
    const range = { start: { line: 4, column: 1, offset: 30 }, end: { line: 4, column: 9, offset: 38 } };
    await expect(executePlan(plan([{ steps: [runStep({ range })] }]), { store: await newStore() })).rejects.toMatchObject({
      code: 'RUN_NOT_SUPPORTED',
      message: 'RUN is not supported yet: cannot execute "RUN true"',
      range,
    });
  });

  it('a runner gets the layers below and a view, and its layer becomes the step result (and is cached)', async () => {
    const store = await newStore();
    const seen: string[] = [];
    const runner: Runner = {
      async run(step, context) {
        const view = await context.view();
        seen.push(`${step.name}: ${context.layers.length} layers, /etc/hostname=${JSON.stringify((await view.readFile('/etc/hostname')).toString())}`);
        const layer = await layerFromEntries([{ path: 'ran', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: 'yes' }], { store: context.store });
        return { layer };
      },
    };
    const p = plan([{ base, steps: [runStep()] }]);
    const image = await executePlan(p, { store, runner });
    expect(seen).toEqual(['RUN true: 2 layers, /etc/hostname="base\\n"']);
    expect(await imageTree(image, { under: 'ran' })).toEqual([`f 0644 0:0 ran ${sha('yes')}`]);
    const r = recorder();
    await executePlan(p, { store, runner, onEvent: r.onEvent });
    expect(seen).toHaveLength(1);
    expect(r.types()).toContain('step-cached s0.run');
  });
});

describe('the image', () => {
  it('base layers, step layers, config from the plan, created and platform', async () => {
    const p = plan([{ base, steps: [copyStep(0, [ctx('a.txt')], '/app/')], history: [{ created_by: 'base layer 1' }, { created_by: 'base layer 2' }, { created_by: 'ENV X=1', empty_layer: true }, { created_by: 'COPY a.txt /app/' }] }], {
      created: '2024-01-02T03:04:05Z',
    });
    const image = await executePlan(p, { store: await newStore(), contexts: { main } });
    const baseImg = await baseImage();
    expect(image.layers.slice(0, 2).map((l) => l.diffID)).toEqual(baseImg.layers.map((l) => l.diffID));
    expect(image.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
    expect(image.config).toEqual({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Env: ['PATH=/usr/bin'] },
      rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffID) },
      history: [{ created_by: 'base layer 1' }, { created_by: 'base layer 2' }, { created_by: 'ENV X=1', empty_layer: true }, { created_by: 'COPY a.txt /app/' }],
    });
    expect(image.format).toBe('oci');
  });

  it.each([
    ['missing entries are added for extra layers', [{ created_by: 'x' }], 3, [{ created_by: 'x' }, { created: 'T', comment: 'buildkit.exporter.image.v0' }, { created: 'T', comment: 'buildkit.exporter.image.v0' }]],
    ['extra entries become empty', [{ created_by: 'x' }, { created_by: 'y' }], 1, [{ created_by: 'x' }, { created_by: 'y', empty_layer: true }]],
    ['a match is kept', [{ created_by: 'x' }, { created_by: 'e', empty_layer: true }], 1, [{ created_by: 'x' }, { created_by: 'e', empty_layer: true }]],
  ])('history normalisation (BuildKit exporter): %s', (_n, history, layers, want) => {
    expect(normalizeHistory(history, layers, 'T')).toEqual(want);
  });

  it('images come from the provider: OCI layouts by default, registry images through a puller', async () => {
    const registryBase: BaseSource = { kind: 'image', ref: 'docker.io/library/alpine:3.20', digest: base.digest, origin: { kind: 'registry' } };
    const p = plan([{ base: registryBase, steps: [] }]);
    await expect(executePlan(p, { store: await newStore() })).rejects.toMatchObject({ code: 'EXEC_IMAGE_UNAVAILABLE' });
    const calls: string[] = [];
    const img = await baseImage();
    const provider: ImageProvider = {
      async image(source, platform) {
        calls.push(`${source.ref}@${source.digest} ${platform.os}/${platform.architecture}`);
        return img;
      },
    };
    const image = await executePlan(p, { store: await newStore(), imageProvider: provider });
    expect(calls).toEqual([`docker.io/library/alpine:3.20@${base.digest} linux/amd64`]);
    expect(image.layers.map((l) => l.diffID)).toEqual(img.layers.map((l) => l.diffID));
  });

  it('a named context that was not given is a clear error', async () => {
    const p = plan([{ steps: [copyStep(0, [ctx('a.txt', 'assets')], '/x')] }]);
    await expect(executePlan(p, { store: await newStore(), contexts: { main, named: { asset: main } } })).rejects.toMatchObject({
      code: 'EXEC_CONTEXT_MISSING',
      message: 'no build context named "assets" was given',
      suggestion: 'did you mean asset?',
    });
    const ok = await executePlan(p, { store: await newStore(), contexts: { main, named: new Map([['assets', main]]) } });
    expect(await imageTree(ok)).toEqual([`f 0644 0:0 x ${sha('A')}`]);
  });

  it('the target may be an earlier stage; stages it does not need still run only if planned', async () => {
    const p = plan([{ steps: [copyStep(0, [ctx('a.txt')], '/a')] }, { steps: [copyStep(1, [ctx('b.txt')], '/b')] }], { target: 0 });
    const r = await executeStages(p, { store: await newStore(), contexts: { main } });
    expect(await imageTree(r.image)).toEqual([`f 0644 0:0 a ${sha('A')}`]);
    expect([...r.stages.keys()]).toEqual([0, 1]);
  });
});

describe('layer digests are stable', () => {
  it('the same plan in two stores gives the same image digest', async () => {
    const steps = [copyStep(0, [ctx('a.txt'), ctx('b.txt')], '/app/', { epoch: 1000 }), workdirStep(0, '/app/data', { epoch: 1000 })];
    const p = plan([{ base, steps }], { epoch: 1000, created: '1970-01-01T00:16:40Z' });
    const a = await executePlan(p, { store: await newStore(), contexts: { main } });
    const b = await executePlan(p, { store: await newStore(), contexts: { main } });
    expect(a.digest()).toBe(b.digest());
    expect(a.config.created).toBe('1970-01-01T00:16:40Z');
    expect(PLATFORM.architecture).toBe(a.config.architecture);
    expect(a.layers.at(-1)!.diffID as Digest).toMatch(/^sha256:/);
  });
});

describe('errors carry the step range', () => {
  it('a context file that changed after the context was read fails the step at its line', async () => {
    const { writeFile } = await import('node:fs/promises');
    const c = await makeContext({ 'grow.txt': 'short' });
    await writeFile(join(c.dir, 'grow.txt'), 'much longer than before');
    const range = { start: { line: 7, column: 1, offset: 70 }, end: { line: 7, column: 10, offset: 79 } };
    await expect(executePlan(plan([{ steps: [copyStep(0, [ctx('grow.txt')], '/g', { range })] }]), { store: await newStore(), contexts: { main: c } })).rejects.toMatchObject({
      code: 'IMAGE_TAR_SIZE_MISMATCH',
      range,
    });
  });
});
