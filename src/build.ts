/**
 * The composition root of the library: options validated at the boundary (zod), the real
 * side effects (file system, store, registry) wired into the pure stages, and the two calls
 * users make — `planDockerfile` (what would be built, with cache keys) and `build`.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as z from 'zod/mini';
import './zod.js';
import { BuildContext } from './context/build-context.js';
import { HashCache } from './context/hash.js';
import { findIgnoreFile } from './context/ignore.js';
import { BuildImageError, type SourceRange } from './errors.js';
import { parseDigest, type Digest } from './image/digest.js';
import type { Image } from './image/image.js';
import type { Platform } from './image/schema.js';
import { parseSourceDateEpoch } from './image/time.js';
import { checkDockerfile } from './instructions/check.js';
import type { BuildEvent } from './events.js';
import { readOciLayout } from './oci/layout.js';
import { planBuild, type BuildContextSpec, type PlanResolvers } from './plan/plan.js';
import type { ImageOrigin, Plan } from './plan/types.js';
import { hostPlatform, normalizePlatform, parsePlatform } from './registry/platform.js';
import { resolveImage as resolveRegistryImage, type ResolvedImage as RegistryImage } from './registry/pull.js';
import { createRegistrySession, type RegistrySession } from './registry/session.js';
import { openStore, type Store } from './store/store.js';

export const buildOptionsSchema = z.strictObject({
    /** The build context directory. */
    context: z._default(z.string(), '.'),
    /** The Dockerfile (default CONTEXT/Dockerfile). */
    file: z.optional(z.string()),
    /** The Dockerfile's text, instead of reading `file`. */
    dockerfile: z.optional(z.string()),
    /** The stage to build (default: the last one). */
    target: z.optional(z.string()),
    /** `--build-arg NAME=value`. */
    buildArgs: z._default(z.record(z.string(), z.string()), {}),
    /** `--platform os/arch[/variant]` (default: the host's). */
    platform: z.optional(z.string()),
    /** `--build-context NAME=DIR` or `NAME=oci-layout://PATH[:TAG|@DIGEST]`. */
    buildContexts: z._default(z.record(z.string(), z.string()), {}),
    /** `-t/--tag`: names for the image. */
    tags: z._default(z.array(z.string()), []),
    /** `-o/--output` specs, BuildKit syntax (`type=oci,dest=out.tar`). */
    outputs: z._default(z.array(z.string()), []),
    /** The store (default $XDG_CACHE_HOME/build-image). */
    cacheDir: z.optional(z.string()),
    /** Do not use the build cache (steps still get stored). */
    noCache: z._default(z.boolean(), false),
    /** Ask registries for base image tags again. */
    pull: z._default(z.boolean(), false),
    /** Default network mode for RUN. */
    network: z._default(z.enum(['default', 'none', 'host']), 'default'),
    /** `--secret id=ID,src=FILE|env=VAR`. */
    secrets: z._default(z.array(z.string()), []),
    /** Parallel steps (default: the number of CPUs). */
    jobs: z.optional(z.int().check(z.positive())),
    /** SOURCE_DATE_EPOCH (seconds); default from the environment variable. */
    sourceDateEpoch: z.optional(z.int().check(z.nonnegative())),
    /** Registries to reach over plain HTTP (besides localhost and loopback). */
    insecureRegistries: z._default(z.array(z.string()), []),
    /** How RUN steps run: `unshare` (built in, default), `runc`, `crun`, or an OCI runtime's path. */
    runtime: z.optional(z.string()),
    /** Entitlements, as `docker buildx build --allow`: `security.insecure` allows RUN --security=insecure. */
    allow: z._default(z.array(z.enum(['security.insecure', 'network.host'])), []),
    /** Cancels the build. */
    signal: z.optional(z.custom<AbortSignal>((v) => v === undefined || v instanceof AbortSignal)),
    /** Progress events. */
    onEvent: z.optional(z.custom<(event: BuildEvent) => void>((v) => v === undefined || typeof v === 'function')),
});

export type BuildOptions = z.input<typeof buildOptionsSchema>;
type Options = z.output<typeof buildOptionsSchema>;

/** Validates options at the boundary, with a message that names the option. */
export function parseBuildOptions(options: BuildOptions): Options {
  const r = buildOptionsSchema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.join('.') || '(options)';
    throw new BuildImageError('BUILD_BAD_OPTIONS', `invalid build option ${path}: ${issue.message}`, { cause: r.error });
  }
  return r.data;
}

