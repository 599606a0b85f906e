/**
 * `build-image build` flag by flag, through the compiled CLI, offline: bases come from the
 * busybox-static fixture (`--build-context busybox=oci-layout://DIR:latest`), every build has
 * its own `--cache-dir`, and results are read back from the store (an OCI layout) or the
 * output the flag asked for.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildEvent } from '../../src/events.js';
import { hostPlatform } from '../../src/image/image.js';
import { readTar } from '../../src/image/tar.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { cliPath } from '../support/cli.js';
import { dirTree, imageTree, sha } from '../support/tree.js';
import { busybox, buildWith, normalisePlain, storedImage, summary, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-flags');
afterAll(() => tmp.cleanup());

let bb: Awaited<ReturnType<typeof busybox>>;
beforeAll(async () => {
  bb = await busybox();
});

let n = 0;
/** A fresh store for one test. */
function freshCache(): string {
  return join(tmp.path, `cache-${++n}`);
}

/** One stage, every step in order: its progress is deterministic. */
const SINGLE = {
  Dockerfile: 'FROM busybox\nWORKDIR /app\nCOPY a.txt .\nRUN echo built; echo built > b.txt\nENV X=1\nCMD ["cat", "/app/a.txt"]\n',
  'a.txt': 'a\n',
};

