/**
 * `build-image plan`: the build's DAG without running it, as text, JSON, Graphviz DOT and
 * Mermaid — for a Dockerfile with two independent stages feeding a third.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { hasTool } from '../support/tools.js';
import { busybox, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-plan');
afterAll(() => tmp.cleanup());

const DOCKERFILE = 'FROM busybox AS deps\nRUN echo deps > /deps\nFROM busybox AS assets\nCOPY logo.txt /logo.txt\nFROM scratch\nCOPY --from=deps /deps /\nCOPY --from=assets /logo.txt /\nCMD ["/deps"]\n';

let bb: Awaited<ReturnType<typeof busybox>>;
let ctx: string;
beforeAll(async () => {
  bb = await busybox();
  ctx = writeContext(tmp.path, 'ctx', { Dockerfile: DOCKERFILE, 'logo.txt': 'logo\n' });
});

function plan(format: string | undefined, cache = `${tmp.path}/cache`) {
  return runCli(['plan', '--cache-dir', cache, ...bb.flags, ...(format ? ['--format', format] : []), ctx]);
}

/** Keys and digests vary with the fixture (its busybox binary): named placeholders instead. */
function normalise(text: string): string {
  return text
    .replaceAll(bb.digest, '<busybox>')
    .replaceAll(bb.dir, '<layout>')
    .replace(/sha256:[0-9a-f]{64}/g, '<key>')
    .replace(/(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])/g, '<k>');
}

