/**
 * The build plan: what `planBuild` produces and the executor runs. A plan is a DAG of
 * layer-producing steps grouped by stage, each with a content-addressed cache key, plus the
 * image config and history each stage ends with. Every value in it is already expanded (ARG,
 * ENV, WORKDIR, platform) the way BuildKit's dockerfile2llb dispatch expands it; the executor
 * never looks at the Dockerfile again.
 */
import type { SourceRange } from '../errors.js';
import type { Digest } from '../image/digest.js';
import type { ImageConfig, Platform } from '../image/schema.js';
import type { Mount } from '../instructions/mount.js';

/** Where a stage starts from. */
export type BaseSource =
  | { readonly kind: 'scratch' }
  /** Another stage of this Dockerfile (FROM <stage>). */
  | { readonly kind: 'stage'; readonly stage: number }
  /** An image: a registry reference resolved to a manifest digest, or a local OCI layout. */
  | {
      readonly kind: 'image';
      /** As written after expansion, normalised (`docker.io/library/alpine:3.20`). */
      readonly ref: string;
      /** The manifest digest it resolved to (part of the cache key). */
      readonly digest: Digest;
      /** Where it came from: a registry or a `--build-context NAME=oci-layout://…`. */
      readonly origin: ImageOrigin;
    };

export type ImageOrigin =
  | { readonly kind: 'registry' }
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string | undefined; readonly digest?: Digest | undefined };

/** Where COPY/ADD files come from. */
export type CopySource =
  /** The main build context or a named `--build-context NAME=DIR`. */
  | {
      readonly kind: 'context';
      /** undefined: the main context; otherwise the named context. */
      readonly name?: string | undefined;
      /** The path or wildcard as written (after expansion), relative to the context root. */
      readonly path: string;
      /** Digest of the selected, non-ignored files (content + metadata, never mtime). */
      readonly digest: Digest;
    }
  /** A path in another stage's result (COPY --from=<stage|index>). */
  | { readonly kind: 'stage'; readonly stage: number; readonly path: string }
  /** A path in an image (COPY --from=<image>). */
  | { readonly kind: 'image'; readonly ref: string; readonly digest: Digest; readonly origin: ImageOrigin; readonly path: string }
  /** A heredoc (COPY <<EOF): a file named `name` with `data` (already expanded if it had to be). */
  | { readonly kind: 'inline'; readonly name: string; readonly data: string }
  /** ADD http(s)://… : downloaded, mode 0600, mtime from Last-Modified; never unpacked. */
  | { readonly kind: 'url'; readonly url: string; readonly checksum?: Digest | undefined };

/** The files a RUN --mount shows. */
export type MountSource =
  | { readonly kind: 'context'; readonly name?: string | undefined }
  | { readonly kind: 'stage'; readonly stage: number }
  | { readonly kind: 'image'; readonly ref: string; readonly digest: Digest; readonly origin: ImageOrigin };

interface StepBase {
  /** Unique within the plan: `s<stage>.<n>`. */
  readonly id: string;
  readonly stage: number;
  /** Content-addressed key: the same key always yields the same layer. */
  readonly key: Digest;
  /** The key of the step before it (the stage's base key for the first step). */
  readonly parentKey: Digest;
  /** What the progress display shows: `COPY src /app` (expanded). */
  readonly name: string;
  /** The history `created_by` of this step, as BuildKit writes it. */
  readonly createdBy: string;
  /** Where it comes from in the Dockerfile (undefined for implicit steps). */
  readonly range?: SourceRange | undefined;
  /** True when it comes from an ONBUILD trigger of the base. */
  readonly onbuild?: boolean | undefined;
}

