/**
 * RUN: the extension point. The scheduler hands every RunStep to a `Runner`, which returns the
 * layer the command produced (its blob already in the store) and, when it has it, the layer's
 * index (see snapshots.ts) so later steps need not read the layer again. The default runner
 * refuses with `RUN_NOT_SUPPORTED`.
 */
import { BuildImageError } from '../errors.js';
import type { Image } from '../image/image.js';
import type { Layer } from '../image/layer.js';
import type { Platform } from '../image/schema.js';
import type { RunStep } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { RootView } from './rootfs.js';
import type { LayerIndex, LayerSnapshots } from './snapshots.js';

export interface RunContext {
  readonly store: Store;
  /** Layer indexes and snapshot directories (e.g. lower dirs for an overlayfs mount). */
  readonly snapshots: LayerSnapshots;
  /** The layers below this step, bottom to top. */
  readonly layers: readonly Layer[];
  /** The merged root filesystem below this step. */
  view(): Promise<RootView>;
  /** Another stage's result (RUN --mount=from=<stage>). */
  stage(index: number): Promise<{ readonly image: Image; view(): Promise<RootView> }>;
  readonly platform: Platform;
  readonly signal: AbortSignal;
}

export interface RunResult {
  readonly layer: Layer;
  readonly index?: LayerIndex | undefined;
}

export interface Runner {
  run(step: RunStep, context: RunContext): Promise<RunResult>;
}

/** The runner used until RUN is implemented: every RUN fails with `RUN_NOT_SUPPORTED`. */
export const unsupportedRunner: Runner = {
  run(step: RunStep): Promise<RunResult> {
    return Promise.reject(
      new BuildImageError('RUN_NOT_SUPPORTED', `RUN is not supported yet: cannot execute "${step.name}"`, {
        range: step.range,
        suggestion: 'build images without RUN for now (COPY, ADD, WORKDIR and metadata instructions work)',
      }),
    );
  },
};