describe('--progress', () => {
  it('plain: one line per event; the rebuild shows CACHED for every step', async () => {
    const ctx = writeContext(tmp.path, 'plain', SINGLE);
    const cache = freshCache();
    const first = await buildWith(cache, ['--progress', 'plain', ...bb.flags, '-t', 'plain:1', ctx]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    const head = [
      '#1 [1/4] FROM busybox@<digest>',
      '#1 DONE #s',
      '#2 [2/4] WORKDIR /app',
    ];
    const tail = [
      '#5 DONE #s: <digest>',
      'built <digest>',
      `  stored in the local image store (an OCI layout): ${cache}:plain:1`,
      `  load into docker:  skopeo copy oci:${cache}:plain:1 docker-daemon:plain:1`,
      '               or:  build-image -o type=docker,dest=image.tar … && docker load -i image.tar',
      '  push:             build-image -t REGISTRY/NAME:TAG --push …',
      '',
    ];
    expect(normalisePlain(first.stderr)).toBe(
      [...head, '#2 DONE #s', '#3 [3/4] COPY a.txt .', '#3 DONE #s', '#4 [4/4] RUN echo built; echo built > b.txt', '#4 # built', '#4 DONE #s', ...tail].join('\n'),
    );

    const again = await buildWith(cache, ['--progress', 'plain', ...bb.flags, '-t', 'plain:1', ctx]);
    expect(again.code).toBe(0);
    expect(normalisePlain(again.stderr)).toBe(
      [...head, '#2 CACHED', '#3 [3/4] COPY a.txt .', '#3 CACHED', '#4 [4/4] RUN echo built; echo built > b.txt', '#4 CACHED', ...tail].join('\n'),
    );
    // The same image, both times.
    const digests = (s: string) => s.match(/^built (sha256:[0-9a-f]{64})$/m)?.[1];
    expect(digests(again.stderr)).toBe(digests(first.stderr));
    expect(digests(first.stderr)).toBe((await storedImage(cache, 'plain:1')).digest());
  });

  it('rawjson: every line is one of the library events, in order, ending with done', async () => {
    const ctx = writeContext(tmp.path, 'rawjson', SINGLE);
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'rawjson', ...bb.flags, '-t', 'raw:1', ctx]);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n');
    const sum = summary(r.stderr);
    const events = lines.slice(0, lines.length - sum.length - 1).map((l) => JSON.parse(l) as BuildEvent);
    const keys: Record<BuildEvent['type'], string[]> = {
      plan: ['stages', 'steps', 'type'],
      'step-start': ['id', 'name', 'stage', 'time', 'type'],
      'step-cached': ['id', 'name', 'stage', 'time', 'type'],
      'step-done': ['duration', 'id', 'time', 'type'],
      'step-error': ['duration', 'id', 'message', 'time', 'type'],
      'step-output': ['data', 'id', 'stream', 'time', 'type'],
      warning: ['code', 'message', 'time', 'type'],
      done: ['digest', 'duration', 'outputs', 'time', 'type'],
    };
    for (const e of events) expect(Object.keys(e).sort()).toEqual(keys[e.type]);
    // Without times, the stream is exact.
    const shape = events.map((e) => {
      const { time: _t, duration: _d, ...rest } = e as BuildEvent & { time?: number; duration?: number };
      return rest;
    });
    const image = await storedImage(cache, 'raw:1');
    expect(shape).toEqual([
      { type: 'plan', stages: 1, steps: 3 },
      { type: 'step-start', id: 's0.from', name: `[1/4] FROM busybox@${bb.digest}`, stage: 'stage-0' },
      { type: 'step-done', id: 's0.from' },
      { type: 'step-start', id: 's0.1', name: '[2/4] WORKDIR /app', stage: 'stage-0' },
      { type: 'step-done', id: 's0.1' },
      { type: 'step-start', id: 's0.2', name: '[3/4] COPY a.txt .', stage: 'stage-0' },
      { type: 'step-done', id: 's0.2' },
      { type: 'step-start', id: 's0.3', name: '[4/4] RUN echo built; echo built > b.txt', stage: 'stage-0' },
      { type: 'step-output', id: 's0.3', stream: 'stdout', data: 'built\n' },
      { type: 'step-done', id: 's0.3' },
      { type: 'done', digest: image.digest(), outputs: [`${cache}:raw:1`] },
    ]);
    // Times never go backwards.
    const times = events.map((e) => ('time' in e ? e.time : 0)).filter((t) => t > 0);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('tty: the live view ends with a final frame — every step, its time, FINISHED', async () => {
    const ctx = writeContext(tmp.path, 'tty', SINGLE);
    const cache = freshCache();
    await buildWith(cache, ['--progress', 'quiet', ...bb.flags, ctx]);
    writeContext(tmp.path, 'tty', { 'a.txt': 'changed\n' });
    const r = await buildWith(cache, ['--progress', 'tty', ...bb.flags, ctx]);
    expect(r.code).toBe(0);
    // Frames are redrawn in place: cursor up over the previous frame, clear to the end.
    const frames = r.stderr.split(/\x1b\[\d+A\x1b\[J/);
    const last = frames.at(-1)!.split('\n');
    const frame = last.slice(0, last.findIndex((l) => l.startsWith('built ')));
    // The digest is cut short (…) when the line would not fit, or shown whole when it does.
    const norm = (l: string) => l.replace(/ +\d+\.\ds$/, ' #s').replace(/Building \d+\.\ds/, 'Building #s').replace(/sha256:[0-9a-f]+…?/, '<digest>');
    expect(frame.map(norm)).toEqual([
      '[+] Building #s (4/4) FINISHED',
      ' => [1/4] FROM busybox@<digest> #s',
      ' => CACHED [2/4] WORKDIR /app #s',
      ' => [3/4] COPY a.txt . #s',
      ' => [4/4] RUN echo built; echo built > b.txt #s',
    ]);
    // Every line fits the default width of 100 columns.
    for (const l of frame) expect(l.length).toBeLessThanOrEqual(99);
  });

  it('plain: output without a final newline is printed when its step ends; a failed step says ERROR', async () => {
    const ctx = writeContext(tmp.path, 'plain-partial', { Dockerfile: "FROM busybox\nRUN printf 'first\\nno newline'\nRUN printf 'half'; exit 4\n" });
    const r = await buildWith(freshCache(), ['--progress', 'plain', ...bb.flags, ctx]);
    expect(r.code).toBe(1);
    const run = "RUN printf 'half'; exit 4";
    expect(normalisePlain(r.stderr).split('\n').slice(0, 11)).toEqual([
      '#1 [1/3] FROM busybox@<digest>',
      '#1 DONE #s',
      "#2 [2/3] RUN printf 'first\\nno newline'",
      '#2 # first',
      '#2 # no newline',
      '#2 DONE #s',
      `#3 [3/3] ${run}`,
      '#3 # half',
      `#3 ERROR: ${run}: process "/bin/sh -c printf 'half'; exit 4" did not complete successfully: exit code: 4`,
      `error RUN_FAILED: ${run}: process "/bin/sh -c printf 'half'; exit 4" did not complete successfully: exit code: 4`,
      '  half',
    ]);
  });

  it('auto is plain when stderr is not a terminal; quiet prints only the result', async () => {
    const ctx = writeContext(tmp.path, 'auto', SINGLE);
    const cache = freshCache();
    const auto = await buildWith(cache, [...bb.flags, ctx]);
    expect(auto.stderr.split('\n').slice(0, 2)).toEqual([`#1 [1/4] FROM busybox@${bb.digest}`, '#1 DONE 0.0s']);
    const quiet = await buildWith(cache, ['--progress', 'quiet', ...bb.flags, ctx]);
    expect(quiet.stderr.split('\n')[0]).toMatch(/^built sha256:[0-9a-f]{64}$/);
    expect(summary(quiet.stderr)).toEqual(quiet.stderr.split('\n').filter((l) => l !== ''));
  });
});

describe('--iidfile and --metadata-file', () => {
  it('--iidfile holds exactly the config digest (the image ID), --metadata-file the digests, names and outputs', async () => {
    const ctx = writeContext(tmp.path, 'iid', SINGLE);
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'quiet', ...bb.flags, '-t', 'iid:1', '-t', 'registry.example/team/iid:2', '--iidfile', 'out/../iid.txt', '--metadata-file', 'meta.json', '-o', 'type=oci,dest=oci-out,tar=false', '.'], {
      cwd: ctx,
    });
    expect(r.code).toBe(0);
    const image = await readOciLayout(join(ctx, 'oci-out'), { tag: '1' });
    const iid = readFileSync(join(ctx, 'iid.txt'), 'utf8');
    expect(iid).toBe(image.configDigest());
    expect(iid).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The ID is the digest of the config blob as written.
    expect(sha(readFileSync(join(ctx, 'oci-out/blobs/sha256', iid.slice(7))))).toBe(iid);
    const manifestBytes = readFileSync(join(ctx, 'oci-out/blobs/sha256', image.digest().slice(7)));
    expect(readFileSync(join(ctx, 'meta.json'), 'utf8')).toBe(
      JSON.stringify(
        {
          'build-image.outputs': [{ digest: image.digest(), location: 'oci-out', type: 'oci' }],
          'containerimage.config.digest': iid,
          'containerimage.descriptor': { digest: image.digest(), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifestBytes.length },
          'containerimage.digest': image.digest(),
          'image.name': 'iid:1,registry.example/team/iid:2',
        },
        null,
        2,
      ) + '\n',
    );
    expect(createHash('sha256').update(manifestBytes).digest('hex')).toBe(image.digest().slice(7));
  });

  it('without -t or -o: the metadata names the store output and no image.name', async () => {
    const ctx = writeContext(tmp.path, 'meta-default', { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'quiet', '--metadata-file', join(ctx, 'm.json'), ctx]);
    expect(r.code).toBe(0);
    const image = await storedImage(cache, 'meta-default:latest');
    const meta = JSON.parse(readFileSync(join(ctx, 'm.json'), 'utf8'));
    expect(Object.keys(meta)).toEqual(['build-image.outputs', 'containerimage.config.digest', 'containerimage.descriptor', 'containerimage.digest']);
    expect(meta['build-image.outputs']).toEqual([{ digest: image.digest(), location: `${cache}:meta-default:latest`, type: 'store' }]);
    expect(meta['containerimage.digest']).toBe(image.digest());
    expect(meta['containerimage.config.digest']).toBe(image.configDigest());
  });
});

describe('-t/--tag (repeatable)', () => {
  it('every name tags the image in the store (an OCI layout index with one ref.name each)', async () => {
    const ctx = writeContext(tmp.path, 'tags', { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'quiet', '-t', 'app:1.0', '--tag', 'app:latest', '--tag=localhost:5000/app:dev', ctx]);
    expect(r.code).toBe(0);
    const index = JSON.parse(readFileSync(join(cache, 'index.json'), 'utf8'));
    const image = await storedImage(cache, 'app:1.0');
    expect(index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [m.annotations['org.opencontainers.image.ref.name'], m.digest])).toEqual([
      ['app:1.0', image.digest()],
      ['app:latest', image.digest()],
      ['localhost:5000/app:dev', image.digest()],
    ]);
    // The summary names the first tag.
    expect(summary(r.stderr)[1]).toBe(`  stored in the local image store (an OCI layout): ${cache}:app:1.0`);
  });
});

