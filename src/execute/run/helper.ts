/**
 * The rootless helper's entry point (see rootless.ts): started inside a new user namespace,
 * reads a HelperJob on stdin, runs the step as root of that namespace, passes the step's
 * output through on stdout/stderr and writes a HelperAnswer on fd 3.
 */
import { writeSync } from 'node:fs';
import { BuildImageError } from '../../errors.js';
import { layerFromBlob, type Layer } from '../../image/layer.js';
import { readAll } from '../../image/stream.js';
import { openStore } from '../../store/store.js';
import { RunStepError, type MountSource } from './execute.js';
import { RunExecutor, type RunStepContext } from './executor.js';
import type { HelperAnswer, HelperJob, LayerDesc, SourceDesc } from './rootless.js';
import { secretsFromValues } from './secrets.js';

function answer(a: HelperAnswer): void {
  writeSync(3, JSON.stringify(a));
}

function mappingHint(err: unknown): string | undefined {
  const mapping = process.env['BUILD_IMAGE_ROOTLESS_MAPPING'];
  if (mapping === undefined || mapping === 'full') return undefined;
  const text = String((err as Error)?.message ?? err);
  if (/EINVAL|Invalid argument/.test(text)) {
    return `only your own uid is mapped into the user namespace, so files and users with other ids cannot exist: ${mapping}`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const job = JSON.parse((await readAll(process.stdin)).toString('utf8')) as HelperJob;
  const controller = new AbortController();
  process.on('SIGTERM', () => controller.abort(new BuildImageError('RUN_ABORTED', 'the step was aborted')));
  const store = await openStore({ root: job.storeRoot });
  const layer = (d: LayerDesc): Layer => layerFromBlob(store, { ...d, digest: d.digest as Layer['digest'], diffID: d.diffID as Layer['diffID'] });
  const source = (d: SourceDesc): MountSource => (d.kind === 'dir' ? d : { kind: 'layers', layers: d.layers.map(layer), identity: d.identity });
  const executor = new RunExecutor({ ...job.options, rootless: false });
  const secrets = secretsFromValues(Object.fromEntries(Object.entries(job.secrets).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
  try {
    const context: RunStepContext = {
      store,
      snapshots: undefined as never,
      layers: job.parentLayers.map(layer),
      view: () => Promise.reject(new Error('no view in the rootless helper')),
      stage: () => Promise.reject(new Error('no stages in the rootless helper')),
      platform: undefined as never,
      signal: controller.signal,
      secrets,
      sources: async (_from, _m, i) => {
        const d = job.sources[i];
        if (d === undefined || d === null) throw new BuildImageError('RUN_INTERNAL', `mount ${i} has no prepared source`);
        return source(d);
      },
      onOutput: (chunk) => (chunk.stream === 'stdout' ? process.stdout : process.stderr).write(chunk.data),
    };
    const result = await executor.run(job.step, context);
    const l = result.layer;
    answer({ ok: true, layer: { mediaType: l.mediaType, digest: l.digest, size: l.size, diffID: l.diffID }, index: result.index! });
  } catch (err) {
    const hint = mappingHint(err);
    if (err instanceof RunStepError) {
      answer({ ok: false, error: { code: err.code, message: err.message, suggestion: hint ?? err.suggestion, exitCode: err.exitCode, outputTail: err.outputTail } });
    } else if (err instanceof BuildImageError) {
      answer({ ok: false, error: { code: err.code, message: err.message, suggestion: hint ?? err.suggestion } });
    } else {
      answer({ ok: false, error: { code: 'RUN_ROOTLESS_FAILED', message: String((err as Error)?.stack ?? err), suggestion: hint } });
    }
  }
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  await new Promise<void>((r) => process.stderr.write('', () => r()));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`build-image rootless helper: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(70);
  },
);
