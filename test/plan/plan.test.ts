/**
 * The planner: BuildKit's dispatch semantics (SEMANTICS.md "Variables", "WORKDIR / USER /
 * ENTRYPOINT"), stage selection, and cache keys — with injected resolvers, no I/O.
 */
import { describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import { sha256Digest, type Digest } from '../../src/image/digest.js';
import type { ImageConfig } from '../../src/image/schema.js';
import { checkDockerfile } from '../../src/instructions/check.js';
import { formatPlan } from '../../src/plan/format.js';
import { planBuild, type PlanOptions, type PlanResolvers } from '../../src/plan/plan.js';
import type { CopyStep, Plan, RunStep } from '../../src/plan/types.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };

function baseConfig(extra: Partial<NonNullable<ImageConfig['config']>> = {}): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...extra },
    rootfs: { type: 'layers', diff_ids: [sha256Digest('layer')] },
    history: [{ created_by: 'base layer' }],
  };
}

interface Fakes {
  images?: Record<string, ImageConfig>;
  /** Content digests per context path (default: digest of the path). */
  context?: Record<string, string>;
}

function resolvers(fakes: Fakes = {}): PlanResolvers & { resolved: string[]; hashed: string[] } {
  const resolved: string[] = [];
  const hashed: string[] = [];
  return {
    resolved,
    hashed,
    async resolveImage(ref) {
      resolved.push(ref);
      const config = fakes.images?.[ref] ?? baseConfig();
      return { ref, digest: sha256Digest(`manifest of ${ref}`), config };
    },
    async hashContext({ context, path }) {
      hashed.push(`${context ?? ''}:${path}`);
      return sha256Digest(fakes.context?.[path] ?? `content of ${path}`) as Digest;
    },
  };
}

async function plan(text: string, options: PlanOptions = {}, fakes: Fakes = {}): Promise<Plan> {
  const checked = checkDockerfile(text);
  expect(checked.errors.map((e) => e.message)).toEqual([]);
  return planBuild(checked.stages!, { platform: AMD64, buildPlatform: AMD64, ...options }, resolvers(fakes));
}

async function planError(text: string, options: PlanOptions = {}, fakes: Fakes = {}): Promise<BuildImageError> {
  try {
    await plan(text, options, fakes);
  } catch (err) {
    expect(err).toBeInstanceOf(BuildImageError);
    return err as BuildImageError;
  }
  throw new Error('expected the plan to fail');
}

const target = (p: Plan) => p.stages.find((s) => s.index === p.target)!;
const runs = (p: Plan) => target(p).steps.filter((s): s is RunStep => s.kind === 'run');
const copies = (p: Plan) => target(p).steps.filter((s): s is CopyStep => s.kind === 'copy');
const config = (p: Plan) => target(p).config.config!;
const history = (p: Plan) => target(p).config.history!.map((h) => h.created_by);

