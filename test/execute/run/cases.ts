/**
 * The RUN cases every runner, snapshotter and the rootless mode must pass, on the
 * busybox-static base (fixtures/busybox.ts: /bin/busybox and applet symlinks, /etc/passwd with
 * root, nobody and app 1000:1000, /etc/group, /home/app owned by app, /root 0700, /tmp 1777 —
 * and no /dev, /proc, /sys, /etc/hosts or /etc/resolv.conf).
 *
 * Each case runs one or more steps and gives the exact entries of the last step's layer.
 * Steps are clamped to SOURCE_DATE_EPOCH, so a layer is the same bytes whatever runs it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildContext } from '../../../src/context/build-context.js';
import { parseIgnoreFile } from '../../../src/context/ignore.js';
import { findBusybox } from '../../../fixtures/busybox.js';
import { layerFromEntries, type Layer } from '../../../src/image/layer.js';
import type { RunStep } from '../../../src/plan/types.js';
import type { Store } from '../../../src/store/store.js';
import type { MountSourceResolver } from '../../../src/execute/run/execute.js';
import { secretsFromValues, type SecretProvider } from '../../../src/execute/run/secrets.js';
import { busyboxLayers, entries, h, RUNTIME_DIRS, runStep, tarOrder } from './support.js';

export interface CaseEnv {
  readonly store: Store;
  /** A private scratch directory. */
  readonly tmp: string;
  run(
    step: RunStep,
    more?: { layers?: readonly Layer[]; secrets?: SecretProvider; sources?: MountSourceResolver },
  ): Promise<{ layer: Layer; output: string }>;
}

export interface Case {
  readonly name: string;
  /** Runs the case; returns the layer to check and what it should hold. */
  run(env: CaseEnv): Promise<{ layer: Layer; expected: string[]; output?: string; expectOutput?: string }>;
}

/** Expected lines plus the runtime directories (dev, proc, sys), in tar order. */
const withRuntime = (lines: string[]) => tarOrder([...lines, ...RUNTIME_DIRS]);

export const SECRET = 's3cr3t-VALUE-7d1c9b2e';
/** Steps compare the secret with its sha256, so that their own text does not hold it. */
export const SECRET_SHA = createHash('sha256').update(SECRET).digest('hex');

/** Runs `first`, then `second` on top of it; returns the second layer. */
async function twoSteps(env: CaseEnv, first: RunStep, second: RunStep): Promise<Layer> {
  const base = await busyboxLayers();
  const one = await env.run(first);
  return (await env.run(second, { layers: [...base, one.layer] })).layer;
}

