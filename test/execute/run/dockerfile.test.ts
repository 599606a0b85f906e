/**
 * RUN from a Dockerfile, through the whole library (plan → scheduler → RUN executor) on the
 * busybox-static base: heredocs, ARGs reaching RUN but not the config, USER and WORKDIR,
 * mounts from a stage by name and from the context, and the image's file tree and config.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, type BusyboxLayout } from '../../../fixtures/busybox.js';
import { build } from '../../../src/build.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { imageTree, sha } from '../../support/tree.js';
import { mountPoints, tempDir } from './support.js';


describe.runIf(isRoot && hasTool('busybox', 'busybox-static') && hasTool('getfattr', 'attr'))('RUN in a Dockerfile build', () => {
  let base: BusyboxLayout;
  let cacheDir: string;

  beforeAll(async () => {
    base = await busyboxLayout();
    cacheDir = await tempDir('cache');
  });

  async function buildIt(dockerfile: string, files: Record<string, string> = {}, more: { buildArgs?: Record<string, string>; secrets?: string[] } = {}) {
    const context = await tempDir('ctx');
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(context, name, '..'), { recursive: true });
      await writeFile(join(context, name), text);
    }
    const before = mountPoints();
    const r = await build({
      context,
      dockerfile,
      cacheDir,
      buildContexts: { base: `oci-layout://${base.dir}@${base.digest}` },
      sourceDateEpoch: 1_700_000_000,
      ...more,
    });
    expect(mountPoints()).toEqual(before);
    return r;
  }

  it('heredocs (a shebang body, several heredocs), ARGs as environment, USER and WORKDIR', async () => {
    const r = await buildIt(
      [
        'FROM base',
        'ARG GREETING=hello',
        'ENV KEPT=yes',
        'RUN <<EOF',
        'echo "$GREETING $KEPT" > /greeting',
        'EOF',
        'RUN <<A cat > /two && cat <<B >> /two',
        'first',
        'A',
        'second',
        'B',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "from $0" > /shebang',
        'EOF',
        'USER app',
        'WORKDIR /home/app/work',
        'RUN id -u > uid && pwd > pwd',
        '',
      ].join('\n'),
      {},
      { buildArgs: { GREETING: 'hi' } },
    );
    const tree = await imageTree(r.image);
    const mine = tree.filter((l) => / (greeting|two|shebang|home\/app\/work(\/.*)?)( |$)/.test(l));
    expect(mine).toEqual([
      `f 0644 0:0 greeting ${sha('hi yes\n')}`,
      'd 0755 1000:1000 home/app/work',
      `f 0644 1000:1000 home/app/work/pwd ${sha('/home/app/work\n')}`,
      `f 0644 1000:1000 home/app/work/uid ${sha('1000\n')}`,
      `f 0644 0:0 shebang ${sha('from /dev/pipes/EOF\n')}`,
      `f 0644 0:0 two ${sha('first\nsecond\n')}`,
    ]);
    // ARGs reach RUN as environment, never the config.
    expect(r.image.config.config?.Env).toEqual(['PATH=/bin', 'KEPT=yes']);
    expect(r.image.config.config?.User).toBe('app');
    expect(r.image.config.config?.WorkingDir).toBe('/home/app/work');
  });

  it('mounts a stage by name and the context; nothing of them lands in the image', async () => {
    const r = await buildIt(
      [
        'FROM base AS tools',
        'RUN mkdir /opt/tool -p && echo "tool v1" > /opt/tool/VERSION',
        'FROM base',
        'RUN --mount=type=bind,from=tools,source=/opt/tool,target=/t --mount=type=bind,source=conf,target=/conf cat /t/VERSION /conf/app.conf > /combined',
        '',
      ].join('\n'),
      { 'conf/app.conf': 'setting=1\n' },
    );
    const tree = await imageTree(r.image);
    expect(tree.some((l) => / (t|conf|opt)(\/|$)/.test(l))).toBe(false);
    expect(tree.filter((l) => l.includes(' combined '))).toEqual([`f 0644 0:0 combined ${sha('tool v1\nsetting=1\n')}`]);
  });
});
