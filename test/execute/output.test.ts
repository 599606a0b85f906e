import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildContext } from '../../src/context/build-context.js';
import { executePlan } from '../../src/execute/build.js';
import { csvFields, parseOutput, writeOutput, writeOutputs, type OutputSpec } from '../../src/execute/output.js';
import { LayerSnapshots } from '../../src/execute/snapshots.js';
import type { Image } from '../../src/image/image.js';
import { readAll } from '../../src/image/stream.js';
import { readTar, writeTar } from '../../src/image/tar.js';
import { readOciArchive } from '../../src/oci/archive.js';
import { readOciLayout } from '../../src/oci/layout.js';
import type { BaseSource } from '../../src/plan/types.js';
import type { Store } from '../../src/store/store.js';
import { BUSYBOX_REF, busyboxLayout } from '../../fixtures/busybox.js';
import { hasTool, isRoot } from '../support/tools.js';
import { dirTree, imageTree } from '../support/tree.js';
import { copyStep, ctx, newStore, plan, tmp, workdirStep } from './helpers.js';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const out = (name: string) => join(mkdtempSync(join(tmpdir(), 'bi-out-')), name);

describe('parseOutput (buildx ParseExports syntax)', () => {
  it.each<[string, OutputSpec]>([
    ['out', { type: 'local', dest: 'out' }],
    ['-', { type: 'tar', dest: '-' }],
    ['type=local,dest=dir', { type: 'local', dest: 'dir' }],
    ['type=oci,dest=img.tar', { type: 'oci', dest: 'img.tar', tar: true, name: undefined }],
    ['type=oci,dest=layout,tar=false,name=app:1', { type: 'oci', dest: 'layout', tar: false, name: 'app:1' }],
    ['TYPE=oci,Dest=x,TAR=0', { type: 'oci', dest: 'x', tar: false, name: undefined }],
    ['type=docker,dest=-,name=app', { type: 'docker', dest: '-', name: 'app' }],
    ['type=tar,dest=root.tar', { type: 'tar', dest: 'root.tar' }],
    ['type=registry,name=registry.example/app:1', { type: 'registry', name: 'registry.example/app:1' }],
    ['type=image,name=r/app,push=true', { type: 'registry', name: 'r/app' }],
    ['"type=local","dest=a,b"', { type: 'local', dest: 'a,b' }],
  ])('%s', (text, want) => {
    expect(parseOutput(text)).toEqual(want);
  });

  it.each([
    ['type=oci', 'type=oci output needs dest=…'],
    ['dest=x,name=y', 'type is required for output "dest=x,name=y"'],
    ['type=ocii,dest=x', 'unsupported output type "ocii"'],
    ['type=local,dest=x,tar=false', 'unknown attribute "tar" for type=local output'],
    ['type=oci,dest=x,compression=zstd', 'output attribute "compression" is not supported by build-image'],
    ['type=oci,dest=x,tar=maybe', 'invalid value "maybe" for tar: expected true or false'],
    ['type=image,name=x', 'type=image without push=true has nowhere to go: build-image has no image store'],
    ['type=registry', 'type=image output needs name=<image reference>'],
    ['type=local,dest=-', 'type=local writes a directory: dest cannot be -'],
    ['type=oci,dest', 'invalid value dest in output "type=oci,dest": expected key=value'],
    ['type="oci', 'invalid output "type="oci": bare " in a field'],
  ])('%s fails: %s', (text, message) => {
    expect(() => parseOutput(text)).toThrow(expect.objectContaining({ code: 'EXEC_OUTPUT_INVALID', message }));
  });

  it('suggestions', () => {
    expect(() => parseOutput('type=lokal,dest=x')).toThrow(expect.objectContaining({ suggestion: 'did you mean local?' }));
    expect(() => parseOutput('type=oci,dset=x')).toThrow(expect.objectContaining({ suggestion: 'did you mean dest?' }));
  });

  it('a single field without type= is a local directory, even with an = in it (as buildx)', () => {
    expect(parseOutput('dest=x')).toEqual({ type: 'local', dest: 'dest=x' });
  });

  it('csvFields follows encoding/csv quoting', () => {
    expect(csvFields('a,"b,c","d""e",')).toEqual(['a', 'b,c', 'd"e', '']);
  });
});