export interface CopyStep extends StepBase {
  readonly kind: 'copy';
  /** COPY or ADD. */
  readonly instruction: 'COPY' | 'ADD';
  readonly sources: readonly CopySource[];
  /**
   * The absolute destination, resolved against WORKDIR. A trailing `/` is kept: it means
   * "a directory" (several sources or a wildcard need it).
   */
  readonly dest: string;
  /** `--chown` as written (user[:group], names or ids), resolved in the image at execution. */
  readonly chown: string;
  /** `--chmod` as an octal number, or undefined. */
  readonly chmod: number | undefined;
  readonly link: boolean;
  readonly parents: boolean;
  readonly exclude: readonly string[];
  /** ADD: extract local tar archives (detected by content). */
  readonly unpack: boolean;
  /** SOURCE_DATE_EPOCH in seconds when set (clamps mtimes). */
  readonly epoch?: number | undefined;
}

/** WORKDIR creating its directory (mkdir -p, owned by the current USER). */
export interface WorkdirStep extends StepBase {
  readonly kind: 'workdir';
  readonly path: string;
  /** The USER at that point ('' = root), resolved in the image at execution. */
  readonly user: string;
  readonly epoch?: number | undefined;
}

export interface RunStep extends StepBase {
  readonly kind: 'run';
  /** The argv to execute (shell form already wrapped in SHELL / `/bin/sh -c`). */
  readonly args: readonly string[];
  /** The full environment: image ENV plus the ARGs in scope (`KEY=value`). */
  readonly env: readonly string[];
  /** Proxy build args not declared with ARG: in `env`, but kept out of the key and history. */
  readonly proxyEnv: readonly string[];
  readonly user: string;
  readonly workdir: string;
  readonly mounts: readonly Mount[];
  /**
   * Where each mount's files come from, index for index with `mounts`: `from=<stage|image|
   * context>`, the main context for a bind mount without `from`, undefined for tmpfs, secret,
   * ssh and cache mounts without `from`.
   */
  readonly mountSources: readonly (MountSource | undefined)[];
  readonly network: 'default' | 'none' | 'host';
  readonly security: 'sandbox' | 'insecure';
  /** Files for heredoc RUNs with a shebang, mounted under /dev/pipes/. */
  readonly files: readonly { readonly path: string; readonly data: string; readonly mode: number }[];
  readonly epoch?: number | undefined;
}

export type Step = CopyStep | WorkdirStep | RunStep;

export interface PlannedStage {
  readonly index: number;
  /** The stage name, or `stage-<index>`. */
  readonly name: string;
  readonly base: BaseSource;
  /** The key of the base (scratch, image digest, or the base stage's last key). */
  readonly baseKey: Digest;
  /** The layer-producing steps, in order. */
  readonly steps: readonly Step[];
  /** The key of the stage's result (its last step, or its base). */
  readonly key: Digest;
  readonly platform: Platform;
  /**
   * The image config the stage ends with, without rootfs (the executor adds layers) —
   * history entries are in order; each entry without `empty_layer` matches, in order, the
   * base image's layers and then this stage's steps.
   */
  readonly config: Omit<ImageConfig, 'rootfs'>;
  /** Stages this one needs first (FROM <stage>, COPY --from, RUN --mount from=). */
  readonly dependsOn: readonly number[];
  readonly range?: SourceRange | undefined;
}

/** Something a person should know that does not stop the build (BuildKit's lint warnings). */
export interface PlanWarning {
  readonly code: string;
  readonly message: string;
  readonly range?: SourceRange | undefined;
}

export interface Plan {
  /** Index of the target stage. */
  readonly target: number;
  /** The stages the target needs, in an order where dependencies come first. */
  readonly stages: readonly PlannedStage[];
  /**
   * How many stages the Dockerfile defines, counting images named by COPY --from (BuildKit
   * leaves the stage name out of progress lines when there is only one).
   */
  readonly stageCount: number;
  readonly warnings: readonly PlanWarning[];
  /** Names of the main context's paths the build reads (for the context transfer). */
  readonly contextPaths: readonly string[];
  readonly platform: Platform;
  /** SOURCE_DATE_EPOCH in seconds, if set. */
  readonly epoch: number | undefined;
  /** The image config's `created` (RFC 3339): SOURCE_DATE_EPOCH or the fixed default. */
  readonly created: string;
}