export const CASES: readonly Case[] = [
  {
    name: 'deletes files of the base image',
    async run(env) {
      const { layer } = await env.run(runStep('rm /etc/group /bin/ls'));
      return { layer, expected: withRuntime(['d 0755 0:0 bin', 'f 0000 0:0 bin/.wh.ls', 'd 0755 0:0 etc', 'f 0000 0:0 etc/.wh.group']) };
    },
  },
  {
    name: 'deletes a directory and makes it again (opaque)',
    async run(env) {
      const { layer } = await env.run(runStep('rm -rf /home && mkdir /home && echo new > /home/file'));
      return { layer, expected: withRuntime(['d 0755 0:0 home', 'f 0000 0:0 home/.wh..wh..opq', `f 0644 0:0 home/file ${h('new\n')}`]) };
    },
  },
  {
    name: 'remakes an empty directory with another owner (metadata only)',
    async run(env) {
      const { layer } = await env.run(runStep('rm -rf /home/app && mkdir /home/app'));
      return { layer, expected: withRuntime(['d 0755 0:0 home', 'd 0755 0:0 home/app']) };
    },
  },
  {
    name: 'deletes some entries of a directory (one whiteout each)',
    async run(env) {
      const { layer } = await env.run(runStep('rm /bin/ls /bin/cat'));
      return { layer, expected: withRuntime(['d 0755 0:0 bin', 'f 0000 0:0 bin/.wh.cat', 'f 0000 0:0 bin/.wh.ls']) };
    },
  },
  {
    name: 'symlinks and hard links, also to a file of the base',
    async run(env) {
      const { layer } = await env.run(
        runStep('mkdir /d && echo x > /d/f && ln /d/f /d/h && ln -s f /d/s && ln -s /nowhere /d/dangling && ln /bin/busybox /d/bb'),
      );
      const busybox = readFileSync(findBusybox());
      return {
        layer,
        expected: withRuntime([
          'd 0755 0:0 d',
          `f 0755 0:0 d/bb ${h(busybox)}`,
          'l 0777 0:0 d/dangling -> /nowhere',
          `f 0644 0:0 d/f ${h('x\n')}`,
          'h 0644 0:0 d/h => d/f',
          'l 0777 0:0 d/s -> f',
        ]),
      };
    },
  },
  {
    name: 'permissions: setuid, sticky, a mode-only change of a base file',
    async run(env) {
      const { layer } = await env.run(runStep('mkdir -m 1777 /shared && touch /suid && chmod 4755 /suid && chmod 0600 /etc/passwd && chmod 0750 /root'));
      const passwd = (await import('../../../fixtures/busybox.js')).PASSWD;
      return {
        layer,
        expected: withRuntime([
          'd 0755 0:0 etc',
          `f 0600 0:0 etc/passwd ${h(passwd)}`,
          'd 0750 0:0 root',
          'd 1777 0:0 shared',
          `f 4755 0:0 suid ${h('')}`,
        ]),
      };
    },
  },
  {
    name: 'USER by name: files owned by the user, supplementary groups from /etc/group',
    async run(env) {
      const layer = await twoSteps(
        env,
        runStep('echo "staff:x:50:app" >> /etc/group && echo "other:x:51:root,app" >> /etc/group'),
        runStep('id > /tmp/id && mkdir /home/app/work && echo hi > /home/app/work/f', { user: 'app' }),
      );
      // The first step made dev, proc and sys already. The kernel sorts the groups.
      return {
        layer,
        expected: [
          'd 0755 0:0 home',
          'd 0755 1000:1000 home/app',
          'd 0755 1000:1000 home/app/work',
          `f 0644 1000:1000 home/app/work/f ${h('hi\n')}`,
          'd 1777 0:0 tmp',
          `f 0644 1000:1000 tmp/id ${h('uid=1000(app) gid=1000(app) groups=50(staff),51(other),1000(app)\n')}`,
        ],
      };
    },
  },
  {
    name: 'USER uid:gid without /etc/passwd entries, and a working directory made for it',
    async run(env) {
      const { layer } = await env.run(runStep('id > id.txt && pwd >> id.txt', { user: '4242:4343', workdir: '/w/x' }));
      return {
        layer,
        expected: withRuntime([
          'd 0755 4242:4343 w',
          'd 0755 4242:4343 w/x',
          `f 0644 4242:4343 w/x/id.txt ${h('uid=4242 gid=4343 groups=4343\n/w/x\n')}`,
        ]),
      };
    },
  },
  {
    name: 'environment: exactly the step env, in its order (exec form: no shell adds to it)',
    async run(env) {
      const { layer, output } = await env.run(runStep(['/bin/env'], { env: ['PATH=/bin', 'A=1', 'B=two words', 'C=a=b', 'EMPTY='] }));
      // HOME comes from /etc/passwd, as runc sets it when the environment has none.
      return { layer, expected: withRuntime([]), output, expectOutput: 'PATH=/bin\nA=1\nB=two words\nC=a=b\nEMPTY=\nHOME=/root\n' };
    },
  },
  {
    name: 'environment: the default PATH when the step has none',
    async run(env) {
      const { layer } = await env.run(runStep(['/bin/sh', '-c', 'echo "$PATH" > /path'], { env: [] }));
      return { layer, expected: withRuntime([`f 0644 0:0 path ${h('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n')}`]) };
    },
  },
  {
    name: 'exec form runs without a shell',
    async run(env) {
      const { layer } = await env.run(runStep(['/bin/touch', '/made by exec']));
      return { layer, expected: withRuntime([`f 0644 0:0 made by exec ${h('')}`]) };
    },
  },
  {
    name: 'heredoc with a shebang runs from /dev/pipes, which does not stay',
    async run(env) {
      const step = runStep(['/dev/pipes/EOF'], { files: [{ path: '/dev/pipes/EOF', data: '#!/bin/sh\necho "$0" > /script\n', mode: 0o755 }] });
      const { layer } = await env.run(step);
      // The mount at /dev/pipes makes /dev a stub: BuildKit's stub cleaner removes it.
      return { layer, expected: ['d 0755 0:0 proc', `f 0644 0:0 script ${h('/dev/pipes/EOF\n')}`, 'd 0755 0:0 sys'] };
    },
  },
  {
    name: 'mount stubs do not leak; a target that exists stays as it was',
    async run(env) {
      const { layer } = await env.run(
        runStep('test -d /var/lib/x && test -d /tmp && echo ok > /ok', { mountSpecs: ['type=tmpfs,target=/var/lib/x', 'type=tmpfs,target=/tmp'] }),
      );
      return { layer, expected: withRuntime([`f 0644 0:0 ok ${h('ok\n')}`]) };
    },
  },
  {
    name: 'tmpfs mount: writable, size limit, not in the layer',
    async run(env) {
      const { layer } = await env.run(
        runStep('echo x > /scratch/f && grep " /scratch " /proc/mounts > /mounts && cut -d" " -f3 /mounts > /m && grep -o "size=[0-9]*k" /mounts >> /m && rm /mounts', {
          mountSpecs: ['type=tmpfs,target=/scratch,size=1m'],
        }),
      );
      return { layer, expected: withRuntime([`f 0644 0:0 m ${h('tmpfs\nsize=1024k\n')}`]) };
    },
  },
  {
    name: 'cache mount: kept between steps, owner and mode, never in the layer',
    async run(env) {
      const cache = 'type=cache,target=/root/.cache/x,id=c1,uid=1000,gid=1000,mode=0700';
      await env.run(runStep('echo kept > /root/.cache/x/a', { mountSpecs: [cache] }));
      const { layer } = await env.run(runStep('cat /root/.cache/x/a > /out && stat -c "%u:%g %a" /root/.cache/x >> /out', { mountSpecs: [cache] }));
      return { layer, expected: withRuntime([`f 0644 0:0 out ${h('kept\n1000:1000 700\n')}`]) };
    },
  },
  {
    name: 'bind mount of the build context: read-only by default, .dockerignore applies, rw writes discarded',
    async run(env) {
      const dir = join(env.tmp, 'ctx');
      await mkdir(join(dir, 'sub'), { recursive: true });
      await writeFile(join(dir, 'sub', 'a.txt'), 'from context\n');
      await writeFile(join(dir, 'secret.key'), 'ignored\n');
      const context = await BuildContext.open(dir, { ignore: parseIgnoreFile('secret.key\n') });
      const sources: MountSourceResolver = async () => ({ kind: 'context', context, identity: 'context' });
      const { layer } = await env.run(
        runStep(
          'cat /src/sub/a.txt > /out; test -e /src/secret.key || echo ignored >> /out; touch /src/x 2>/dev/null || echo ro >> /out; ' +
            'cat /one/a.txt >> /out; touch /rw/new && echo rw >> /out',
          { mountSpecs: ['type=bind,target=/src', 'type=bind,source=sub,target=/one', 'type=bind,source=sub,target=/rw,rw'] },
        ),
        { sources },
      );
      return { layer, expected: withRuntime([`f 0644 0:0 out ${h('from context\nignored\nro\nfrom context\nrw\n')}`]) };
    },
  },
  {
    name: 'bind mount from another stage, with a source path',
    async run(env) {
      const other = await layerFromEntries([
        { path: 'data', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
        { path: 'data/x', type: 'file', mode: 0o640, uid: 7, gid: 8, mtime: 0, data: 'stage data\n' },
      ]);
      const sources: MountSourceResolver = async () => ({ kind: 'layers', layers: [other], identity: 'stage other' });
      const { layer } = await env.run(
        runStep('cat /mnt/x > /out && stat -c "%a %u:%g" /mnt/x >> /out && (touch /mnt/y 2>/dev/null || echo ro >> /out)', {
          mountSpecs: ['type=bind,from=other,source=/data,target=/mnt'],
        }),
        { sources },
      );
      return { layer, expected: withRuntime([`f 0644 0:0 out ${h('stage data\n640 7:8\nro\n')}`]) };
    },
  },
  {
    name: 'secret mount: a file (0400, root) and a variable, in no layer',
    async run(env) {
      const { layer } = await env.run(
        runStep(
          `test "$(sha256sum < /run/secrets/token)" = "${SECRET_SHA}  -" && stat -c "%a %u:%g" /run/secrets/token > /out && ` +
            `test "$(printf %s "$TOKEN" | sha256sum)" = "${SECRET_SHA}  -" && echo env ok >> /out ` +
            `&& test "$(sha256sum < /etc/app/key)" = "${SECRET_SHA}  -" && stat -c "%a %u:%g" /etc/app/key >> /out`,
          { mountSpecs: ['type=secret,id=token', 'type=secret,id=token,env=TOKEN', 'type=secret,id=token,target=/etc/app/key,mode=0440,uid=1000,gid=1000'] },
        ),
        { secrets: secretsFromValues({ token: SECRET }) },
      );
      return { layer, expected: withRuntime([`f 0644 0:0 out ${h('400 0:0\nenv ok\n440 1000:1000\n')}`]) };
    },
  },
  {
    name: 'network none: only lo',
    async run(env) {
      const { layer } = await env.run(runStep('ls /sys/class/net > /net && cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " >> /net', { network: 'none' }));
      return { layer, expected: withRuntime([`f 0644 0:0 net ${h('lo\nlo\n')}`]) };
    },
  },
  {
    name: 'isolation: PID 1 is the step, only its processes, a fixed hostname',
    async run(env) {
      const { layer } = await env.run(
        runStep('echo $$ > /iso && ps -o comm > /ps && tail -n +2 /ps | sort | tr "\\n" " " >> /iso && rm /ps && hostname >> /iso && cat /etc/hosts >> /iso'),
      );
      return {
        layer,
        expected: withRuntime([`f 0644 0:0 iso ${h('1\nps sh buildkitsandbox\n127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n')}`]),
      };
    },
  },
];