describe('variables (SEMANTICS.md)', () => {
  it('ENV: one value per variable for the whole instruction', async () => {
    const p = await plan('FROM scratch\nENV a=hello\nENV a=bye b=$a\nENV c=$a\n');
    expect(config(p).Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'a=bye', 'b=hello', 'c=bye']);
    expect(history(p)).toEqual(['ENV a=hello', 'ENV a=bye b=hello', 'ENV c=bye']);
  });

  it('ARG: values within one instruction see the earlier ones', async () => {
    const p = await plan('FROM scratch\nARG a=1 b=${a}2\nLABEL b=$b\n');
    expect(config(p).Labels).toEqual({ b: '12' });
  });

  it.each([
    ['LABEL', 'FROM busybox\nENV x=1\nLABEL l=$x\n', (p: Plan) => config(p).Labels, { l: '1' }],
    ['WORKDIR', 'FROM busybox\nENV d=/srv\nWORKDIR $d/app\n', (p: Plan) => config(p).WorkingDir, '/srv/app'],
    ['USER', 'FROM busybox\nARG u=app\nUSER ${u}:${u}\n', (p: Plan) => config(p).User, 'app:app'],
    ['VOLUME', 'FROM busybox\nENV v=/data\nVOLUME $v ["/x"]\n', (p: Plan) => config(p).Volumes, { '/data': {}, '[/x]': {} }],
    ['STOPSIGNAL', 'FROM busybox\nARG s=SIGINT\nSTOPSIGNAL $s\n', (p: Plan) => config(p).StopSignal, 'SIGINT'],
    ['EXPOSE', 'FROM busybox\nARG p="80 81/udp"\nEXPOSE $p\n', (p: Plan) => config(p).ExposedPorts, { '80/tcp': {}, '81/udp': {} }],
    ['COPY', 'FROM busybox\nARG src=a dst=/b\nCOPY $src $dst\n', (p: Plan) => [copies(p)[0]!.sources[0], copies(p)[0]!.dest], [{ kind: 'context', path: 'a', digest: sha256Digest('content of a') }, '/b']],
  ])('are expanded in %s', async (_name, text, get, expected) => {
    expect(get(await plan(text))).toEqual(expected);
  });

  it('never in RUN, CMD or ENTRYPOINT text (the shell does that at run time), and \\$x is literal', async () => {
    const p = await plan('FROM busybox\nENV x=1\nRUN echo $x\nCMD echo $x\nLABEL l=\\$x\n');
    expect(runs(p)[0]!.args).toEqual(['/bin/sh', '-c', 'echo $x']);
    expect(config(p).Cmd).toEqual(['/bin/sh', '-c', 'echo $x']);
    expect(config(p).Labels).toEqual({ l: '$x' });
  });

  it('ARG before FROM is visible only in FROM lines, unless re-declared without a value', async () => {
    const p = await plan('ARG TAG=1.2\nARG OTHER=x\nFROM busybox:$TAG\nARG TAG\nLABEL tag=$TAG other=$OTHER\n');
    expect(target(p).base).toMatchObject({ kind: 'image', ref: 'docker.io/library/busybox:1.2' });
    expect(config(p).Labels).toEqual({ tag: '1.2', other: '' });
  });

  it('--build-arg overrides defaults, in FROM and in stages', async () => {
    const p = await plan('ARG TAG=1\nFROM busybox:$TAG\nARG V=default\nLABEL v=$V\n', { buildArgs: { TAG: '2', V: 'given' } });
    expect(target(p).base).toMatchObject({ ref: 'docker.io/library/busybox:2' });
    expect(config(p).Labels).toEqual({ v: 'given' });
  });

  it('FROM <stage> inherits the stage\'s ARGs and ENV', async () => {
    const p = await plan('FROM busybox AS a\nARG A=1\nENV E=2\nFROM a\nRUN true\n');
    // The image's ENV is applied again on top of the inherited environment, which moves
    // PATH after A (llb.EnvList orders by the latest assignment), as in BuildKit.
    expect(runs(p)[0]!.env).toEqual(['A=1', 'PATH=/bin', 'E=2']);
    expect(runs(p)[0]!.createdBy).toBe('RUN |1 A=1 /bin/sh -c true # buildkit');
  });

  it('ENV wins over an earlier ARG of the same name', async () => {
    const p = await plan('FROM busybox\nARG V=arg\nENV V=env\nRUN echo\n', { buildArgs: { V: 'build-arg' } });
    expect(runs(p)[0]!.env).toContain('V=env');
    expect(config(p).Env).toEqual(['PATH=/bin', 'V=env']);
  });

  it('ARGs reach RUN as environment but never the config', async () => {
    const p = await plan('FROM busybox\nARG SECRETISH=1\nRUN env\n');
    expect(runs(p)[0]!.env).toEqual(['PATH=/bin', 'SECRETISH=1']);
    expect(config(p).Env).toEqual(['PATH=/bin']);
  });

  it('a changed build arg misses the cache at its first use, not at its declaration', async () => {
    const text = 'FROM busybox\nARG V\nCOPY a /a\nRUN echo $V\nRUN echo done\n';
    const one = await plan(text, { buildArgs: { V: '1' } });
    const two = await plan(text, { buildArgs: { V: '2' } });
    const keys = (p: Plan) => target(p).steps.map((s) => s.key);
    expect(keys(one)[0]).toBe(keys(two)[0]); // COPY
    expect(keys(one)[1]).not.toBe(keys(two)[1]); // first RUN
    expect(keys(one)[2]).not.toBe(keys(two)[2]); // and everything after
  });

  it('predefined proxy ARGs stay out of the cache key and the history unless declared', async () => {
    const text = 'FROM busybox\nRUN wget x\n';
    const none = await plan(text);
    const proxied = await plan(text, { buildArgs: { HTTP_PROXY: 'http://proxy:3128' } });
    expect(runs(proxied)[0]!.key).toBe(runs(none)[0]!.key);
    expect(runs(proxied)[0]!.createdBy).toBe('RUN /bin/sh -c wget x # buildkit');
    expect(runs(proxied)[0]!.env).toEqual(['PATH=/bin', 'HTTP_PROXY=http://proxy:3128']);
    const declared = await plan('FROM busybox\nARG HTTP_PROXY\nRUN wget x\n', { buildArgs: { HTTP_PROXY: 'http://proxy:3128' } });
    expect(runs(declared)[0]!.createdBy).toBe('RUN |1 HTTP_PROXY=http://proxy:3128 /bin/sh -c wget x # buildkit');
    expect(runs(declared)[0]!.key).not.toBe(runs(none)[0]!.key);
  });

  it('offers the platform ARGs', async () => {
    const p = await plan(
      'FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETPLATFORM TARGETOS TARGETARCH BUILDARCH TARGETSTAGE\nRUN echo\n',
      { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, buildPlatform: AMD64 },
    );
    expect(runs(p)[0]!.createdBy).toBe(
      // containerd normalises arm64/v8 to arm64.
      'RUN |5 TARGETPLATFORM=linux/arm64 TARGETOS=linux TARGETARCH=arm64 BUILDARCH=amd64 TARGETSTAGE=b /bin/sh -c echo # buildkit',
    );
    expect(target(p).platform).toEqual(AMD64);
  });
});