/** Parses `--build-context` values: `oci-layout://PATH[:TAG|@DIGEST]` or a directory. */
export function parseBuildContext(name: string, value: string, cwd: string): BuildContextSpec {
  const oci = 'oci-layout://';
  if (value.startsWith(oci)) {
    let rest = value.slice(oci.length);
    let digest: Digest | undefined;
    let tag: string | undefined;
    const at = rest.lastIndexOf('@');
    if (at !== -1 && rest.slice(at + 1).startsWith('sha256:')) {
      digest = parseDigest(rest.slice(at + 1));
      rest = rest.slice(0, at);
    }
    const colon = rest.lastIndexOf(':');
    if (colon !== -1 && !rest.slice(colon + 1).includes('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
    if (rest === '') throw new BuildImageError('BUILD_BAD_CONTEXT', `--build-context ${name}=${value}: no path after oci-layout://`);
    return { kind: 'oci-layout', path: resolve(cwd, rest), tag, digest };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new BuildImageError('BUILD_BAD_CONTEXT', `--build-context ${name}=${value}: unsupported source`, {
      suggestion: 'use a directory or oci-layout://PATH[:TAG|@DIGEST]',
    });
  }
  return { kind: 'dir', path: resolve(cwd, value) };
}

/** What planning and building share: the Dockerfile, the contexts, the store, the registry. */
export interface Prepared {
  readonly options: Options;
  readonly file: string;
  /** The Dockerfile's name as errors show it (as given, or relative to the working directory). */
  readonly fileName: string;
  readonly text: string;
  readonly contextDir: string;
  readonly context: BuildContext;
  readonly namedContexts: ReadonlyMap<string, { spec: BuildContextSpec; context?: BuildContext }>;
  readonly store: Store;
  readonly session: RegistrySession;
  readonly platform: Platform;
  readonly epoch: number | undefined;
  /** Images resolved while planning, by manifest digest. */
  readonly images: Map<string, { origin: ImageOrigin; image: Image; registry?: RegistryImage }>;
  readonly plan: Plan;
  close(): void;
}

/** Reads, checks and plans: everything up to the first layer. */
export async function prepareBuild(input: BuildOptions, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<Prepared> {
  const options = parseBuildOptions(input);
  const contextDir = resolve(cwd, options.context);
  const file = options.file !== undefined ? resolve(cwd, options.file) : join(contextDir, 'Dockerfile');
  let text = options.dockerfile;
  if (text === undefined) {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new BuildImageError('BUILD_NO_DOCKERFILE', `cannot read the Dockerfile ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
        file,
        cause: err,
        suggestion: options.file === undefined ? `put a Dockerfile in ${contextDir} or pass -f FILE` : undefined,
      });
    }
  }
  const fileName = options.file ?? relativeName(cwd, file);
  const checked = checkDockerfile(text, { file: fileName });
  if (checked.errors.length > 0) throw aggregate(checked.errors);

  // Absolute, like the context and the Dockerfile: RUN mounts below the store, and a relative
  // path would be taken relative to the runner's own working directory.
  const store = await openStore({ root: options.cacheDir === undefined ? undefined : resolve(cwd, options.cacheDir) });
  const ignore = await findIgnoreFile(contextDir, file);
  const hashCache = new HashCache(await store.stateDir('hash-cache'));
  await hashCache.load();
  const context = await BuildContext.open(contextDir, { ignore: ignore?.rules, hashCache, signal: options.signal });
  const namedContexts = new Map<string, { spec: BuildContextSpec; context?: BuildContext }>();
  for (const [name, value] of Object.entries(options.buildContexts)) {
    const spec = parseBuildContext(name, value, cwd);
    namedContexts.set(name, spec.kind === 'dir' ? { spec, context: await BuildContext.open(spec.path, { hashCache, signal: options.signal }) } : { spec });
  }
  const session = createRegistrySession({ insecureRegistries: options.insecureRegistries });
  const platform = normalizePlatform(options.platform ? parsePlatform(options.platform) : hostPlatform());
  const epoch = options.sourceDateEpoch ?? parseSourceDateEpoch(env['SOURCE_DATE_EPOCH']);
  const images = new Map<string, { origin: ImageOrigin; image: Image; registry?: RegistryImage }>();

  const resolvers: PlanResolvers = {
    async resolveImage(ref, wanted, origin) {
      if (origin.kind === 'oci-layout') {
        const image = await readOciLayout(origin.path, { tag: origin.tag, digest: origin.digest, platform: wanted });
        images.set(image.digest(), { origin, image });
        return { ref, digest: image.digest(), config: image.config };
      }
      const r = await resolveRegistryImage(ref, { session, store, platform: wanted, pull: options.pull });
      images.set(r.digest, { origin, image: r.image, registry: r });
      return { ref, digest: r.digest, config: r.config };
    },
    async hashContext({ context: name, path, range }) {
      const ctx = name === undefined ? context : namedContexts.get(name)?.context;
      if (ctx === undefined) throw new BuildImageError('BUILD_BAD_CONTEXT', `unknown build context ${name}`);
      try {
        const [selected] = await ctx.select([path]);
        return (await ctx.sourceDigest(selected!)) as Digest;
      } catch (err) {
        // A missing or excluded COPY source names its Dockerfile line, as BuildKit's
        // "failed to compute cache key … not found" does (with its Dockerfile:N frame).
        throw attribute(err, fileName, text, range);
      }
    },
  };

  let plan: Plan;
  try {
    plan = await planBuild(
      checked.stages!,
      {
        target: options.target,
        buildArgs: options.buildArgs,
        platform,
        buildContexts: Object.fromEntries([...namedContexts].map(([k, v]) => [k, v.spec])),
        epoch,
        network: options.network,
        file: fileName,
        source: text,
      },
      resolvers,
    );
  } finally {
    await hashCache.save().catch(() => undefined);
  }
  return {
    options,
    file,
    fileName,
    text,
    contextDir,
    context,
    namedContexts,
    store,
    session,
    platform,
    epoch,
    images,
    plan,
    close: () => session.close(),
  };
}

/** The plan of a build: stages, steps and cache keys, without building anything. */
export async function planDockerfile(options: BuildOptions): Promise<Plan> {
  const prepared = await prepareBuild(options);
  prepared.close();
  // (build() gets its `plan` event from the executor: one per build, not two.)
  const plan = prepared.plan;
  prepared.options.onEvent?.({ type: 'plan', stages: plan.stages.length, steps: plan.stages.reduce((n, s) => n + s.steps.length, 0) });
  return plan;
}

/**
 * The error attributed to the Dockerfile: its file name, its text (for the code frame) and the
 * instruction's range when the error does not carry them yet (the executor and the context
 * know the step's range at most, never the file).
 */
function attribute(err: unknown, file: string, source: string, range?: SourceRange): unknown {
  if (!(err instanceof BuildImageError) || err instanceof BuildErrors || (err.file !== undefined && err.range !== undefined)) return err;
  return new BuildImageError(err.code, err.message, {
    file: err.file ?? file,
    range: err.range ?? range,
    source: err.range === undefined && range === undefined ? err.source : err.source ?? source,
    suggestion: err.suggestion,
    cause: err.cause ?? err,
  });
}

/** `file` relative to `cwd` when it is below it, else as is (for messages). */
function relativeName(cwd: string, file: string): string {
  return file.startsWith(cwd + '/') ? file.slice(cwd.length + 1) : file;
}

/** Several errors as one, keeping them all (the CLI prints each). */
export class BuildErrors extends BuildImageError {
  constructor(readonly errors: readonly BuildImageError[]) {
    super(errors[0]!.code, errors.length === 1 ? errors[0]!.message : `${errors.length} errors in the Dockerfile: ${errors[0]!.message} …`, {
      file: errors[0]!.file,
      range: errors[0]!.range,
      source: errors[0]!.source,
      suggestion: errors[0]!.suggestion,
    });
  }

  override format(): string {
    return this.errors.map((e) => e.format()).join('\n\n') + (this.errors.length > 1 ? `\n${this.errors.length} errors` : '');
  }
}

function aggregate(errors: readonly BuildImageError[]): BuildImageError {
  return errors.length === 1 ? errors[0]! : new BuildErrors(errors);
}

// --- build -------------------------------------------------------------------------------------

export interface BuildOutput {
  /** `oci`, `docker`, `local`, `tar`, `registry`, or `store` (the default: the local image store). */
  readonly type: string;
  /** Where it was written (a file, a directory, or the pushed reference). */
  readonly location: string;
  /** The image's manifest digest there. */
  readonly digest: Digest;
}

export interface BuildResult {
  /** The image's manifest digest. */
  readonly digest: Digest;
  readonly image: Image;
  /** The image config's digest (what `--iidfile` writes, as docker does). */
  readonly configDigest: Digest;
  readonly plan: Plan;
  readonly outputs: readonly BuildOutput[];
  /** The store, which is also an OCI layout holding every image built without `--output`. */
  readonly store: string;
}

/** The tag an image gets in the local image store when no `-t` was given. */
function defaultTag(contextDir: string): string {
  const base = contextDir.split('/').filter(Boolean).pop() ?? 'image';
  const name = base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '') || 'image';
  return `${name}:latest`;
}

/**
 * Builds: plans, runs every step (cached ones are reused), and writes the outputs. Without
 * `outputs` the image goes into the local image store — the store directory, which is an OCI
 * image layout — tagged with `tags[0]` or `<context dir>:latest`.
 */
export async function build(input: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const prepared = await prepareBuild(input);
  const o = prepared.options;
  const emit = o.onEvent ?? (() => undefined);
  for (const w of prepared.plan.warnings) {
    const where = w.range ? ` (${prepared.file}:${w.range.start.line})` : '';
    emit({ type: 'warning', code: w.code, message: w.message + where, time: Date.now() });
  }
  try {
    const { executePlan, defaultImageProvider } = await import('./execute/build.js');
    const { parseOutput, writeOutputs } = await import('./execute/output.js');
    const { RunExecutor } = await import('./execute/run/executor.js');
    const { secretsFrom } = await import('./execute/run/secrets.js');
    const { fetchLayers } = await import('./registry/pull.js');
    const { pushImage } = await import('./registry/push.js');
    const { writeOciLayout } = await import('./oci/layout.js');

    const named = new Map<string, BuildContext>();
    for (const [name, c] of prepared.namedContexts) if (c.context) named.set(name, c.context);
    const contexts = { main: prepared.context, named };
    const registryImage = async (digest: Digest, ref: string): Promise<Image> => {
      const known = prepared.images.get(digest);
      if (known?.registry) {
        await fetchLayers(known.registry, { session: prepared.session, store: prepared.store });
        return known.image;
      }
      if (known) return known.image;
      throw new BuildImageError('BUILD_IMAGE_UNKNOWN', `image ${ref}@${digest} was not resolved while planning`);
    };
    const imageProvider = defaultImageProvider({ puller: (ref, { digest }) => registryImage(digest, ref) });
    // As buildx: a secret file that cannot be read is an error before anything runs.
    const { parseSecretSpec } = await import('./execute/run/secrets.js');
    for (const text of o.secrets) {
      const spec = parseSecretSpec(text);
      if (spec.src === undefined) continue;
      const path = resolve(spec.src);
      try {
        await access(path, fsConstants.R_OK);
      } catch (err) {
        throw new BuildImageError('BUILD_SECRET_NOT_FOUND', `secret ${spec.id}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
          suggestion: `check --secret id=${spec.id},src=…`,
        });
      }
    }
    const runner = new RunExecutor({
      runtime: o.runtime,
      allowInsecure: o.allow.includes('security.insecure'),
      network: o.network === 'none' ? 'none' : 'host',
      secrets: secretsFrom(o.secrets),
      contexts,
      plan: prepared.plan,
      image: async (ref) => {
        for (const [digest, v] of prepared.images) if (v.origin.kind === 'registry' && (v.registry?.pinned === ref || digest === ref)) return registryImage(digest as Digest, ref);
        throw new BuildImageError('BUILD_IMAGE_UNKNOWN', `image ${ref} was not resolved while planning`);
      },
      onOutput: (id, chunk) => emit({ type: 'step-output', id, stream: chunk.stream, data: chunk.data.toString(), time: Date.now() }),
    });
    const image = await executePlan(prepared.plan, {
      store: prepared.store,
      contexts,
      imageProvider,
      runner,
      signal: o.signal,
      onEvent: emit,
      noCache: o.noCache,
      jobs: o.jobs,
    }).catch((err: unknown) => {
      // A step's error carries the step's range; name the Dockerfile too (BuildKit prints
      // `Dockerfile:N` with every failed step).
      throw attribute(err, prepared.fileName, prepared.text);
    });

    const outputs: BuildOutput[] = [];
    const specs = o.outputs.map((text) => parseOutput(text));
    const pusher = async (img: Image, ref: string) => pushImage(img, ref, { session: prepared.session, store: prepared.store });
    const tag = o.tags[0];
    const withName = specs.map((spec) =>
      (spec.type === 'oci' || spec.type === 'docker') && spec.name === undefined && tag !== undefined ? { ...spec, name: tag } : spec,
    );
    // type=tar reads the merged root filesystem from the layers' snapshots.
    const { LayerSnapshots } = await import('./execute/snapshots.js');
    const snapshots = new LayerSnapshots(prepared.store);
    const written = await writeOutputs(image, withName, { pusher, epoch: prepared.epoch, signal: o.signal, snapshots });
    for (const r of written) {
      const spec = r.spec;
      outputs.push({ type: spec.type, location: spec.type === 'registry' ? spec.name : spec.dest, digest: r.digest });
    }
    if (specs.length === 0) {
      // The local image store: the store root is an OCI layout (its blobs are already there).
      const tags = o.tags.length > 0 ? o.tags : [defaultTag(prepared.contextDir)];
      for (const t of tags) await writeOciLayout(prepared.store.root, image, { tag: t });
      outputs.push({ type: 'store', location: `${prepared.store.root}:${tags[0]}`, digest: image.digest() });
    }
    emit({ type: 'done', digest: image.digest(), outputs: outputs.map((x) => x.location), time: Date.now(), duration: Date.now() - started });
    return {
      digest: image.digest(),
      image,
      configDigest: image.configDigest(),
      plan: prepared.plan,
      outputs,
      store: prepared.store.root,
    };
  } finally {
    prepared.close();
  }
}