describe('-f/--file', () => {
  it.each<[string, string[], string | undefined]>([
    ['-f PATH relative to the working directory', ['-f', 'build/Containerfile', '.'], undefined],
    ['--file=PATH', ['--file=build/Containerfile', '.'], undefined],
    ['-f - reads the Dockerfile from stdin', ['-f', '-', '.'], 'FROM scratch\nCOPY a.txt /from-stdin.txt\n'],
  ])('%s', async (_what, args, input) => {
    const ctx = writeContext(tmp.path, `file-${n}`, { 'build/Containerfile': 'FROM scratch\nCOPY a.txt /from-file.txt\n', 'a.txt': 'a\n' });
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'quiet', '-t', 'f:1', ...args], { cwd: ctx, ...(input ? { input } : {}) });
    expect(r.stderr).toMatch(/^built /);
    expect(await imageTree(await storedImage(cache, 'f:1'))).toEqual([`f 0644 0:0 ${input ? 'from-stdin.txt' : 'from-file.txt'} ${sha('a\n')}`]);
  });

  it('a -f that does not exist names the file and exits 1', async () => {
    const ctx = writeContext(tmp.path, 'file-missing', { 'a.txt': 'a\n' });
    const r = await buildWith(freshCache(), ['-f', 'nope/Dockerfile', '.'], { cwd: ctx });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error BUILD_NO_DOCKERFILE: cannot read the Dockerfile ${ctx}/nope/Dockerfile: no such file\n  at ${ctx}/nope/Dockerfile\n` });
  });
});

describe('--target', () => {
  const files = {
    Dockerfile: 'FROM busybox AS base\nRUN echo base > /base.txt\nFROM base AS test\nRUN echo test > /test.txt\nFROM scratch AS final\nCOPY --from=base /base.txt /\n',
  };
  it.each<[string[], string[], string[]]>([
    [['--target', 'base'], ['base.txt'], ['[base 1/2] FROM busybox', '[base 2/2] RUN echo base > /base.txt']],
    // As BuildKit: FROM is a step only for an image base, not for another stage (`[test 1/1]`) or scratch (`[final 1/1]`).
    [['--target', 'test'], ['base.txt', 'test.txt'], ['[base 1/2] FROM busybox', '[base 2/2] RUN echo base > /base.txt', '[test 1/1] RUN echo test > /test.txt']],
    [['--target=TEST'], ['base.txt', 'test.txt'], ['[base 1/2] FROM busybox', '[base 2/2] RUN echo base > /base.txt', '[test 1/1] RUN echo test > /test.txt']],
    [[], ['base.txt'], ['[base 1/2] FROM busybox', '[base 2/2] RUN echo base > /base.txt', '[final 1/1] COPY --from=base /base.txt /']],
  ])('%j builds that stage and the stages it needs, nothing else', async (flags, files_, steps) => {
    const ctx = writeContext(tmp.path, `target-${n}`, files);
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'plain', ...bb.flags, '-t', 't:1', ...flags, ctx]);
    expect(r.code).toBe(0);
    const names = r.stderr
      .split('\n')
      .filter((l) => /^#\d+ \[/.test(l))
      .map((l) => l.replace(/^#\d+ /, '').replace(/@sha256:[0-9a-f]{64}$/, ''));
    expect(names.sort()).toEqual([...steps].sort());
    const tree = await imageTree(await storedImage(cache, 't:1'));
    expect(tree.filter((l) => / [a-z]+\.txt /.test(l)).map((l) => l.split(' ')[3])).toEqual(files_);
  });
});

describe('--build-arg', () => {
  it('NAME=VALUE sets it, NAME alone takes it from the environment, an unset NAME keeps the default', async () => {
    const ctx = writeContext(tmp.path, 'args', { Dockerfile: 'FROM scratch\nARG WHO=nobody\nARG LEVEL=1\nARG MODE=fast\nLABEL who=$WHO level=$LEVEL mode=$MODE\n' });
    const cache = freshCache();
    const env: NodeJS.ProcessEnv = { ...process.env, LEVEL: '9' };
    delete env['MODE'];
    const r = await buildWith(cache, ['--progress', 'quiet', '-t', 'a:1', '--build-arg', 'WHO=me', '--build-arg', 'LEVEL', '--build-arg', 'MODE', ctx], { env });
    expect(r.code).toBe(0);
    expect((await storedImage(cache, 'a:1')).config.config?.Labels).toEqual({ level: '9', mode: 'fast', who: 'me' });
  });
});

describe('--build-context', () => {
  it('NAME=DIR is a context COPY --from=NAME reads; NAME=oci-layout://… replaces FROM NAME', async () => {
    const assets = writeContext(tmp.path, 'assets', { 'logo.txt': 'logo\n', 'skip.txt': 'no\n' });
    const ctx = writeContext(tmp.path, 'named', { Dockerfile: 'FROM busybox\nCOPY --from=assets logo.txt /srv/\n' });
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'quiet', '-t', 'n:1', '--build-context', `assets=${assets}`, ...bb.flags, ctx]);
    expect(r.code).toBe(0);
    const image = await storedImage(cache, 'n:1');
    const base = await readOciLayout(bb.dir, { tag: 'busybox:latest' });
    expect(image.layers[0]!.digest).toBe(base.layers[0]!.digest);
    expect(await imageTree(image, { under: 'srv' })).toEqual(['d 0755 0:0 srv', `f 0644 0:0 srv/logo.txt ${sha('logo\n')}`]);
  });

  it('NAME=oci-layout://… replaces the stage called NAME (its steps do not run)', async () => {
    // An image of our own as the replacement: built with -o type=oci,tar=false first.
    const gen = writeContext(tmp.path, 'replacement', { Dockerfile: 'FROM scratch\nCOPY version.txt /\n', 'version.txt': 'pinned\n' });
    const cache = freshCache();
    expect((await buildWith(cache, ['--progress', 'quiet', '-t', 'gen:pinned', '-o', `type=oci,dest=${gen}/layout,tar=false`, gen])).code).toBe(0);
    const ctx = writeContext(tmp.path, 'replaced', { Dockerfile: 'FROM busybox AS gen\nRUN echo generated > /version.txt\nFROM scratch\nCOPY --from=gen version.txt /\n' });
    // The OCI exporter names the image by its tag alone (org.opencontainers.image.ref.name=pinned), as BuildKit's.
    const r = await buildWith(cache, ['--progress', 'plain', '-t', 'r:1', '--build-context', `gen=oci-layout://${gen}/layout:pinned`, ...bb.flags, ctx]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('RUN echo generated');
    expect(await imageTree(await storedImage(cache, 'r:1'))).toEqual([`f 0644 0:0 version.txt ${sha('pinned\n')}`]);
  });

  it('NAME=DIR cannot replace a stage: a clear error, exit 1', async () => {
    const dir = writeContext(tmp.path, 'replacement-dir', { 'version.txt': 'pinned\n' });
    const ctx = writeContext(tmp.path, 'replaced-dir', { Dockerfile: 'FROM busybox AS gen\nRUN echo generated > /version.txt\nFROM scratch\nCOPY --from=gen version.txt /\n' });
    const r = await buildWith(freshCache(), ['--progress', 'plain', '--build-context', `gen=${dir}`, ...bb.flags, '.'], { cwd: ctx });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'error PLAN_UNSUPPORTED: build context "gen" is a directory: it cannot replace a stage or a FROM image',
        '  at Dockerfile:1:1 (line 1, column 1)',
        '> 1 | FROM busybox AS gen',
        '    | ^^^^^^^^^^^^^^^^^^^',
        'hint: use COPY --from=gen, or give an oci-layout:// context',
        '',
      ].join('\n'),
    });
  });
});