describe('config (SEMANTICS.md "WORKDIR / USER / ENTRYPOINT")', () => {
  it('WORKDIR is relative to the previous one and creates a layer', async () => {
    const p = await plan('FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\n');
    expect(config(p).WorkingDir).toBe('/a/c');
    expect(target(p).steps.map((s) => [s.kind, s.name])).toEqual([
      ['workdir', 'WORKDIR /a'],
      ['workdir', 'WORKDIR /a/b'],
      ['workdir', 'WORKDIR /a/c'],
    ]);
  });

  it('WORKDIR / makes no layer (BuildKit commits it as an empty layer)', async () => {
    const p = await plan('FROM busybox\nWORKDIR /\n');
    expect(target(p).steps).toEqual([]);
    expect(target(p).config.history!.at(-1)).toEqual({ created_by: 'WORKDIR /', comment: 'buildkit.dockerfile.v0', empty_layer: true });
  });

  it('ENTRYPOINT clears an inherited CMD unless CMD is set in the same stage', async () => {
    expect(config(await plan('FROM busybox\nENTRYPOINT ["/x"]\n')).Cmd).toBeUndefined();
    expect(config(await plan('FROM busybox\nCMD ["a"]\nENTRYPOINT ["/x"]\n')).Cmd).toEqual(['a']);
    expect(config(await plan('FROM busybox\nENTRYPOINT ["/x"]\nCMD ["b"]\n')).Cmd).toEqual(['b']);
  });

  it('shell form uses SHELL; CMD sets ArgsEscaped', async () => {
    const p = await plan('FROM busybox\nSHELL ["/bin/bash", "-ec"]\nCMD run it\nRUN x\n');
    expect(config(p).Cmd).toEqual(['/bin/bash', '-ec', 'run it']);
    expect(config(p).ArgsEscaped).toBe(true);
    expect(config(p).Shell).toEqual(['/bin/bash', '-ec']);
    expect(runs(p)[0]!.args).toEqual(['/bin/bash', '-ec', 'x']);
  });

  it('only the last HEALTHCHECK counts; HEALTHCHECK NONE cancels an inherited one', async () => {
    const images = { 'docker.io/library/busybox:latest': baseConfig({ Healthcheck: { Test: ['CMD-SHELL', 'true'] } }) };
    expect(config(await plan('FROM busybox\nHEALTHCHECK NONE\n', {}, { images })).Healthcheck).toEqual({
      Test: ['NONE'],
    });
    const p = await plan('FROM busybox\nHEALTHCHECK CMD a\nHEALTHCHECK --interval=5s --retries=3 CMD ["b"]\n', {}, { images });
    expect(config(p).Healthcheck).toEqual({ Test: ['CMD', 'b'], Interval: 5e9, Retries: 3 });
    expect(history(p).at(-1)).toBe('HEALTHCHECK {Test:[CMD b] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}');
  });

  it('EXPOSE without a protocol means /tcp', async () => {
    const p = await plan('FROM busybox\nEXPOSE 80 53/UDP 8000-8001\n');
    expect(config(p).ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
    expect(history(p).at(-1)).toBe('EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]');
  });

  it('writes history entries as BuildKit does', async () => {
    const p = await plan(
      'FROM busybox\nMAINTAINER me\nUSER app\nVOLUME /a /b\nSHELL ["/bin/sh", "-x"]\nSTOPSIGNAL SIGKILL\nCMD ["a b", "c"]\nENTRYPOINT echo\nCOPY --chown=1:2 --chmod=644 x y /dst/\n',
    );
    expect(history(p)).toEqual([
      'base layer',
      'MAINTAINER me',
      'USER app',
      'VOLUME [/a /b]',
      'SHELL [/bin/sh -x]',
      'STOPSIGNAL SIGKILL',
      'CMD ["a b" "c"]',
      'ENTRYPOINT ["/bin/sh" "-x" "echo"]',
      'COPY --chown=1:2 --chmod=644 x y /dst/ # buildkit',
    ]);
    expect(target(p).config.author).toBe('me');
    expect(target(p).config.history!.slice(1).every((h) => h.comment === 'buildkit.dockerfile.v0')).toBe(true);
  });

  it('stamps history with SOURCE_DATE_EPOCH and uses it as created', async () => {
    const p = await plan('FROM scratch\nENV a=b\n', { epoch: 1700000000 });
    expect(p.created).toBe('2023-11-14T22:13:20Z');
    expect(target(p).config.history).toEqual([{ created_by: 'ENV a=b', comment: 'buildkit.dockerfile.v0', empty_layer: true, created: '2023-11-14T22:13:20Z' }]);
  });

  it('without SOURCE_DATE_EPOCH, created is the documented fixed default', async () => {
    expect((await plan('FROM scratch\n')).created).toBe('1970-01-01T00:00:00Z');
  });

  it('resolves COPY destinations against WORKDIR, keeping a trailing slash', async () => {
    const p = await plan('FROM busybox\nWORKDIR /app\nCOPY a .\nCOPY b c/\nCOPY d /abs\nCOPY e ../up\n');
    expect(copies(p).map((c) => c.dest)).toEqual(['/app/', '/app/c/', '/abs', '/up']);
  });
});

describe('stages', () => {
  const multi = 'FROM busybox AS build\nRUN make\nFROM scratch AS broken\nCOPY --from=build /nope /x\nCOPY missing /y\nFROM scratch AS out\nCOPY --from=build /bin/app /app\n';

  it('builds the last stage by default and prunes stages the target does not reach', async () => {
    const r = resolvers();
    const checked = checkDockerfile(multi);
    const p = await planBuild(checked.stages!, { platform: AMD64 }, r);
    expect(p.stages.map((s) => s.name)).toEqual(['build', 'out']);
    expect(p.target).toBe(2);
    expect(target(p).dependsOn).toEqual([0]);
    expect(r.hashed).toEqual([]); // the broken stage's COPY missing /y was never hashed
  });

  it('--target selects a stage (case-insensitively) and an unknown one is suggested', async () => {
    expect((await plan(multi, { target: 'BUILD' })).stages.map((s) => s.name)).toEqual(['build']);
    const e = await planError(multi, { target: 'bulid' });
    expect([e.code, e.message, e.suggestion]).toEqual(['PLAN_UNKNOWN_TARGET', 'target stage "bulid" could not be found', 'did you mean build? stages: build, broken, out']);
  });

  it('COPY --from accepts a stage index, and a stage must come before its user', async () => {
    const p = await plan('FROM busybox\nRUN x\nFROM scratch\nCOPY --from=0 /a /a\n');
    expect(copies(p)[0]!.sources).toEqual([{ kind: 'stage', stage: 0, path: '/a' }]);
    expect((await planError('FROM scratch\nCOPY --from=7 /a /a\n')).message).toBe('invalid stage index 7');
    const e = await planError('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n', { target: 'a' });
    expect(e.message).toBe('cannot copy from stage "b", it needs to be defined before current stage "a"');
  });

  it('COPY --from=<image> copies from an image', async () => {
    const p = await plan('FROM scratch\nCOPY --from=alpine:3.20 /etc/os-release /x\n');
    expect(copies(p)[0]!.sources).toEqual([
      { kind: 'image', ref: 'docker.io/library/alpine:3.20', digest: sha256Digest('manifest of docker.io/library/alpine:3.20'), origin: { kind: 'registry' }, path: '/etc/os-release' },
    ]);
  });

  it('rejects variables in --from, as BuildKit does', async () => {
    const e = await planError('FROM scratch\nARG S=a\nCOPY --from=$S /a /a\n');
    expect(e.code).toBe('PLAN_FROM_EXPANSION');
  });

  it('detects cycles', async () => {
    const e = await planError('FROM scratch AS a\nRUN --mount=from=b,target=/b true\nFROM a AS b\n');
    expect([e.code, e.message]).toEqual(['PLAN_CIRCULAR_DEPENDENCY', 'circular dependency detected on stage: a']);
  });

  it('runs ONBUILD triggers of the base image first, and not in grandchildren', async () => {
    const images = { 'docker.io/library/onb:latest': baseConfig({ OnBuild: ['COPY . /src', 'RUN make'] }) };
    const p = await plan('FROM onb AS child\nRUN after\nFROM child\nRUN grandchild\n', { target: 'child' }, { images });
    expect(target(p).steps.map((s) => [s.name, s.onbuild ?? false])).toEqual([
      ['COPY . /src', true],
      ['RUN make', true],
      ['RUN after', false],
    ]);
    expect(config(p).OnBuild).toBeUndefined();
    const all = await plan('FROM onb AS child\nRUN after\nFROM child\nRUN grandchild\n', {}, { images });
    expect(target(all).steps.map((s) => s.name)).toEqual(['RUN grandchild']);
  });

  it('ONBUILD in a stage becomes config and runs in a stage built FROM it', async () => {
    const p = await plan('FROM busybox AS a\nONBUILD RUN echo hi\nFROM a\nRUN echo after\n');
    expect(target(p).steps.map((s) => s.name)).toEqual(['RUN echo hi', 'RUN echo after']);
    expect(config(p).OnBuild).toBeUndefined();
    expect(p.stages[0]!.config.config!.OnBuild).toEqual(['RUN echo hi']);
  });

  it('uses a --build-context in place of a FROM image', async () => {
    const r = resolvers();
    const checked = checkDockerfile('FROM alpine:3.20\nRUN x\n');
    const p = await planBuild(checked.stages!, { platform: AMD64, buildContexts: { 'alpine:3.20': { kind: 'oci-layout', path: '/images/alpine', tag: '3.20' } } }, r);
    expect(p.stages[0]!.base).toEqual({
      kind: 'image',
      ref: 'alpine:3.20',
      digest: sha256Digest('manifest of alpine:3.20'),
      origin: { kind: 'oci-layout', path: '/images/alpine', tag: '3.20', digest: undefined },
    });
  });

  it('reads COPY --from=<named directory context> from that context', async () => {
    const r = resolvers();
    const checked = checkDockerfile('FROM scratch\nCOPY --from=assets logo.png /\n');
    const p = await planBuild(checked.stages!, { platform: AMD64, buildContexts: { assets: { kind: 'dir', path: '/srv/assets' } } }, r);
    expect(copies(p)[0]!.sources).toEqual([{ kind: 'context', name: 'assets', path: 'logo.png', digest: sha256Digest('content of logo.png') }]);
    expect(r.hashed).toEqual(['assets:logo.png']);
  });

  it('reports a blank base name', async () => {
    const e = await planError('ARG B\nFROM $B\n');
    expect([e.code, e.message]).toEqual(['PLAN_EMPTY_BASE', 'base name ($B) should not be blank']);
  });
});

describe('cache keys', () => {
  const text = 'FROM busybox\nCOPY a /a\nRUN one\nCOPY b /b\nRUN two\n';

  it('are the same for the same inputs', async () => {
    expect((await plan(text)).stages).toEqual((await plan(text)).stages);
  });

  it('editing one file invalidates exactly the steps from its COPY on', async () => {
    const before = target(await plan(text)).steps.map((s) => s.key);
    const after = target(await plan(text, {}, { context: { b: 'edited b' } })).steps.map((s) => s.key);
    expect(after.map((k, i) => k === before[i])).toEqual([true, true, false, false]);
  });

  it('change with the base image digest', async () => {
    const a = await plan(text);
    const b = await plan(text, {}, { images: { 'docker.io/library/busybox:latest': { ...baseConfig(), rootfs: { type: 'layers', diff_ids: [sha256Digest('other')] } } } });
    // Same manifest digest from the fake resolver: same keys; the digest is what counts.
    expect(target(b).steps[0]!.key).toBe(target(a).steps[0]!.key);
    const c = await planBuild(checkDockerfile(text).stages!, { platform: AMD64 }, {
      ...resolvers(),
      async resolveImage(ref) {
        return { ref, digest: sha256Digest('a newer busybox'), config: baseConfig() };
      },
    });
    expect(target(c).steps.map((s, i) => s.key === target(a).steps[i]!.key)).toEqual([false, false, false, false]);
  });

  it('of a COPY --from cover the source stage\'s key', async () => {
    const t = 'FROM busybox AS b\nCOPY src /src\nFROM scratch\nCOPY --from=b /src /src\n';
    const one = await plan(t);
    const two = await plan(t, {}, { context: { src: 'changed' } });
    expect(target(one).steps[0]!.key).not.toBe(target(two).steps[0]!.key);
  });

  it('do not cover secret contents, only the mount spec', async () => {
    const t = 'FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok\n';
    const p = await plan(t);
    expect(runs(p)[0]!.mounts).toEqual([
      expect.objectContaining({ type: 'secret', cacheId: 'tok', target: '', readOnly: true }),
    ]);
  });
});

describe('formatPlan', () => {
  it('prints the DAG with short keys in text, and the plan in JSON, DOT and Mermaid', async () => {
    const p = await plan('FROM busybox AS build\nRUN make\nFROM scratch\nCOPY --from=build /app /app\n');
    const k = (i: number, j: number) => p.stages[i]!.steps[j]!.key.slice(7, 19);
    expect(formatPlan(p, 'text')).toBe(
      [
        `stage 0 "build" FROM docker.io/library/busybox:latest@${sha256Digest('manifest of docker.io/library/busybox:latest')}  [${p.stages[0]!.baseKey.slice(7, 19)}]`,
        `  s0.1   RUN make  [${k(0, 0)}]`,
        `stage 1 "stage-1" (target) FROM scratch  [${p.stages[1]!.baseKey.slice(7, 19)}]`,
        `  s1.1   COPY --from=build /app /app  ← stage 0  [${k(1, 0)}]`,
        `target: stage 1 "stage-1", key ${p.stages[1]!.key}`,
        '',
      ].join('\n'),
    );
    expect(JSON.parse(formatPlan(p, 'json'))).toEqual(JSON.parse(JSON.stringify(p)));
    expect(formatPlan(p, 'dot')).toContain('"s0.1" -> "s1.1" [style=dashed, label="copy"];');
    expect(formatPlan(p, 'mermaid')).toContain('s0_1 -. copy .-> s1_1');
  });
});

describe('RUN --mount sources', () => {
  it('resolve from= to stages and images, and bind mounts without from= to the context', async () => {
    const p = await plan(
      'FROM busybox AS tools\nRUN make\nFROM busybox\nRUN --mount=from=tools,target=/t --mount=type=bind,source=src,target=/src --mount=type=cache,target=/c --mount=from=alpine,target=/a true\n',
    );
    expect(runs(p)[0]!.mountSources).toEqual([
      { kind: 'stage', stage: 0 },
      { kind: 'context' },
      undefined,
      { kind: 'image', ref: 'docker.io/library/alpine:latest', digest: sha256Digest('manifest of docker.io/library/alpine:latest'), origin: { kind: 'registry' } },
    ]);
    expect(target(p).dependsOn).toEqual([0]);
  });

  it('key the content of a mounted context path', async () => {
    const t = 'FROM busybox\nRUN --mount=type=bind,source=src,target=/src make\n';
    const a = runs(await plan(t))[0]!.key;
    const b = runs(await plan(t, {}, { context: { src: 'edited' } }))[0]!.key;
    expect(a).not.toBe(b);
    expect(runs(await plan(t))[0]!.key).toBe(a);
  });
});

describe('network, platform warnings, --from suggestions', () => {
  it('keys RUN on the effective network: the build-wide --network for steps without their own', async () => {
    const t = 'FROM busybox\nRUN wget x\nRUN --network=none true\n';
    const host = runs(await plan(t, { network: 'host' }));
    const dflt = runs(await plan(t));
    const none = runs(await plan(t, { network: 'none' }));
    expect(host[0]!.key).toBe(dflt[0]!.key); // default is the host's network
    expect(none[0]!.key).not.toBe(host[0]!.key);
    expect(none[1]!.key).not.toBe(host[1]!.key); // its parent changed
  });

  it('warns when the base image is for another platform (BuildKit InvalidBaseImagePlatform)', async () => {
    const p = await plan('FROM busybox\n', { platform: { os: 'linux', architecture: 'arm64' } });
    expect(p.warnings.map((w) => [w.code, w.message, w.range?.start.line])).toEqual([
      ['PLAN_BASE_PLATFORM', 'Base image busybox was pulled with platform "linux/amd64", expected "linux/arm64" for current build', 1],
    ]);
    expect((await plan('FROM busybox\n')).warnings).toEqual([]);
  });

  it('suggests the closest stage when COPY --from names no stage and no image resolves', async () => {
    const checked = checkDockerfile('FROM scratch AS builder\nFROM scratch\nCOPY --from=bulider /a /a\n');
    const e = await planBuild(checked.stages!, { platform: AMD64 }, {
      ...resolvers(),
      async resolveImage(ref) {
        throw new BuildImageError('REGISTRY_NOT_FOUND', `${ref}: not found`);
      },
    }).then(
      () => undefined,
      (err: BuildImageError) => err,
    );
    expect([e?.code, e?.suggestion]).toEqual(['REGISTRY_NOT_FOUND', 'did you mean builder? stages: builder']);
  });
});
