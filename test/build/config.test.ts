/**
 * The image config a Dockerfile produces, compared whole: Env, Cmd, Entrypoint (resetting an
 * inherited CMD), WorkingDir (and the directory it creates, owned by USER), User, ExposedPorts,
 * Volumes, Labels, StopSignal, Healthcheck, Shell, OnBuild (triggers run in the child stage and
 * are not inherited further), ArgsEscaped, os/architecture, rootfs diff_ids and history
 * (created_by, empty_layer, created). Values were checked against `docker build` (BuildKit); the
 * HEALTHCHECK history text follows BuildKit's current `%+v` form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Image } from '../../src/image/image.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { hasTool } from '../support/tools.js';
import { builder, busyboxBase, CREATED, ownTree, sha, workspace } from './helpers.js';

const ws = workspace('config');
afterAll(() => ws.cleanup());
const build = builder(ws);
const busybox = hasTool('busybox', 'busybox-static');

function configOf(image: Image): Record<string, unknown> {
  return JSON.parse(image.configBytes().toString()) as Record<string, unknown>;
}

const step = (created_by: string, empty = false) => ({ comment: 'buildkit.dockerfile.v0', created: CREATED, created_by, ...(empty ? { empty_layer: true } : {}) });

describe.runIf(busybox)('config fields (busybox base)', () => {
  let base: Image;
  beforeAll(async () => {
    const bb = await busyboxBase();
    base = await readOciLayout(bb.dir, { tag: 'latest' });
  });

  it('every field, exactly, with history and diff_ids', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox AS base',
        'ONBUILD COPY a /onbuild/a',
        'HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --start-interval=2s --retries=4 CMD ["wget", "-q", "http://localhost/"]',
        'FROM base',
        'ENV A=1 B="two words"',
        'ENV C=$A',
        'ARG BUILD=x',
        'LABEL org.example.one=1 "two"="2 2"',
        'EXPOSE 80 443/udp 8080/tcp',
        'VOLUME /data',
        'VOLUME ["/logs", "/cache"]',
        'USER app:app',
        'WORKDIR /srv/app',
        'WORKDIR sub',
        'STOPSIGNAL SIGTERM',
        'SHELL ["/bin/sh", "-ec"]',
        'ENTRYPOINT ["/bin/echo"]',
        'CMD echo $A $BUILD',
        'ONBUILD COPY . /x',
        '',
      ].join('\n'),
      a: 'a',
    });
    const config = configOf(r.image);
    const baseConfig = configOf(base);
    expect(config).toEqual({
      architecture: baseConfig['architecture'],
      os: 'linux',
      created: CREATED,
      config: {
        ArgsEscaped: true,
        Cmd: ['/bin/sh', '-ec', 'echo $A $BUILD'],
        Entrypoint: ['/bin/echo'],
        Env: ['PATH=/bin', 'A=1', 'B=two words', 'C=1'],
        ExposedPorts: { '443/udp': {}, '80/tcp': {}, '8080/tcp': {} },
        Healthcheck: { Test: ['CMD', 'wget', '-q', 'http://localhost/'], Interval: 5e9, Timeout: 3e9, StartPeriod: 1e9, StartInterval: 2e9, Retries: 4 },
        Labels: { 'org.example.one': '1', two: '2 2' },
        OnBuild: ['COPY . /x'],
        Shell: ['/bin/sh', '-ec'],
        StopSignal: 'SIGTERM',
        User: 'app:app',
        Volumes: { '/cache': {}, '/data': {}, '/logs': {} },
        WorkingDir: '/srv/app/sub',
      },
      rootfs: { type: 'layers', diff_ids: r.image.layers.map((l) => l.diffID) },
      history: [
        ...(baseConfig['history'] as unknown[]),
        step('HEALTHCHECK {Test:[CMD wget -q http://localhost/] Interval:5s Timeout:3s StartPeriod:1s StartInterval:2s Retries:4}', true),
        step('COPY a /onbuild/a # buildkit'),
        step('ENV A=1 B=two words', true),
        step('ENV C=1', true),
        step('ARG BUILD=x', true),
        step('LABEL org.example.one=1 two=2 2', true),
        step('EXPOSE [443/udp 80/tcp 8080/tcp]', true),
        step('VOLUME [/data]', true),
        step('VOLUME [/logs /cache]', true),
        step('USER app:app', true),
        step('WORKDIR /srv/app'),
        step('WORKDIR /srv/app/sub'),
        step('STOPSIGNAL SIGTERM', true),
        step('SHELL [/bin/sh -ec]', true),
        step('ENTRYPOINT ["/bin/echo"]', true),
        step('CMD ["/bin/sh" "-ec" "echo $A $BUILD"]', true),
        // ONBUILD only records its trigger: no history entry (BuildKit's dispatchOnbuild).
      ],
    });
    // The base's layer, then one per layer-making step (ONBUILD's COPY, two WORKDIRs).
    expect(r.image.layers.map((l) => l.diffID).slice(0, 1)).toEqual(base.layers.map((l) => l.diffID));
    expect(r.image.layers).toHaveLength(4);
    // WORKDIR creates its directories, owned by USER, even with nothing in them.
    expect(await ownTree(r.image)).toEqual([
      'd 0755 0:0 onbuild',
      `f 0644 0:0 onbuild/a ${sha('a')}`,
      'd 0755 1000:1000 srv',
      'd 0755 1000:1000 srv/app',
      'd 0755 1000:1000 srv/app/sub',
    ]);
  });

  it.each([
    ['ENTRYPOINT clears the inherited CMD', 'ENTRYPOINT ["/bin/echo"]', { Entrypoint: ['/bin/echo'] }],
    // CMD always sets ArgsEscaped (BuildKit's dispatchCmd, on Linux too); ENTRYPOINT never does.
    ['CMD after ENTRYPOINT stays', 'ENTRYPOINT ["/bin/echo"]\nCMD ["hi"]', { Entrypoint: ['/bin/echo'], Cmd: ['hi'], ArgsEscaped: true }],
    ['CMD before ENTRYPOINT in the same stage stays', 'CMD ["hi"]\nENTRYPOINT ["/bin/echo"]', { Entrypoint: ['/bin/echo'], Cmd: ['hi'], ArgsEscaped: true }],
    ['shell-form ENTRYPOINT', 'ENTRYPOINT exec /bin/echo', { Entrypoint: ['/bin/sh', '-c', 'exec /bin/echo'] }],
    ['an inherited CMD stays without ENTRYPOINT', 'USER 1000', { Cmd: ['/bin/sh'], User: '1000' }],
    ['HEALTHCHECK NONE', 'HEALTHCHECK NONE', { Cmd: ['/bin/sh'], Healthcheck: { Test: ['NONE'] } }],
    ['only the last HEALTHCHECK counts', 'HEALTHCHECK CMD true\nHEALTHCHECK --retries=2 CMD false', { Cmd: ['/bin/sh'], Healthcheck: { Test: ['CMD-SHELL', 'false'], Retries: 2 } }],
    ['EXPOSE without protocol is tcp; ranges expand', 'EXPOSE 53/udp 7000-7002', { Cmd: ['/bin/sh'], ExposedPorts: { '53/udp': {}, '7000/tcp': {}, '7001/tcp': {}, '7002/tcp': {} } }],
  ])('%s', async (_name, lines, want) => {
    const r = await build({ Dockerfile: `FROM busybox\n${lines}\n` });
    expect((configOf(r.image)['config'] as Record<string, unknown>)).toEqual({ Env: ['PATH=/bin'], ...want });
  });

  it('ONBUILD triggers run in the child stage only, not in grandchildren', async () => {
    const r = await build({
      Dockerfile: 'FROM busybox AS parent\nONBUILD COPY a /from-trigger\nFROM parent AS child\nFROM child\nCOPY a /own\n',
      a: 'a',
    });
    expect(await ownTree(r.image)).toEqual([`f 0644 0:0 from-trigger ${sha('a')}`, `f 0644 0:0 own ${sha('a')}`]);
    expect((configOf(r.image)['config'] as Record<string, unknown>)['OnBuild']).toBeUndefined();
    expect((configOf(r.image)['history'] as { created_by: string }[]).map((h) => h.created_by).slice(1)).toEqual(['COPY a /from-trigger # buildkit', 'COPY a /own # buildkit']);
  });
});

describe('os and architecture', () => {
  it.each([
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
  ])('--platform %s (a COPY-only image builds for any platform)', async (platform, want) => {
    const r = await build({ Dockerfile: 'FROM scratch\nARG TARGETPLATFORM\nLABEL p=$TARGETPLATFORM\nCOPY a /a\n', a: 'a' }, { platform });
    const c = configOf(r.image);
    expect({ os: c['os'], architecture: c['architecture'], ...(c['variant'] ? { variant: c['variant'] } : {}) }).toEqual(want);
    expect((c['config'] as { Labels: Record<string, string> }).Labels).toEqual({ p: platform });
  });
});
