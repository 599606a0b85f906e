/** Helpers for executor tests: stores, contexts, a small base image, hand-made plans. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildContext } from '../../src/context/build-context.js';
import { sha256Digest, type Digest } from '../../src/image/digest.js';
import { emptyImage, appendLayers, type Image } from '../../src/image/image.js';
import { layerFromEntries } from '../../src/image/layer.js';
import type { Platform } from '../../src/image/schema.js';
import type { TarEntry } from '../../src/image/tar.js';
import { writeOciLayout } from '../../src/oci/layout.js';
import type { BaseSource, CopySource, CopyStep, Plan, PlannedStage, Step, WorkdirStep } from '../../src/plan/types.js';
import { openStore, type Store } from '../../src/store/store.js';
import { makeTree, type Node } from '../context/tree.js';

export const PLATFORM: Platform = { os: 'linux', architecture: 'amd64' } as Platform;

export async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bi-exec-${prefix}-`));
}

export async function newStore(): Promise<Store> {
  return openStore({ root: await tmp('store') });
}

/** A build context directory made from a compact spec (see test/context/tree.ts). */
export async function makeContext(spec: Record<string, Node>, options: { ignore?: Parameters<typeof BuildContext.open>[1] } = {}): Promise<BuildContext> {
  const dir = await tmp('ctx');
  await makeTree(dir, spec);
  return BuildContext.open(dir, options.ignore ?? {});
}

const d = (path: string, mode = 0o755, uid = 0, gid = 0): TarEntry => ({ path, type: 'dir', mode, uid, gid, mtime: 1000 });
const f = (path: string, data: string, mode = 0o644, uid = 0, gid = 0): TarEntry => ({ path, type: 'file', mode, uid, gid, mtime: 1000, data });
const l = (path: string, target: string): TarEntry => ({ path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 1000, linkname: target });

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n';
export const GROUP = 'root:x:0:\nstaff:x:50:\napp:x:1001:\n';

/**
 * A small base image (two layers):
 *   layer 1: etc/{passwd,group,hostname}, usr/bin/tool, usr/bin/old, home/app (1000:1001),
 *            bin -> usr/bin, data/ (0700), attack symlinks etc-link -> /etc, up -> ../../..,
 *            opt/keep/a, opt/keep/b
 *   layer 2: deletes usr/bin/old (whiteout), makes opt/keep opaque with a new file c.
 */
export async function baseImage(): Promise<Image> {
  const layer1 = await layerFromEntries([
    d('etc'),
    f('etc/passwd', PASSWD),
    f('etc/group', GROUP),
    f('etc/hostname', 'base\n'),
    d('usr'),
    d('usr/bin'),
    f('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755),
    f('usr/bin/old', 'old\n', 0o755),
    l('bin', 'usr/bin'),
    d('home'),
    d('home/app', 0o750, 1000, 1001),
    d('data', 0o700),
    l('etc-link', '/etc'),
    l('up', '../../..'),
    d('opt'),
    d('opt/keep'),
    f('opt/keep/a', 'a'),
    f('opt/keep/b', 'b'),
  ]);
  const layer2 = await layerFromEntries([
    { path: 'usr/bin/.wh.old', type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, data: '' },
    d('opt/keep'),
    { path: 'opt/keep/.wh..wh..opq', type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0, data: '' },
    f('opt/keep/c', 'c'),
  ]);
  const img = emptyImage({ platform: PLATFORM });
  return appendLayers(img, { layer: layer1, history: { created_by: 'base layer 1' } }, { layer: layer2, history: { created_by: 'base layer 2' } });
}

/** Writes an image into a fresh OCI layout; returns the BaseSource naming it. */
export async function layoutSource(image: Image, tag = 'base'): Promise<{ dir: string; source: Extract<BaseSource, { kind: 'image' }> }> {
  const dir = await tmp('layout');
  await writeOciLayout(dir, image, { tag });
  return { dir, source: { kind: 'image', ref: `oci-layout://${dir}:${tag}`, digest: image.digest(), origin: { kind: 'oci-layout', path: dir, tag } } };
}

export function key(...parts: unknown[]): Digest {
  return sha256Digest(JSON.stringify(parts));
}

let counter = 0;

/** A CopyStep with defaults (key derived from its content unless given). */
export function copyStep(stage: number, sources: CopySource[], dest: string, more: Partial<CopyStep> = {}): CopyStep {
  const base = {
    kind: 'copy' as const,
    instruction: 'COPY' as const,
    sources,
    dest,
    chown: '',
    chmod: undefined,
    link: false,
    parents: false,
    exclude: [],
    unpack: false,
    ...more,
  };
  const id = more.id ?? `s${stage}.${counter++}`;
  return {
    ...base,
    id,
    stage,
    key: more.key ?? key('copy', stage, base, more.parentKey ?? null),
    parentKey: more.parentKey ?? key('parent', stage),
    name: more.name ?? `${base.instruction} ${sources.map((s) => ('path' in s ? s.path : s.kind)).join(' ')} ${dest}`,
    createdBy: more.createdBy ?? `${base.instruction} ${dest}`,
  };
}

export function workdirStep(stage: number, path: string, more: Partial<WorkdirStep> = {}): WorkdirStep {
  const id = more.id ?? `s${stage}.${counter++}`;
  return {
    kind: 'workdir',
    path,
    user: '',
    ...more,
    id,
    stage,
    key: more.key ?? key('workdir', stage, path, more.user ?? '', more.epoch ?? null, more.parentKey ?? null),
    parentKey: more.parentKey ?? key('parent', stage),
    name: more.name ?? `WORKDIR ${path}`,
    createdBy: more.createdBy ?? `WORKDIR ${path}`,
  };
}

export function ctx(path: string, name?: string): CopySource {
  return { kind: 'context', path, name, digest: key('ctx', path, name ?? '') };
}

export interface StageSpec {
  readonly name?: string;
  readonly base?: BaseSource;
  readonly steps: readonly Step[];
  readonly history?: readonly { created_by?: string; empty_layer?: boolean }[];
  readonly dependsOn?: readonly number[];
}

/** A plan of stages (the last one is the target unless `target` is given). */
export function plan(stages: readonly StageSpec[], options: { target?: number; epoch?: number; created?: string } = {}): Plan {
  const planned: PlannedStage[] = stages.map((s, index) => {
    const base = s.base ?? { kind: 'scratch' as const };
    const baseKey = key('base', index, base);
    const history =
      s.history ?? s.steps.map((st) => ({ created_by: st.createdBy, comment: 'buildkit.dockerfile.v0' }));
    return {
      index,
      name: s.name ?? `stage-${index}`,
      base,
      baseKey,
      steps: s.steps,
      key: s.steps.length > 0 ? s.steps[s.steps.length - 1]!.key : baseKey,
      platform: PLATFORM,
      config: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin'] }, history: [...history] },
      dependsOn: s.dependsOn ?? [],
    } as PlannedStage;
  });
  return {
    target: options.target ?? stages.length - 1,
    stages: planned,
    stageCount: stages.length,
    warnings: [],
    contextPaths: [],
    platform: PLATFORM,
    epoch: options.epoch,
    created: options.created ?? '1970-01-01T00:00:00Z',
  };
}

export function uniqueSuffix(): string {
  return String(counter++);
}