describe('writing outputs of a real build (busybox base)', () => {
  let image: Image;
  let store: Store;
  let expectedTree: string[];

  beforeAll(async () => {
    const bb = await busyboxLayout();
    const base: BaseSource = { kind: 'image', ref: `oci-layout://${bb.dir}:${BUSYBOX_REF}`, digest: bb.digest, origin: { kind: 'oci-layout', path: bb.dir, tag: BUSYBOX_REF } };
    const dir = await tmp('site');
    const files: Record<string, string | Buffer> = {
      'index.html': '<h1>hi</h1>\n',
      'style.css': 'h1 { color: red }\n',
      'motd': 'welcome\n',
    };
    for (const [n, d] of Object.entries(files)) await writeFile(join(dir, n), d);
    const tar = await readAll(
      writeTar([
        { path: 'tool', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 10 },
        { path: 'tool/run.sh', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 10, data: '#!/bin/sh\necho run\n' },
        { path: 'tool/x-again', type: 'hardlink', mode: 0o755, uid: 0, gid: 0, mtime: 10, linkname: 'tool/run.sh' },
      ]),
    );
    await writeFile(join(dir, 'tool.tgz'), gzipSync(tar));
    const main = await BuildContext.open(dir);
    const epoch = 1700000000;
    const steps = [
      copyStep(0, [ctx('index.html'), ctx('style.css')], '/srv/site/', { chown: 'app', epoch }),
      workdirStep(0, '/srv/data', { user: 'app', epoch }),
      copyStep(0, [ctx('tool.tgz')], '/opt/', { instruction: 'ADD', unpack: true, epoch }),
      copyStep(0, [ctx('motd')], '/etc/motd', { link: true, epoch }),
    ];
    store = await newStore();
    const p = plan([{ base, steps, history: [{ created_by: 'busybox' }, ...steps.map((s) => ({ created_by: s.createdBy }))] }], { epoch, created: '2023-11-14T22:13:20Z' });
    image = await executePlan(p, { store, contexts: { main } });
    expectedTree = await imageTree(image, { owners: isRoot });
  });

  it('the image has the files', async () => {
    const tree = await imageTree(image);
    expect(tree.filter((l) => / (srv|opt|etc\/motd)/.test(l))).toEqual([
      expect.stringMatching(/^f 0644 0:0 etc\/motd sha256:/),
      'd 0755 0:0 opt',
      'd 0755 0:0 opt/tool',
      expect.stringMatching(/^f 0755 0:0 opt\/tool\/run.sh sha256:/),
      expect.stringMatching(/^f 0755 0:0 opt\/tool\/x-again sha256:/),
      'd 0755 1000:1000 srv',
      'd 0755 1000:1000 srv/data',
      'd 0755 1000:1000 srv/site',
      expect.stringMatching(/^f 0644 1000:1000 srv\/site\/index.html /),
      expect.stringMatching(/^f 0644 1000:1000 srv\/site\/style.css /),
    ]);
  });

  describe.runIf(hasTool('skopeo', 'skopeo'))('skopeo', () => {
    it('type=oci (archive) and type=docker', async () => {
      const file = out('img.tar');
      await writeOutput(image, parseOutput(`type=oci,dest=${file},name=example/app:1`));
      const inspected = JSON.parse(run('skopeo', ['inspect', `oci-archive:${file}`])) as Record<string, unknown>;
      expect(inspected).toMatchObject({ Digest: image.digest(), Architecture: image.config.architecture, Os: 'linux', Created: '2023-11-14T22:13:20Z', Layers: image.layers.map((l) => l.digest) });
      expect(JSON.parse(run('skopeo', ['inspect', '--config', `oci-archive:${file}`]))).toEqual(JSON.parse(image.configBytes().toString()));
      expect((await readOciArchive(file, { tag: '1' })).digest()).toBe(image.digest());

      const docker = out('docker.tar');
      await writeOutput(image, parseOutput(`type=docker,dest=${docker},name=example/app:1`));
      expect(JSON.parse(run('skopeo', ['inspect', `docker-archive:${docker}`]))).toMatchObject({ Layers: image.layers.map((l) => l.diffID) });
    });
  });

  describe.runIf(hasTool('umoci', 'umoci'))('umoci', () => {
    it('type=oci,tar=false: umoci unpacks exactly the image tree', async () => {
      const layout = out('layout');
      const [r] = await writeOutputs(image, [parseOutput(`type=oci,dest=${layout},tar=false,name=example/app:1`)]);
      expect(r!.digest).toBe(image.digest());
      expect((await readOciLayout(layout, { tag: '1' })).digest()).toBe(image.digest());
      const bundle = join(mkdtempSync(join(tmpdir(), 'bi-umoci-')), 'bundle');
      run('umoci', ['unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${layout}:1`, bundle]);
      expect(dirTree(join(bundle, 'rootfs'), { owners: isRoot })).toEqual(expectedTree);
    });
  });

  describe.runIf(hasTool('oci-image-tool', 'oci-image-tool'))('oci-image-tool', () => {
    // Debian's oci-image-tool (1.0.0-rc1) has no `--type imageLayout`: a layout is validated
    // as `--type image` per ref, plus its manifest and config.
    it('validates the layout, manifest and config', async () => {
      const layout = out('layout');
      await writeOutput(image, parseOutput(`type=oci,dest=${layout},tar=false,name=example/app:1`));
      expect(run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=1', layout])).toContain(`${layout}: OK`);
      const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
      expect(run('oci-image-tool', ['validate', '--type', 'manifest', blob(image.digest())])).toContain('OK');
      expect(run('oci-image-tool', ['validate', '--type', 'config', blob(image.configDigest())])).toContain('OK');
    });
  });

  it('type=local writes the root filesystem (owners when root)', async () => {
    const dest = out('rootfs');
    await writeOutput(image, parseOutput(dest));
    expect(dirTree(dest, { owners: isRoot })).toEqual(expectedTree);
    expect(dirTree(dest, { owners: false, mtime: true })).toEqual(await imageTree(image, { owners: false, mtime: true }));
  });

  it('type=tar writes the root filesystem as one tar; dest=- goes to stdout', async () => {
    const stdout = new PassThrough();
    const collected = readAll(stdout);
    await writeOutput(image, parseOutput('-'), { snapshots: new LayerSnapshots(store), stdout });
    const lines: string[] = [];
    for await (const e of readTar([await collected])) {
      const mode = (e.type === 'symlink' ? 0o777 : e.mode).toString(8).padStart(4, '0');
      lines.push(`${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : 'f'} ${mode} ${e.uid}:${e.gid} ${e.path.replace(/\/$/, '')}`);
      if (e.type === 'file') await e.bytes();
    }
    expect(lines).toEqual((await imageTree(image)).map((l) => l.split(' ').slice(0, 4).join(' ')));
  });

  it('type=registry hands the image to the pusher', async () => {
    const pushed: string[] = [];
    const r = await writeOutput(image, parseOutput('type=registry,name=registry.example/app:1'), {
      pusher: async (img, ref) => {
        pushed.push(`${ref} ${img.digest()}`);
        return { digest: img.digest() };
      },
    });
    expect(pushed).toEqual([`registry.example/app:1 ${image.digest()}`]);
    expect(r.digest).toBe(image.digest());
    await expect(writeOutput(image, parseOutput('type=registry,name=x'))).rejects.toMatchObject({ code: 'EXEC_OUTPUT_INVALID' });
  });

  it('type=oci,dest=- streams the archive', async () => {
    const stdout = new PassThrough();
    const collected = readAll(stdout);
    await writeOutput(image, parseOutput('type=oci,dest=-'), { stdout });
    const file = out('from-stdout.tar');
    await writeFile(file, await collected);
    expect((await readOciArchive(file)).digest()).toBe(image.digest());
    expect(readFileSync(file).length % 512).toBe(0);
  });
});