describe('plan --format', () => {
  it('text (the default): stages, steps with short keys, stage dependencies, the target', async () => {
    const r = await plan(undefined);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(normalise(r.stdout)).toBe(
      [
        'stage 0 "deps" FROM busybox@<busybox> from oci-layout <layout>  [<k>]',
        '  s0.1   RUN echo deps > /deps  [<k>]',
        'stage 1 "assets" FROM busybox@<busybox> from oci-layout <layout>  [<k>]',
        '  s1.1   COPY logo.txt /logo.txt  [<k>]',
        'stage 2 "stage-2" (target) FROM scratch  [<k>]',
        '  s2.1   COPY --from=deps /deps /  ← stage 0  [<k>]',
        '  s2.2   COPY --from=assets /logo.txt /  ← stage 1  [<k>]',
        'target: stage 2 "stage-2", key <key>',
        '',
      ].join('\n'),
    );
    expect((await plan('text')).stdout).toBe(r.stdout);
  });

  it('json: the plan itself — stages, dependencies, steps with full keys chained by parentKey', async () => {
    const r = await plan('json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.target).toBe(2);
    expect(p.stages.map((s: { index: number; name: string; dependsOn: number[] }) => [s.index, s.name, s.dependsOn])).toEqual([
      [0, 'deps', []],
      [1, 'assets', []],
      [2, 'stage-2', [0, 1]],
    ]);
    const steps = p.stages.flatMap((s: { steps: { id: string; kind: string; name: string; key: string; parentKey: string }[] }) => s.steps);
    expect(steps.map((s: { id: string; kind: string; name: string }) => [s.id, s.kind, s.name])).toEqual([
      ['s0.1', 'run', 'RUN echo deps > /deps'],
      ['s1.1', 'copy', 'COPY logo.txt /logo.txt'],
      ['s2.1', 'copy', 'COPY --from=deps /deps /'],
      ['s2.2', 'copy', 'COPY --from=assets /logo.txt /'],
    ]);
    for (const s of steps) expect(s.key).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Within a stage each step's parent is the previous step (or the stage's base).
    expect(steps[3].parentKey).toBe(steps[2].key);
    expect(steps[2].parentKey).toBe(p.stages[2].baseKey);
    expect(p.stages[2].key).toBe(steps[3].key);
    expect(p.contextPaths).toEqual(['/logo.txt']);
    // The text format's short keys are these keys.
    const text = (await plan('text')).stdout;
    for (const s of steps) expect(text).toContain(`[${s.key.slice(7, 19)}]`);
  });

  it('keys do not depend on the store; an edited context file changes only the steps that read it and what follows', async () => {
    const keys = async (cache?: string) => {
      const p = JSON.parse((await plan('json', cache)).stdout);
      return Object.fromEntries(p.stages.flatMap((s: { steps: { id: string; key: string }[] }) => s.steps.map((x) => [x.id, x.key])));
    };
    const before = await keys();
    expect(await keys(`${tmp.path}/other-cache`)).toEqual(before);
    writeContext(tmp.path, 'ctx', { 'logo.txt': 'new logo\n' });
    try {
      const after = await keys();
      expect(Object.keys(before).filter((id) => before[id] !== after[id])).toEqual(['s1.1', 's2.2']);
    } finally {
      writeContext(tmp.path, 'ctx', { 'logo.txt': 'logo\n' });
    }
  });

  it('mermaid: a flowchart with a subgraph per stage, dashed edges for COPY --from', async () => {
    const r = await plan('mermaid');
    expect(r.code).toBe(0);
    expect(normalise(r.stdout)).toBe(
      [
        'flowchart TD',
        '  subgraph stage0["0: deps"]',
        '    base0(["FROM busybox@<busybox> from oci-layout <layout>"])',
        '    s0_1["RUN echo deps > /deps<br/><k>"]',
        '  end',
        '  base0 --> s0_1',
        '  subgraph stage1["1: assets"]',
        '    base1(["FROM busybox@<busybox> from oci-layout <layout>"])',
        '    s1_1["COPY logo.txt /logo.txt<br/><k>"]',
        '  end',
        '  base1 --> s1_1',
        '  subgraph stage2["2: stage-2 (target)"]',
        '    base2(["FROM scratch"])',
        '    s2_1["COPY --from=deps /deps /<br/><k>"]',
        '    s2_2["COPY --from=assets /logo.txt /<br/><k>"]',
        '  end',
        '  base2 --> s2_1',
        '  s2_1 --> s2_2',
        '  s0_1 -. copy .-> s2_1',
        '  s1_1 -. copy .-> s2_2',
        '',
      ].join('\n'),
    );
  });

  it('dot: pinned text', async () => {
    const r = await plan('dot');
    expect(r.code).toBe(0);
    expect(normalise(r.stdout)).toBe(
      [
        'digraph plan {',
        '  rankdir=TB;',
        '  node [shape=box, fontname="monospace"];',
        '  subgraph cluster_0 {',
        '    label="0: deps";',
        '    "base0" [label="FROM busybox@<busybox> from oci-layout <layout>", shape=ellipse];',
        '    "s0.1" [label="RUN echo deps > /deps\\n<k>"];',
        '  }',
        '  "base0" -> "s0.1";',
        '  subgraph cluster_1 {',
        '    label="1: assets";',
        '    "base1" [label="FROM busybox@<busybox> from oci-layout <layout>", shape=ellipse];',
        '    "s1.1" [label="COPY logo.txt /logo.txt\\n<k>"];',
        '  }',
        '  "base1" -> "s1.1";',
        '  subgraph cluster_2 {',
        '    label="2: stage-2 (target)";',
        '    "base2" [label="FROM scratch", shape=ellipse];',
        '    "s2.1" [label="COPY --from=deps /deps /\\n<k>"];',
        '    "s2.2" [label="COPY --from=assets /logo.txt /\\n<k>"];',
        '  }',
        '  "base2" -> "s2.1";',
        '  "s2.1" -> "s2.2";',
        '  "s0.1" -> "s2.1" [style=dashed, label="copy"];',
        '  "s1.1" -> "s2.2" [style=dashed, label="copy"];',
        '}',
        '',
      ].join('\n'),
    );
  });

  describe.runIf(hasTool('dot', 'graphviz'))('dot output read by Graphviz', () => {
    it('parses, and its edges are the DAG', async () => {
      const r = await plan('dot');
      const g = spawnSync('dot', ['-Tplain'], { input: r.stdout, encoding: 'utf8' });
      expect(g.stderr).toBe('');
      expect(g.status).toBe(0);
      const edges = g.stdout
        .split('\n')
        .filter((l) => l.startsWith('edge '))
        .map((l) => {
          const [, from, to] = l.split(' ');
          return `${from!.replace(/"/g, '')} -> ${to!.replace(/"/g, '')}${l.endsWith('dashed black') ? ' (copy)' : ''}`;
        })
        .sort();
      expect(edges).toEqual(['base0 -> s0.1', 'base1 -> s1.1', 'base2 -> s2.1', 's0.1 -> s2.1 (copy)', 's1.1 -> s2.2 (copy)', 's2.1 -> s2.2']);
      const nodes = g.stdout.split('\n').filter((l) => l.startsWith('node ')).length;
      expect(nodes).toBe(7);
    });
  });

  it('an unknown format: exit 2 with the closest one', async () => {
    const r = await plan('mermiad');
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error CLI_BAD_FLAG: unknown format "mermiad"\nhint: did you mean mermaid?\n' });
  });

  it('plan reads the Dockerfile from stdin with -f -, and honours --target and --build-arg', async () => {
    const r = await runCli(['plan', '--cache-dir', `${tmp.path}/cache`, '-f', '-', '--target', 'two', '--build-arg', 'V=2', ctx], {
      input: 'FROM scratch AS one\nARG V=1\nLABEL v=$V\nFROM one AS two\nCOPY logo.txt /\nFROM scratch\n',
    });
    expect(r.code).toBe(0);
    expect(normalise(r.stdout)).toBe(
      [
        'stage 0 "one" FROM scratch  [<k>]',
        '  (no layer-producing steps)',
        'stage 1 "two" (target) FROM stage 0 (one)  [<k>]',
        '  s1.1   COPY logo.txt /  [<k>]',
        'target: stage 1 "two", key <key>',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await runCli(['plan', '--cache-dir', `${tmp.path}/cache`, '-f', '-', '--target', 'two', '--build-arg', 'V=2', '--format', 'json', ctx], { input: 'FROM scratch AS one\nARG V=1\nLABEL v=$V\nFROM one AS two\nCOPY logo.txt /\n' })).stdout);
    expect(json.stages[1].config.config.Labels).toEqual({ v: '2' });
  });
});