describe('--secret', () => {
  const files = {
    Dockerfile:
      'FROM busybox\nRUN --mount=type=secret,id=tok --mount=type=secret,id=api,env=API_KEY tr a-z A-Z < /run/secrets/tok > /tok.txt && echo "api=$API_KEY" > /api.txt\n',
    'tok.secret': 'token-value\n',
  };
  it('id=ID,src=FILE and id=ID,env=VAR reach RUN; they stay out of the image, its history and the cache key', async () => {
    const ctx = writeContext(tmp.path, 'secret', files);
    const cache = freshCache();
    const args = ['--progress', 'plain', '-t', 's:1', '--secret', 'id=tok,src=tok.secret', '--secret', 'id=api,env=MY_API', ...bb.flags, '.'];
    const r = await buildWith(cache, args, { cwd: ctx, env: { ...process.env, MY_API: 'k-123' } });
    expect(r.code).toBe(0);
    const image = await storedImage(cache, 's:1');
    const tree = await imageTree(image);
    expect(tree.filter((l) => / (tok|api)\.txt /.test(l))).toEqual([`f 0644 0:0 api.txt ${sha('api=k-123\n')}`, `f 0644 0:0 tok.txt ${sha('TOKEN-VALUE\n')}`]);
    expect(tree.filter((l) => l.includes('secrets'))).toEqual([]);
    const config = JSON.stringify(image.config);
    expect(config).not.toContain('token-value');
    expect(config).not.toContain('k-123');
    // Other secret values: the same cache key (secrets are not part of it, as in BuildKit).
    writeContext(tmp.path, 'secret', { 'tok.secret': 'another\n' });
    const again = await buildWith(cache, args, { cwd: ctx, env: { ...process.env, MY_API: 'other' } });
    expect(again.stderr).toMatch(/^#2 CACHED$/m);
  });

  it('a secret whose variable is not set fails the step that mounts it', async () => {
    const ctx = writeContext(tmp.path, 'secret-unset', files);
    const env = { ...process.env };
    delete env['MY_API'];
    const r = await buildWith(freshCache(), ['--progress', 'quiet', '--secret', 'id=tok,src=tok.secret', '--secret', 'id=api,env=MY_API', ...bb.flags, '.'], { cwd: ctx, env });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('error RUN_SECRET_UNAVAILABLE: secret api: environment variable MY_API is not set');
  });
});

/** Runs the CLI with stdout as bytes (for `-o -`). */
function runBinary(args: readonly string[], cwd: string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliPath, ...args], { cwd, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

describe('-o/--output', () => {
  const files = { Dockerfile: 'FROM scratch\nCOPY a.txt /data/a.txt\nCOPY --chmod=755 run.sh /bin/run\n', 'a.txt': 'a\n', 'run.sh': '#!/bin/sh\n' };

  it('DIR alone, type=local, type=oci (dir and tar), type=docker: all in one build, one image', async () => {
    const ctx = writeContext(tmp.path, 'outputs', files);
    const cache = freshCache();
    const r = await buildWith(
      cache,
      ['--progress', 'quiet', '-t', 'out:1', '-o', 'rootfs', '--output', 'type=local,dest=rootfs2', '-o', 'type=oci,dest=oci,tar=false', '-o', 'type=oci,dest=image.oci.tar', '-o', 'type=docker,dest=image.docker.tar', '.'],
      { cwd: ctx },
    );
    expect(r.code).toBe(0);
    const rootfs = ['d 0755 bin', `f 0755 bin/run ${sha('#!/bin/sh\n')}`, 'd 0755 data', `f 0644 data/a.txt ${sha('a\n')}`];
    expect(dirTree(join(ctx, 'rootfs'), { owners: false })).toEqual(rootfs);
    expect(dirTree(join(ctx, 'rootfs2'), { owners: false })).toEqual(rootfs);
    // As BuildKit's OCI exporter: ref.name is the tag alone.
    const image = await readOciLayout(join(ctx, 'oci'), { tag: '1' });
    expect(await imageTree(image)).toEqual(['d 0755 0:0 bin', `f 0755 0:0 bin/run ${sha('#!/bin/sh\n')}`, 'd 0755 0:0 data', `f 0644 0:0 data/a.txt ${sha('a\n')}`]);
    const tarNames = async (file: string) => {
      const names: string[] = [];
      for await (const e of readTar(Readable.from(readFileSync(join(ctx, file))))) names.push(e.path);
      return names;
    };
    expect(await tarNames('image.oci.tar')).toContain('index.json');
    expect(await tarNames('image.oci.tar')).toContain(`blobs/sha256/${image.digest().slice(7)}`);
    expect(await tarNames('image.docker.tar')).toContain('manifest.json');
    expect(summary(r.stderr)).toEqual([
      `built ${image.digest()}`,
      '  local: rootfs',
      '  local: rootfs2',
      '  OCI output: oci',
      '  OCI archive: image.oci.tar',
      '  docker archive: image.docker.tar  (docker load -i image.docker.tar)',
    ]);
    // With -o, the image does not go to the store.
    expect(existsSync(join(cache, 'index.json')) ? readFileSync(join(cache, 'index.json'), 'utf8') : '').not.toContain('out:1');
  });

  it('-o - writes the root filesystem as a tar on stdout (and nothing else there)', async () => {
    const ctx = writeContext(tmp.path, 'output-stdout', files);
    const r = await runBinary(['build', '--cache-dir', freshCache(), '--progress', 'quiet', '-o', '-', '.'], ctx);
    expect(r.stderr).toMatch(/^built sha256:[0-9a-f]{64}\n  tar: -\n$/);
    expect(r.code).toBe(0);
    const entries: string[] = [];
    for await (const e of readTar(Readable.from(r.stdout))) {
      let body = '';
      if (e.type === 'file') for await (const c of e.body()) body += Buffer.from(c as Uint8Array).toString();
      entries.push(`${e.type} ${e.path} ${body}`.trim());
    }
    expect(entries).toEqual(['dir bin/', 'file bin/run #!/bin/sh', 'dir data/', 'file data/a.txt a']);
  });
});

describe('--platform', () => {
  const other = hostPlatform().architecture === 'arm64' ? 'amd64' : 'arm64';

  it(`a platform the base image does not have (linux/${other}): built from the only base there is, labelled linux/${other}`, async () => {
    // The fixture is a single manifest (no index) for the host's architecture. As BuildKit,
    // a base that is not an index is used as is and the image gets the target platform.
    const ctx = writeContext(tmp.path, 'platform', { Dockerfile: 'FROM busybox\nARG TARGETPLATFORM\nCOPY a.txt /\nLABEL target=$TARGETPLATFORM\n', 'a.txt': 'a\n' });
    const cache = freshCache();
    const r = await buildWith(cache, ['--progress', 'plain', '--platform', `linux/${other}`, '-t', 'p:1', ...bb.flags, ctx]);
    expect(r.code).toBe(0);
    const image = await storedImage(cache, 'p:1');
    expect(image.platform()).toEqual({ architecture: other, os: 'linux' });
    expect(image.config.config?.Labels).toEqual({ target: `linux/${other}` });
    const base = await readOciLayout(bb.dir, { tag: 'busybox:latest' });
    expect(base.platform().architecture).toBe(hostPlatform().architecture);
    expect(image.layers[0]!.digest).toBe(base.layers[0]!.digest);
    // The index entry of the store carries the target platform too.
    const index = JSON.parse(readFileSync(join(cache, 'index.json'), 'utf8'));
    expect(index.manifests[0].platform).toEqual({ architecture: other, os: 'linux' });
  });

  it('warns that the base image platform differs (BuildKit lint InvalidBaseImagePlatform)', async () => {
    const ctx = writeContext(tmp.path, 'platform-warn', { Dockerfile: 'FROM busybox\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const r = await buildWith(freshCache(), ['--progress', 'plain', '--platform', `linux/${other}`, ...bb.flags, ctx]);
    expect(r.stderr).toContain(`WARNING: Base image busybox was pulled with platform "linux/${hostPlatform().architecture}", expected "linux/${other}" for current build`);
  });

  it('the host platform given explicitly is the default build (same image)', async () => {
    const ctx = writeContext(tmp.path, 'platform-host', { Dockerfile: 'FROM busybox\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const cache = freshCache();
    const host = hostPlatform();
    await buildWith(cache, ['--progress', 'quiet', '-t', 'h:1', ...bb.flags, ctx]);
    await buildWith(cache, ['--progress', 'quiet', '-t', 'h:2', '--platform', `linux/${host.architecture}${host.variant ? `/${host.variant}` : ''}`, ...bb.flags, ctx]);
    expect((await storedImage(cache, 'h:2')).digest()).toBe((await storedImage(cache, 'h:1')).digest());
  });
});

describe('--no-cache', () => {
  it('runs every step again (no CACHED); with SOURCE_DATE_EPOCH the image is the same', async () => {
    const ctx = writeContext(tmp.path, 'nocache', SINGLE);
    const cache = freshCache();
    // Without SOURCE_DATE_EPOCH files a RUN writes keep the time they were written (as BuildKit).
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    const first = await buildWith(cache, ['--progress', 'plain', '-t', 'nc:1', ...bb.flags, ctx], { env });
    const again = await buildWith(cache, ['--progress', 'plain', '--no-cache', '-t', 'nc:2', ...bb.flags, ctx], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('CACHED');
    expect(again.stderr).toMatch(/^#4 \d+\.\d{3} built$/m);
    expect(normalisePlain(again.stderr).split('\n').slice(0, 10)).toEqual(normalisePlain(first.stderr).split('\n').slice(0, 10));
    expect((await storedImage(cache, 'nc:2')).digest()).toBe((await storedImage(cache, 'nc:1')).digest());
  });
});

describe('--network', () => {
  /** Network interfaces a RUN step sees (from /proc/net/dev). */
  const files = { Dockerfile: "FROM busybox\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /ifaces\n" };
  const hostIfaces = () =>
    readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter((l) => l !== '')
      .sort();

  it.each<[string, () => string[]]>([
    ['none', () => ['lo']],
    ['host', hostIfaces],
    ['default', hostIfaces],
  ])('--network %s', async (mode, expected) => {
    const ctx = writeContext(tmp.path, `net-${mode}`, files);
    const r = await buildWith(freshCache(), ['--progress', 'quiet', '--network', mode, '-o', 'out', ...bb.flags, '.'], { cwd: ctx });
    expect(r.code).toBe(0);
    expect(readFileSync(join(ctx, 'out/ifaces'), 'utf8').trim().split('\n')).toEqual(expected());
  });

  it('a different --network is a different cache key (BuildKit keeps ExecOp.Network in the key)', async () => {
    const ctx = writeContext(tmp.path, 'net-key', files);
    const cache = freshCache();
    await buildWith(cache, ['--progress', 'quiet', '--network', 'host', ...bb.flags, ctx]);
    const r = await buildWith(cache, ['--progress', 'plain', '--network', 'none', ...bb.flags, ctx]);
    expect(r.stderr).not.toContain('CACHED');
  });
});

describe('--cache-dir', () => {
  it('is the store: an OCI layout holding the image; another directory starts cold', async () => {
    const ctx = writeContext(tmp.path, 'cachedir', SINGLE);
    const a = freshCache();
    const b = freshCache();
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
    await buildWith(a, ['--progress', 'quiet', ...bb.flags, ctx], { env });
    expect(JSON.parse(readFileSync(join(a, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const image = await storedImage(a, 'cachedir:latest');
    for (const blob of [image.digest(), image.configDigest(), ...image.layers.map((l) => l.digest)]) {
      expect(readdirSync(join(a, 'blobs/sha256'))).toContain(blob.slice(7));
    }
    const warm = await buildWith(a, ['--progress', 'plain', ...bb.flags, ctx], { env });
    const cold = await buildWith(b, ['--progress', 'plain', ...bb.flags, ctx], { env });
    expect(warm.stderr.match(/CACHED/g)).toHaveLength(3);
    expect(cold.stderr).not.toContain('CACHED');
    expect((await storedImage(b, 'cachedir:latest')).digest()).toBe(image.digest());
  });
});
