/**
 * Stages → plan: what BuildKit's dockerfile2llb does before it hands LLB to the solver, re-
 * expressed as a pure function whose side effects (image resolution, context hashing) are
 * passed in. It mirrors frontend/dockerfile/dockerfile2llb/convert.go:
 *
 * - global ARGs before the first FROM are expanded in order with the build args and the
 *   predefined platform ARGs, and are visible only in FROM lines (and in `ARG NAME` without a
 *   default inside a stage, which brings in the global value);
 * - each stage starts from scratch, an image (resolved to a digest), a previous stage, or a
 *   named build context; `--target` picks the stage to build and only the stages it reaches
 *   are planned (an unused stage with a broken COPY does not fail the build);
 * - instructions are expanded one at a time with the environment of that moment — one value
 *   per variable for a whole instruction — where ENV and ARG share the environment and a
 *   later assignment wins;
 * - ONBUILD triggers of the base run first in the child stage, and do not pass to
 *   grandchildren;
 * - every layer-producing step (COPY, ADD, RUN, WORKDIR) gets a cache key: a digest over the
 *   parent key, the expanded instruction, and the content of its inputs.
 */
import { BuildImageError, type SourceRange } from '../errors.js';
import { sha256Digest, type Digest } from '../image/digest.js';
import { canonicalJson } from '../image/json.js';
import type { Healthcheck, HistoryEntry, ImageConfig, Platform } from '../image/schema.js';
import { formatTimestamp, DEFAULT_CREATED } from '../image/time.js';
import { parseMount, MountSyntaxError, type Mount } from '../instructions/mount.js';
import { toInstruction } from '../instructions/parse.js';
import type { ArgDefinition, Command, CopyInstruction, AddInstruction, Stage, Stages, RunInstruction } from '../instructions/types.js';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform } from '../registry/platform.js';
import { isImageReference, parseImageReference, formatReference } from '../registry/reference.js';
import { envFrom, processWord, processWords, type ShellEnv } from '../shell/lex.js';
import { goQuote } from '../goquote.js';
import { parseDockerfile } from '../syntax/parse.js';
import { closest } from '../suggest.js';
import { addEnv, DEFAULT_PATH, EnvList, goDuration, goQuotedSlice, goSlice } from './env.js';
import { parsePorts } from './ports.js';
import type { BaseSource, CopySource, CopyStep, ImageOrigin, MountSource, Plan, PlannedStage, PlanWarning, RunStep, Step, WorkdirStep } from './types.js';

/** A `--build-context NAME=…` value. */
export type BuildContextSpec =
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string | undefined; readonly digest?: Digest | undefined };

export interface ResolvedImage {
  /** The normalised reference. */
  readonly ref: string;
  /** Manifest digest. */
  readonly digest: Digest;
  readonly config: ImageConfig;
}

/** The side effects planning needs: injected, so the planner stays pure and testable. */
export interface PlanResolvers {
  /** Resolves an image (registry reference, or the OCI layout of a named context). */
  resolveImage(ref: string, platform: Platform, origin: ImageOrigin): Promise<ResolvedImage>;
  /**
   * Digest of the files a COPY/ADD source selects in a context (main context when `context`
   * is undefined), after .dockerignore and `--exclude` — content and metadata, never mtime.
   * Fails with CONTEXT_SOURCE_NOT_FOUND for a literal path that does not exist.
   */
  hashContext(request: { context?: string | undefined; path: string; exclude: readonly string[]; range?: SourceRange | undefined }): Promise<Digest>;
}

export interface PlanOptions {
  /** The stage to build (default: the last one). */
  readonly target?: string | undefined;
  /** `--build-arg` values. */
  readonly buildArgs?: Readonly<Record<string, string>> | undefined;
  /** The platform to build for (default: the host's). */
  readonly platform?: Platform | undefined;
  /** The platform of the machine building (default: the host's). */
  readonly buildPlatform?: Platform | undefined;
  readonly buildContexts?: Readonly<Record<string, BuildContextSpec>> | undefined;
  /** SOURCE_DATE_EPOCH in seconds. */
  readonly epoch?: number | undefined;
  /** The build's network for `RUN --network=default` (`--network`); part of RUN keys. */
  readonly network?: 'default' | 'none' | 'host' | undefined;
  /** For errors: the Dockerfile's name and text. */
  readonly file?: string | undefined;
  readonly source?: string | undefined;
}

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
const EMPTY_ENV = envFrom({});
const SCRATCH = 'scratch';
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

function keyOf(value: unknown): Digest {
  return sha256Digest(canonicalJson(value));
}

interface CommandEntry {
  readonly cmd: Command;
  /** Stage or image states this command reads from (COPY --from, RUN --mount from=). */
  readonly sources: StageState[];
  readonly onbuild: boolean;
}

type ImageMeta = Omit<ImageConfig, 'rootfs'> & { config: NonNullable<ImageConfig['config']>; history: HistoryEntry[] };

interface StageState {
  index: number;
  stageName: string;
  /** As written in FROM, expanded. */
  baseName: string;
  readonly stage: Stage | undefined;
  platform: Platform | undefined;
  base: StageState | undefined;
  namedContext: { name: string; spec: BuildContextSpec } | undefined;
  /** A state made for `COPY --from=<image>` (not a stage of the file). */
  readonly unregistered: boolean;
  commands: CommandEntry[];
  readonly deps: Set<StageState>;
  // resolution
  resolved: boolean;
  baseSource: BaseSource | undefined;
  baseImageLayers: number;
  image: ImageMeta | undefined;
  /** The base's ONBUILD triggers have been added. */
  onBuildInit: boolean;
  // dispatch
  dispatched: boolean;
  env: EnvList;
  dir: string;
  user: string;
  buildArgs: ArgDefinition[];
  steps: Step[];
  key: Digest | undefined;
  baseKey: Digest | undefined;
  cmdSet: boolean;
  range: SourceRange | undefined;
}

class Planner {
  private readonly states: StageState[] = [];
  private readonly byName = new Map<string, StageState>();
  private globalArgs = EnvList.empty();
  private readonly buildArgs: Readonly<Record<string, string>>;
  private readonly targetPlatform: Platform;
  private readonly buildPlatform: Platform;
  private readonly contexts: Readonly<Record<string, BuildContextSpec>>;
  private readonly contextPaths = new Set<string>();
  private readonly warnings: PlanWarning[] = [];

  constructor(
    private readonly input: Stages,
    private readonly options: PlanOptions,
    private readonly resolvers: PlanResolvers,
  ) {
    this.buildArgs = options.buildArgs ?? {};
    this.buildPlatform = normalizePlatform(options.buildPlatform ?? hostPlatform());
    this.targetPlatform = normalizePlatform(options.platform ?? this.buildPlatform);
    this.contexts = options.buildContexts ?? {};
  }

  error(code: string, message: string, range?: SourceRange, suggestion?: string): BuildImageError {
    return new BuildImageError(code, message, { file: this.options.file, range, source: this.options.source, suggestion });
  }

  private expand(word: string, env: ShellEnv, range: SourceRange | undefined): string {
    try {
      return processWord(word, env).result;
    } catch (err) {
      if (err instanceof BuildImageError) throw this.error(err.code, err.message, range, err.suggestion);
      throw err;
    }
  }

  async plan(): Promise<Plan> {
    const stages = this.input.stages;
    if (stages.length === 0) throw this.error('PLAN_NO_STAGES', 'dockerfile contains no stages to build', undefined, 'add a FROM instruction');
    const targetName = this.options.target ?? stages.at(-1)!.name;
    this.globalArgs = this.defaultArgs(targetName);
    this.buildMetaArgs();

    this.buildStates();
    const target = this.resolveTarget();
    this.buildDependencyGraph();
    this.checkCycles();
    const reachable = await this.resolveStages(target);
    await this.dispatchStages(reachable);

    const ordered = this.states.filter((s) => reachable.has(s) && !s.unregistered);
    const epoch = this.options.epoch;
    return {
      target: target.index,
      stages: ordered.map((s) => this.planned(s)),
      stageCount: this.states.length,
      warnings: this.warnings,
      contextPaths: [...this.contextPaths].sort(),
      platform: this.targetPlatform,
      epoch,
      created: epoch === undefined ? DEFAULT_CREATED : formatTimestamp(epoch),
    };
  }

  // --- arguments ------------------------------------------------------------------------------

  /** The predefined platform ARGs (BuildKit's defaultArgs), overridable by build args. */
  private defaultArgs(target: string): EnvList {
    const bp = this.buildPlatform;
    const tp = this.targetPlatform;
    const pairs: Array<[string, string]> = [
      ['BUILDPLATFORM', formatPlatform(bp)],
      ['BUILDOS', bp.os],
      ['BUILDOSVERSION', bp['os.version'] ?? ''],
      ['BUILDARCH', bp.architecture],
      ['BUILDVARIANT', bp.variant ?? ''],
      ['TARGETPLATFORM', formatPlatform(tp)],
      ['TARGETOS', tp.os],
      ['TARGETOSVERSION', tp['os.version'] ?? ''],
      ['TARGETARCH', tp.architecture],
      ['TARGETVARIANT', tp.variant ?? ''],
      ['TARGETSTAGE', target || 'default'],
    ];
    let env = EnvList.empty();
    for (const [k, v] of pairs) env = env.set(k, this.buildArgs[k] ?? v);
    return env;
  }

  /** ARGs before the first FROM, expanded in order (buildMetaArgs). */
  private buildMetaArgs(): void {
    for (const cmd of this.input.metaArgs) {
      for (const arg of cmd.args) {
        let value: string | undefined;
        if (Object.hasOwn(this.buildArgs, arg.key)) value = this.buildArgs[arg.key];
        else if (arg.value !== undefined) value = this.expand(arg.value, this.globalArgs, cmd.range);
        if (value !== undefined) this.globalArgs = this.globalArgs.set(arg.key, value);
      }
    }
  }

  // --- stages ---------------------------------------------------------------------------------

  private newState(init: Partial<StageState> & { index: number; stageName: string; baseName: string; stage: Stage | undefined; unregistered: boolean }): StageState {
    return {
      platform: undefined,
      base: undefined,
      namedContext: undefined,
      commands: [],
      deps: new Set(),
      resolved: false,
      baseSource: undefined,
      baseImageLayers: 0,
      image: undefined,
      onBuildInit: false,
      dispatched: false,
      env: EnvList.empty(),
      dir: '/',
      user: '',
      buildArgs: [],
      steps: [],
      key: undefined,
      baseKey: undefined,
      cmdSet: false,
      range: undefined,
      ...init,
    };
  }

  private addState(s: StageState): void {
    this.states.push(s);
    // FROM <name> refers to an earlier stage (exact name, as BuildKit's statesByName lookup).
    const base = this.byName.get(s.baseName);
    if (base !== undefined) s.base = base;
    if (s.stage?.name) this.byName.set(s.stage.name.toLowerCase(), s);
  }

  private buildStates(): void {
    this.input.stages.forEach((st, i) => {
      const range = st.from.range;
      const baseName = this.expand(st.baseName, this.globalArgs, range);
      if (baseName === '') {
        throw this.error('PLAN_EMPTY_BASE', `base name (${st.baseName}) should not be blank`, range, 'define the ARG used in FROM before the first FROM, or pass --build-arg');
      }
      let platform: Platform | undefined;
      if (st.platform !== '') {
        const p = this.expand(st.platform, this.globalArgs, range);
        if (p === '') throw this.error('PLAN_BAD_PLATFORM', `empty platform value from expression ${st.platform}`, range);
        try {
          platform = normalizePlatform(parsePlatform(p));
        } catch (err) {
          throw this.error('PLAN_BAD_PLATFORM', `failed to parse platform ${st.platform}: ${(err as Error).message}`, range);
        }
      }
      const state = this.newState({
        index: i,
        stageName: st.name || `stage-${i}`,
        baseName,
        stage: st,
        unregistered: false,
        platform,
        range,
      });
      // A build context named like the stage replaces the stage.
      if (st.name !== '' && this.contexts[st.name] !== undefined) {
        state.namedContext = { name: st.name, spec: this.contexts[st.name]! };
        this.states.push(state);
        this.byName.set(st.name, state);
        return;
      }
      this.addState(state);
      state.commands = st.commands.map((cmd) => ({ cmd, sources: [], onbuild: false }));
    });
  }

  private resolveTarget(): StageState {
    const t = this.options.target;
    if (t === undefined || t === '') return this.states.at(-1)!;
    const s = this.byName.get(t.toLowerCase());
    if (s === undefined) {
      const names = this.states.filter((x) => x.stage?.name).map((x) => x.stage!.name);
      const m = closest(t, names, true);
      throw this.error(
        'PLAN_UNKNOWN_TARGET',
        `target stage "${t}" could not be found`,
        undefined,
        (m ? `did you mean ${m}? ` : '') + (names.length ? `stages: ${names.join(', ')}` : 'the Dockerfile names no stages (FROM … AS <name>)'),
      );
    }
    return s;
  }

  /** toCommand: the stages and images a command reads from. */
  private commandSources(entry: { cmd: Command }): StageState[] {
    const cmd = entry.cmd;
    const out: StageState[] = [];
    const lookup = (from: string, range: SourceRange, what: string): StageState => {
      let expanded: string;
      try {
        expanded = processWord(from, EMPTY_ENV).result;
      } catch {
        expanded = '';
      }
      if (expanded !== from) {
        throw this.error(
          'PLAN_FROM_EXPANSION',
          `variable expansion is not supported for ${what}, define a new stage with FROM using ARG from global scope as a workaround`,
          range,
        );
      }
      if (/^\d+$/.test(from)) {
        const index = Number(from);
        const s = this.states.find((x) => !x.unregistered && x.index === index);
        if (s === undefined || index >= this.input.stages.length) {
          throw this.error('PLAN_BAD_STAGE_INDEX', `invalid stage index ${from}`, range, `stages are numbered 0 to ${this.input.stages.length - 1}`);
        }
        return s;
      }
      const named = this.byName.get(from.toLowerCase());
      if (named !== undefined) return named;
      // Not a stage: a named context or an image.
      const existing = this.states.find((x) => x.unregistered && x.baseName === from);
      if (existing) return existing;
      const s = this.newState({ index: this.states.length, stageName: from, baseName: from, stage: undefined, unregistered: true, range });
      if (this.contexts[from] !== undefined) s.namedContext = { name: from, spec: this.contexts[from]! };
      else if (!isImageReference(from)) {
        const names = this.states.filter((x) => x.stage?.name).map((x) => x.stage!.name);
        const m = closest(from, names, true);
        throw this.error(
          'PLAN_UNKNOWN_STAGE',
          `${what}=${from}: no stage, build context or image of that name`,
          range,
          (m ? `did you mean ${m}? ` : '') + (names.length ? `stages: ${names.join(', ')}` : 'the Dockerfile names no stages'),
        );
      }
      this.states.push(s);
      return s;
    };
    if (cmd.kind === 'copy' && cmd.from !== '') out.push(lookup(cmd.from, flagRange(cmd, 'from'), '--from'));
    if (cmd.kind === 'run') {
      for (const m of cmd.mounts) {
        const from = mountFrom(m);
        if (from !== undefined && from !== '') out.push(lookup(from, flagRange(cmd, 'mount'), 'RUN --mount from'));
      }
    }
    return out;
  }

  private buildDependencyGraph(): void {
    for (const s of [...this.states]) {
      s.commands = s.commands.map((c) => {
        const sources = this.commandSources(c);
        for (const src of sources) s.deps.add(src);
        return { ...c, sources };
      });
    }
  }

  private checkCycles(): void {
    const visiting = new Set<StageState>();
    const done = new Set<StageState>();
    const visit = (s: StageState): void => {
      if (done.has(s)) return;
      if (visiting.has(s)) {
        throw this.error('PLAN_CIRCULAR_DEPENDENCY', `circular dependency detected on stage: ${s.stageName}`, s.range);
      }
      visiting.add(s);
      if (s.base) visit(s.base);
      for (const d of s.deps) visit(d);
      visiting.delete(s);
      done.add(s);
    };
    for (const s of this.states) visit(s);
  }

  private reachableFrom(target: StageState): Set<StageState> {
    const out = new Set<StageState>();
    const add = (s: StageState): void => {
      if (out.has(s)) return;
      out.add(s);
      if (s.base) add(s.base);
      for (const d of s.deps) add(d);
    };
    add(target);
    return out;
  }

  /** Resolves bases of the reachable stages, adding ONBUILD triggers until nothing changes. */
  private async resolveStages(target: StageState): Promise<Set<StageState>> {
    for (;;) {
      const reachable = this.reachableFrom(target);
      await Promise.all([...reachable].filter((s) => !s.resolved && s.base === undefined).map((s) => this.resolveBase(s)));
      let newDeps = false;
      for (const s of this.states) {
        if (!reachable.has(s) || s.onBuildInit || s.unregistered) continue;
        // A stage based on another stage inherits its image; ONBUILD does not pass on.
        const triggers: string[] = [];
        if (s.base) {
          for (const c of s.base.commands) if (c.cmd.kind === 'onbuild') triggers.push(c.cmd.expression);
        } else if (s.image?.config.OnBuild) {
          triggers.push(...s.image.config.OnBuild);
          delete s.image.config.OnBuild; // consumed here, not inherited
        }
        s.onBuildInit = true;
        if (triggers.length === 0) continue;
        const added = triggers.map((t) => this.onbuildCommand(t, s));
        for (const entry of added) {
          for (const src of entry.sources) {
            s.deps.add(src);
            newDeps = true;
          }
        }
        s.commands = [...added, ...s.commands];
      }
      if (!newDeps) return reachable;
    }
  }

  private onbuildCommand(trigger: string, s: StageState): CommandEntry {
    const parsed = parseDockerfile(trigger);
    const node = parsed.ast?.instructions[0];
    if (parsed.errors.length > 0 || node === undefined || parsed.ast!.instructions.length !== 1) {
      throw this.error('PLAN_ONBUILD', `invalid ONBUILD trigger ${JSON.stringify(trigger)}: ${parsed.errors[0]?.message ?? 'onbuild trigger should be a single expression'}`, s.range);
    }
    let cmd: Command;
    try {
      const ins = toInstruction(node, {});
      if (ins.kind === 'from') throw new BuildImageError('INSTR_ONBUILD_TRIGGER', "FROM isn't allowed as an ONBUILD trigger");
      cmd = { ...ins, range: s.range ?? ins.range } as Command;
    } catch (err) {
      throw this.error('PLAN_ONBUILD', `ONBUILD trigger ${JSON.stringify(trigger)} of the base image: ${(err as Error).message}`, s.range);
    }
    const entry = { cmd, sources: [] as StageState[], onbuild: true };
    entry.sources = this.commandSources(entry);
    return entry;
  }

  private emptyImage(platform: Platform): ImageMeta {
    return {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
      config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
      history: [],
    };
  }

  private async resolveBase(s: StageState): Promise<void> {
    s.resolved = true;
    const platform = s.platform ?? this.targetPlatform;
    const range = s.range;
    if (s.namedContext !== undefined) {
      const spec = s.namedContext.spec;
      if (spec.kind === 'dir') {
        if (!s.unregistered) {
          throw this.error(
            'PLAN_UNSUPPORTED',
            `build context "${s.namedContext.name}" is a directory: it cannot replace a stage or a FROM image`,
            range,
            `use COPY --from=${s.namedContext.name}, or give an oci-layout:// context`,
          );
        }
        s.baseSource = { kind: 'scratch' };
        s.image = this.emptyImage(platform);
        s.platform = platform;
        return;
      }
      const origin: ImageOrigin = { kind: 'oci-layout', path: spec.path, tag: spec.tag, digest: spec.digest };
      await this.resolveImageBase(s, s.namedContext.name, platform, origin);
      return;
    }
    if (s.baseName === SCRATCH) {
      s.baseSource = { kind: 'scratch' };
      s.image = this.emptyImage(platform);
      s.platform = platform;
      return;
    }
    // A build context named like the base image replaces it (--build-context alpine=oci-layout://…).
    const named = this.namedContextFor(s.baseName);
    if (named !== undefined) {
      if (named.spec.kind === 'dir') {
        if (!s.unregistered) {
          throw this.error(
            'PLAN_UNSUPPORTED',
            `build context "${named.name}" is a directory: it cannot replace the FROM image ${s.baseName}`,
            range,
            `use COPY --from=${named.name}, or give an oci-layout:// context`,
          );
        }
        s.namedContext = named;
        s.baseSource = { kind: 'scratch' };
        s.image = this.emptyImage(platform);
        s.platform = platform;
        return;
      }
      await this.resolveImageBase(s, s.baseName, platform, { kind: 'oci-layout', path: named.spec.path, tag: named.spec.tag, digest: named.spec.digest });
      return;
    }
    let normalized: string;
    try {
      normalized = formatReference(parseImageReference(s.baseName));
    } catch (err) {
      const names = this.states.filter((x) => x.stage?.name).map((x) => x.stage!.name);
      const m = closest(s.baseName, names, true);
      throw this.error('PLAN_BAD_BASE', `failed to parse stage name "${s.baseName}": ${(err as Error).message}`, range, m ? `did you mean ${m}?` : undefined);
    }
    await this.resolveImageBase(s, normalized, platform, { kind: 'registry' });
  }

  private namedContextFor(name: string): { name: string; spec: BuildContextSpec } | undefined {
    if (this.contexts[name] !== undefined) return { name, spec: this.contexts[name]! };
    // Also match the normalised form (`alpine` = `docker.io/library/alpine:latest`).
    let norm: string;
    try {
      norm = formatReference(parseImageReference(name));
    } catch {
      return undefined;
    }
    for (const [k, spec] of Object.entries(this.contexts)) {
      try {
        if (formatReference(parseImageReference(k)) === norm) return { name: k, spec };
      } catch {
        // not an image name
      }
    }
    return undefined;
  }

  private async resolveImageBase(s: StageState, ref: string, platform: Platform, origin: ImageOrigin): Promise<void> {
    let resolved: ResolvedImage;
    try {
      resolved = await this.resolvers.resolveImage(ref, platform, origin);
    } catch (err) {
      if (err instanceof BuildImageError) {
        // As BuildKit (suggest.WrapError on the base name): a name close to a stage's is
        // probably a typo of that stage, not an image.
        const names = this.states.filter((x) => x.stage?.name).map((x) => x.stage!.name);
        const near = closest(s.baseName, names, true);
        throw new BuildImageError(err.code, `${s.baseName}: ${err.message}`, {
          file: this.options.file,
          range: s.range,
          source: this.options.source,
          suggestion: near !== undefined ? `did you mean ${near}? stages: ${names.join(', ')}` : err.suggestion,
          cause: err,
        });
      }
      throw err;
    }
    const config = resolved.config;
    if (config.os !== platform.os || config.architecture !== platform.architecture) {
      // BuildKit's InvalidBaseImagePlatform check (a warning: the build goes on).
      this.warnings.push({
        code: 'PLAN_BASE_PLATFORM',
        message:
          `Base image ${s.baseName} was pulled with platform "${formatPlatform(normalizePlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }))}", ` +
          `expected "${formatPlatform(platform)}" for current build`,
        range: s.range,
      });
    }
    const layers = config.rootfs.diff_ids.length;
    s.baseImageLayers = layers;
    s.baseSource = layers === 0 && (config.history ?? []).every((h) => h.empty_layer) ? { kind: 'scratch' } : { kind: 'image', ref: resolved.ref, digest: resolved.digest, origin };
    s.image = {
      architecture: config.architecture,
      os: config.os,
      ...(config.variant ? { variant: config.variant } : {}),
      ...(config['os.version'] ? { 'os.version': config['os.version'] } : {}),
      ...(config.author ? { author: config.author } : {}),
      config: structuredClone(config.config ?? {}),
      history: structuredClone(config.history ?? []),
    };
    s.platform = platform;
  }

  // --- dispatch -------------------------------------------------------------------------------

  private async dispatchStages(reachable: Set<StageState>): Promise<void> {
    // Images and contexts used by COPY --from are ready once resolved (BuildKit marks them
    // dispatched in resolveBaseImage), whatever their position.
    for (const s of this.states) {
      if (reachable.has(s) && s.unregistered) {
        s.dispatched = true;
        s.key = this.baseKey(s);
      }
    }
    for (const s of this.states) {
      if (!reachable.has(s) || s.dispatched) continue;
      this.init(s);
      s.dispatched = true;
      for (const entry of s.commands) await this.dispatch(s, entry);
      s.key = s.steps.at(-1)?.key ?? s.baseKey!;
    }
  }

  private baseKey(s: StageState): Digest {
    if (s.base) return s.base.key!;
    const src = s.baseSource!;
    if (src.kind === 'image') return keyOf({ base: 'image', digest: src.digest, platform: formatPlatform(s.platform!) });
    if (s.namedContext?.spec.kind === 'dir') return keyOf({ base: 'context', name: s.namedContext.name });
    return keyOf({ base: 'scratch', platform: formatPlatform(s.platform ?? this.targetPlatform) });
  }

  /** init + the start of dispatchStages: the stage's state from its base. */
  private init(s: StageState): void {
    if (s.base) {
      const b = s.base;
      s.image = structuredClone(b.image!);
      delete s.image.config.OnBuild; // ONBUILD triggers do not pass on to grandchildren
      s.platform = b.platform;
      s.baseSource = { kind: 'stage', stage: b.index };
      s.buildArgs = [...b.buildArgs];
      s.env = b.env;
      s.dir = b.dir;
      s.user = b.user;
      s.baseKey = b.key!;
    } else {
      s.platform ??= this.targetPlatform;
      s.env = EnvList.empty();
      s.baseKey = this.baseKey(s);
    }
    // As dispatchStages does for every stage: PATH always set, the image's ENV applied on top
    // of the inherited environment, then its WORKDIR and USER.
    const img = s.image!;
    const env = img.config.Env ?? [];
    if (!env.some((kv) => kv === 'PATH' || kv.startsWith('PATH='))) img.config.Env = [...env, `PATH=${DEFAULT_PATH}`];
    for (const kv of img.config.Env ?? []) {
      const eq = kv.indexOf('=');
      s.env = s.env.set(eq === -1 ? kv : kv.slice(0, eq), eq === -1 ? '' : kv.slice(eq + 1));
    }
    if (img.config.WorkingDir) {
      s.dir = normalizeWorkdir(img.config.WorkingDir, img.config.WorkingDir);
      img.config.WorkingDir = s.dir;
    }
    if (img.config.User) s.user = img.config.User;
  }

  private history(s: StageState, createdBy: string, withLayer: boolean): void {
    const entry: HistoryEntry = { created_by: createdBy, comment: HISTORY_COMMENT };
    if (!withLayer) entry.empty_layer = true;
    if (this.options.epoch !== undefined) entry.created = formatTimestamp(this.options.epoch);
    s.image!.history.push(entry);
  }

  private addStep(s: StageState, step: Omit<Step, 'id' | 'stage' | 'key' | 'parentKey'> & { keyFields: unknown }): Step {
    const parentKey = s.steps.at(-1)?.key ?? s.baseKey!;
    const { keyFields, ...rest } = step as { keyFields: unknown } & Record<string, unknown>;
    const key = keyOf({ parent: parentKey, step: keyFields, epoch: this.options.epoch ?? null });
    const full = { ...rest, id: `s${s.index}.${s.steps.length + 1}`, stage: s.index, key, parentKey } as Step;
    s.steps.push(full);
    return full;
  }

  private async dispatch(s: StageState, entry: CommandEntry): Promise<void> {
    const c = entry.cmd;
    const img = s.image!;
    const cfg = img.config;
    const range = c.range;
    const x = (w: string) => this.expand(w, s.env, range);
    switch (c.kind) {
      case 'maintainer':
        img.author = c.maintainer;
        this.history(s, `MAINTAINER ${c.maintainer}`, false);
        return;
      case 'env': {
        // One value per variable for the whole instruction: all words expand with the env from before it.
        const before = s.env;
        const pairs = c.env.map((kv) => ({ key: this.expand(kv.key, before, range), value: this.expand(kv.value, before, range) }));
        let msg = 'ENV';
        for (const kv of pairs) {
          msg += ` ${kv.key}=${kv.value}`;
          s.env = s.env.set(kv.key, kv.value);
          cfg.Env = addEnv(cfg.Env ?? [], kv.key, kv.value);
        }
        this.history(s, msg, false);
        return;
      }
      case 'label': {
        const before = s.env;
        cfg.Labels ??= {};
        let msg = 'LABEL';
        for (const kv of c.labels) {
          const key = this.expand(kv.key, before, range);
          const value = this.expand(kv.value, before, range);
          cfg.Labels[key] = value;
          msg += ` ${key}=${value}`;
        }
        this.history(s, msg, false);
        return;
      }
      case 'onbuild':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), c.expression];
        return;
      case 'cmd': {
        const args = c.prependShell ? withShell(cfg.Shell, c.cmdLine) : [...c.cmdLine];
        cfg.Cmd = args;
        cfg.ArgsEscaped = true;
        s.cmdSet = true;
        this.history(s, `CMD ${goQuotedSlice(args, goQuote)}`, false);
        return;
      }
      case 'entrypoint': {
        const args = c.prependShell ? withShell(cfg.Shell, c.cmdLine) : [...c.cmdLine];
        if (args.length === 0) delete cfg.Entrypoint;
        else cfg.Entrypoint = args;
        // ENTRYPOINT clears a CMD inherited from the base unless CMD was set in this stage.
        if (!s.cmdSet) delete cfg.Cmd;
        this.history(s, `ENTRYPOINT ${goQuotedSlice(args, goQuote)}`, false);
        return;
      }
      case 'healthcheck': {
        const h = c.health;
        // dockerspec.HealthcheckConfig marks every field `json:",omitempty"`: zero durations
        // and retries ("inherit the default") are left out of the config, as BuildKit writes it.
        const hc: Healthcheck = {
          Test: [...h.test],
          ...(h.interval !== 0 ? { Interval: h.interval } : {}),
          ...(h.timeout !== 0 ? { Timeout: h.timeout } : {}),
          ...(h.startPeriod !== 0 ? { StartPeriod: h.startPeriod } : {}),
          ...(h.startInterval !== 0 ? { StartInterval: h.startInterval } : {}),
          ...(h.retries !== 0 ? { Retries: h.retries } : {}),
        };
        cfg.Healthcheck = hc;
        this.history(
          s,
          `HEALTHCHECK {Test:${goSlice(h.test)} Interval:${goDuration(h.interval)} Timeout:${goDuration(h.timeout)} ` +
            `StartPeriod:${goDuration(h.startPeriod)} StartInterval:${goDuration(h.startInterval)} Retries:${h.retries}}`,
          false,
        );
        return;
      }
      case 'expose': {
        const words: string[] = [];
        for (const p of c.ports) {
          try {
            words.push(...processWords(p, s.env));
          } catch (err) {
            throw this.error((err as BuildImageError).code ?? 'SHELL_SYNTAX', (err as Error).message, range);
          }
        }
        let ports: string[];
        try {
          ports = parsePorts(words);
        } catch (err) {
          throw this.error('PLAN_BAD_PORT', (err as Error).message, range, 'write EXPOSE <port>[/<protocol>], e.g. EXPOSE 8080/tcp');
        }
        cfg.ExposedPorts ??= {};
        for (const p of ports) cfg.ExposedPorts[p] = {};
        this.history(s, `EXPOSE ${goSlice(ports)}`, false);
        return;
      }
      case 'user': {
        const user = x(c.user);
        s.user = user;
        cfg.User = user;
        this.history(s, `USER ${user}`, false);
        return;
      }
      case 'volume': {
        const vols = c.volumes.map(x);
        cfg.Volumes ??= {};
        for (const v of vols) {
          if (v === '') throw this.error('PLAN_EMPTY_VOLUME', 'VOLUME specified can not be an empty string', range);
          cfg.Volumes[v] = {};
        }
        this.history(s, `VOLUME ${goSlice(vols)}`, false);
        return;
      }
      case 'stopsignal': {
        const sig = x(c.signal);
        if (!isSignal(sig)) throw this.error('PLAN_BAD_SIGNAL', `Invalid signal: ${sig}`, range, 'use a signal name (SIGTERM) or number (15)');
        cfg.StopSignal = sig;
        this.history(s, `STOPSIGNAL ${sig}`, false);
        return;
      }
      case 'shell':
        cfg.Shell = [...c.shell];
        this.history(s, `SHELL ${goSlice(c.shell)}`, false);
        return;
      case 'arg':
        this.dispatchArg(s, c.args, range);
        return;
      case 'workdir': {
        const wd = normalizeWorkdir(s.dir, x(c.path));
        s.dir = wd;
        cfg.WorkingDir = wd;
        if (wd !== '/') {
          const step: Omit<WorkdirStep, 'id' | 'stage' | 'key' | 'parentKey'> & { keyFields: unknown } = {
            kind: 'workdir',
            name: `WORKDIR ${wd}`,
            createdBy: `WORKDIR ${wd}`,
            range,
            onbuild: entry.onbuild || undefined,
            path: wd,
            user: cfg.User ?? '',
            epoch: this.options.epoch,
            keyFields: { op: 'mkdir', path: wd, user: cfg.User ?? '' },
          };
          this.addStep(s, step);
        }
        this.history(s, `WORKDIR ${wd}`, wd !== '/');
        return;
      }
      case 'copy':
      case 'add':
        await this.dispatchCopy(s, c, entry);
        return;
      case 'run':
        await this.dispatchRun(s, c, entry);
        return;
    }
  }

  private dispatchArg(s: StageState, args: readonly ArgDefinition[], range: SourceRange): void {
    const parts: string[] = [];
    for (const arg of args) {
      const hasValue = Object.hasOwn(this.buildArgs, arg.key);
      let value: string | undefined = arg.value;
      let hasDefault = value !== undefined;
      if (!hasDefault && !hasValue) {
        const g = this.globalArgs.get(arg.key);
        if (g !== undefined) {
          value = g;
          hasDefault = false;
        }
      }
      if (hasValue) value = this.buildArgs[arg.key];
      else if (hasDefault) value = this.expand(value!, s.env, range);
      if (value !== undefined) s.env = s.env.set(arg.key, value);
      s.buildArgs.push({ key: arg.key, value, docComment: '' });
      parts.push(value !== undefined ? `${arg.key}=${value}` : arg.key);
    }
    this.history(s, `ARG ${parts.join(' ')}`, false);
  }

  /** The ARGs in scope with their current values: `|N K=v …` for RUN's history and key. */
  private argEnv(s: StageState): string[] {
    const out: string[] = [];
    const index = new Map<string, number>();
    for (const a of s.buildArgs) {
      const v = s.env.get(a.key) ?? a.value ?? '';
      if (index.has(a.key)) out[index.get(a.key)!] = `${a.key}=${v}`;
      else {
        index.set(a.key, out.length);
        out.push(`${a.key}=${v}`);
      }
    }
    return out;
  }

  private async dispatchRun(s: StageState, c: RunInstruction, entry: CommandEntry): Promise<void> {
    const range = c.range;
    const cfg = s.image!.config;
    let args = [...c.cmdLine];
    const files: { path: string; data: string; mode: number }[] = [];
    let name = c.node.original.trim();
    if (c.files.length > 0) {
      if (args.length !== 1 || !c.prependShell) {
        throw this.error('PLAN_BAD_RUN', `parsing produced an invalid run command: ${goSlice(args)}`, range);
      }
      const single = /^(\d*)<<(-?)\s*([^<]*)$/.exec(args[0]!.trim());
      if (single && c.files.length === 1 && single[3]!.trim().length > 0 && !/\s/.test(single[3]!.trim())) {
        let data = c.files[0]!.data;
        if (c.files[0]!.chomp) data = data.replace(/^\t+/gm, '');
        if (data.startsWith('#!')) {
          // A single heredoc with a shebang: written as an executable file and run.
          files.push({ path: `/dev/pipes/${c.files[0]!.name}`, data, mode: 0o755 });
          args = [`/dev/pipes/${c.files[0]!.name}`];
        } else {
          args = [data];
        }
        name += ` (${summarizeHeredoc(c.files[0]!.data)})`;
      } else {
        let b = args[0]!;
        for (const f of c.files) b += '\n' + f.data + f.name;
        args = [b];
      }
    }
    if (c.prependShell && files.length === 0) args = withShell(cfg.Shell, args);
    const mounts: Mount[] = [];
    for (const m of c.mounts) {
      try {
        mounts.push(parseMount(m, (w) => this.expand(w, s.env, range)));
      } catch (err) {
        if (err instanceof MountSyntaxError) throw this.error('PLAN_BAD_MOUNT', err.message, range, err.suggestion);
        throw err;
      }
    }
    // Each mount's source: from= names a stage, an image or a context (resolved while
    // building the dependency graph, in mount order); a bind mount without from= shows the
    // main context.
    const fromStates = [...entry.sources];
    const mountSources: (MountSource | undefined)[] = mounts.map((m) => {
      if (m.from !== '') {
        const src = fromStates.shift()!;
        if (src.namedContext?.spec.kind === 'dir') return { kind: 'context', name: src.namedContext.name };
        if (src.unregistered || src.namedContext !== undefined) {
          const bs = src.baseSource!;
          if (bs.kind === 'image') return { kind: 'image', ref: bs.ref, digest: bs.digest, origin: bs.origin };
        }
        if (!src.dispatched) {
          throw this.error('PLAN_STAGE_ORDER', `cannot mount from stage "${m.from}", it needs to be defined before current stage "${s.stageName}"`, range);
        }
        return { kind: 'stage', stage: src.index };
      }
      if (m.type === 'bind') {
        this.contextPaths.add(posixJoin('/', m.source || '/'));
        return { kind: 'context' };
      }
      return undefined;
    });
    // The content a mount shows is part of the key: a stage's key, an image's digest, the
    // digest of the context files mounted.
    const mountKeys: unknown[] = [];
    for (let i = 0; i < mounts.length; i++) {
      const src = mountSources[i];
      if (src === undefined) mountKeys.push(null);
      else if (src.kind === 'stage') mountKeys.push({ stage: this.stageByIndex(src.stage).key });
      else if (src.kind === 'image') mountKeys.push({ image: src.digest });
      else {
        const path = mounts[i]!.source === '' ? '.' : mounts[i]!.source;
        mountKeys.push({ context: src.name ?? null, path, digest: await this.resolvers.hashContext({ context: src.name, path, exclude: [], range }) });
      }
    }
    const argEnv = this.argEnv(s);
    // ARGs reach RUN as environment, ENV and image env as well; proxies only when declared.
    const env = s.env.toArray();
    const proxyEnv: string[] = [];
    for (const p of PROXY_ARGS) {
      if (Object.hasOwn(this.buildArgs, p) && !s.env.has(p)) proxyEnv.push(`${p}=${this.buildArgs[p]}`);
    }
    const argPrefix = argEnv.length > 0 ? [`|${argEnv.length}`, ...argEnv] : [];
    const createdBy = `RUN ${[...argPrefix, ...args].join(' ')} # buildkit`;
    const step: Omit<RunStep, 'id' | 'stage' | 'key' | 'parentKey'> & { keyFields: unknown; proxyEnv: string[] } = {
      kind: 'run',
      name: uppercaseCmd(name),
      createdBy,
      range,
      onbuild: entry.onbuild || undefined,
      args,
      env: [...env, ...proxyEnv],
      proxyEnv,
      user: s.user,
      workdir: s.dir,
      mounts,
      mountSources,
      network: c.network,
      security: c.security,
      files,
      epoch: this.options.epoch,
      keyFields: {
        op: 'run',
        args,
        env,
        user: s.user,
        workdir: s.dir,
        // Secret contents and cache mount contents are never part of the key: only the specs.
        mounts,
        mountSources: mountKeys,
        // The effective network mode, as BuildKit keys the exec op's network: a step without
        // --network gets the build's (`default` and `host` both mean the host's network here).
        network: effectiveNetwork(c.network, this.options.network),
        security: c.security,
        files,
      },
    };
    this.addStep(s, step);
    this.history(s, createdBy, true);
  }

  private async dispatchCopy(s: StageState, c: CopyInstruction | AddInstruction, entry: CommandEntry): Promise<void> {
    const range = c.range;
    const isAdd = c.kind === 'add';
    const x = (w: string) => this.expand(w, s.env, range);
    const chown = x(c.chown);
    const chmodText = x(c.chmod);
    const sourcePaths = c.sourcePaths.map(x);
    const destRaw = x(c.dest);
    const checksum = isAdd ? x((c as AddInstruction).checksum) : '';
    const contents = c.sourceContents.map((sc) => ({
      ...sc,
      // Heredoc bodies expand with quotes left alone (BuildKit's ExpandRaw with SkipProcessQuotes).
      data: sc.expand ? this.expandRaw(sc.data, s.env, range) : sc.data,
    }));
    let chmod: number | undefined;
    if (chmodText !== '') {
      if (!/^[0-7]+$/.test(chmodText) || Number.parseInt(chmodText, 8) > 0o7777) {
        throw this.error(
          'PLAN_BAD_CHMOD',
          `invalid chmod parameter: '${chmodText}'. it should be octal string and between 0 and 07777`,
          flagRange(c, 'chmod'),
        );
      }
      chmod = Number.parseInt(chmodText, 8);
    }
    if (checksum !== '') {
      if (!isAdd) throw this.error('PLAN_BAD_CHECKSUM', "checksum can't be specified for COPY", range);
      if (sourcePaths.length !== 1) throw this.error('PLAN_BAD_CHECKSUM', "checksum can't be specified for multiple sources", range);
      if (!isHttp(sourcePaths[0]!)) throw this.error('PLAN_BAD_CHECKSUM', 'checksum requires HTTP(S) or Git sources', range);
      if (!/^sha256:[a-f0-9]{64}$/.test(checksum)) {
        throw this.error('PLAN_BAD_CHECKSUM', `invalid checksum digest format: ${checksum}`, flagRange(c, 'checksum'), 'use --checksum=sha256:<64 hex digits>');
      }
    }
    const dest = pathRelativeToWorkdir(s.dir, destRaw);
    // BuildKit does not expand --exclude patterns.
    const exclude = [...c.exclude];
    const from = entry.sources[0];
    let msg = isAdd ? 'ADD' : 'COPY';
    if (c.kind === 'copy' && c.parents) msg += ' --parents';
    if (chown !== '') msg += ` --chown=${chown}`;
    if (chmodText !== '') msg += ` --chmod=${chmodText}`;
    const sources: CopySource[] = [];
    for (const src of sourcePaths) {
      msg += ` ${src}`;
      if (isHttp(src)) {
        if (!isAdd) throw this.error('PLAN_URL_IN_COPY', "source can't be a URL for COPY", range, 'use ADD for remote files');
        sources.push({ kind: 'url', url: src, checksum: checksum ? (checksum as Digest) : undefined });
        continue;
      }
      if (from === undefined) {
        this.contextPaths.add(posixJoin('/', src));
        const digest = await this.resolvers.hashContext({ path: src, exclude, range });
        sources.push({ kind: 'context', path: src, digest });
        continue;
      }
      if (from.namedContext?.spec.kind === 'dir') {
        const digest = await this.resolvers.hashContext({ context: from.namedContext.name, path: src, exclude, range });
        sources.push({ kind: 'context', name: from.namedContext.name, path: src, digest });
        continue;
      }
      if (!from.dispatched) {
        throw this.error('PLAN_STAGE_ORDER', `cannot copy from stage "${(c as CopyInstruction).from}", it needs to be defined before current stage "${s.stageName}"`, range);
      }
      if (from.unregistered || from.namedContext !== undefined) {
        const bs = from.baseSource!;
        if (bs.kind === 'image') sources.push({ kind: 'image', ref: bs.ref, digest: bs.digest, origin: bs.origin, path: src });
        else sources.push({ kind: 'stage', stage: from.index, path: src });
      } else {
        sources.push({ kind: 'stage', stage: from.index, path: src });
      }
    }
    for (const sc of contents) {
      msg += ` <<${sc.path}`;
      sources.push({ kind: 'inline', name: sc.path, data: sc.data });
    }
    msg += ` ${c.dest}`;
    const keySources = sources.map((src) => {
      if (src.kind === 'stage') return { kind: 'stage', path: src.path, key: this.stageByIndex(src.stage).key };
      if (src.kind === 'inline') return { kind: 'inline', name: src.name, data: sha256Digest(src.data) };
      return src;
    });
    const step: Omit<CopyStep, 'id' | 'stage' | 'key' | 'parentKey'> & { keyFields: unknown } = {
      kind: 'copy',
      instruction: isAdd ? 'ADD' : 'COPY',
      name: uppercaseCmd(c.node.original.trim()),
      createdBy: `${msg} # buildkit`,
      range,
      onbuild: entry.onbuild || undefined,
      sources,
      dest,
      chown,
      chmod,
      link: c.link,
      parents: c.kind === 'copy' ? c.parents : false,
      exclude,
      unpack: isAdd ? ((c as AddInstruction).unpack ?? true) : false,
      epoch: this.options.epoch,
      keyFields: {
        op: isAdd ? 'add' : 'copy',
        sources: keySources,
        dest,
        chown,
        chmod: chmod ?? null,
        link: c.link,
        parents: c.kind === 'copy' ? c.parents : false,
        exclude,
        unpack: isAdd ? ((c as AddInstruction).unpack ?? true) : false,
      },
    };
    this.addStep(s, step);
    this.history(s, `${msg} # buildkit`, true);
  }

  private stageByIndex(index: number): StageState {
    return this.states.find((x) => x.index === index && !x.unregistered) ?? this.states.find((x) => x.index === index)!;
  }

  private expandRaw(data: string, env: ShellEnv, range: SourceRange): string {
    try {
      return processWord(data, env, { skipProcessQuotes: true }).result;
    } catch (err) {
      if (err instanceof BuildImageError) throw this.error(err.code, err.message, range, err.suggestion);
      throw err;
    }
  }

  private planned(s: StageState): PlannedStage {
    const img = s.image!;
    const config: PlannedStage['config'] = {
      architecture: img.architecture,
      os: img.os,
      ...(img.variant ? { variant: img.variant } : {}),
      ...(img['os.version'] ? { 'os.version': img['os.version'] } : {}),
      ...(img.author ? { author: img.author } : {}),
      config: img.config,
      history: img.history,
    };
    const deps = new Set<number>();
    if (s.base) deps.add(s.base.index);
    for (const d of s.deps) if (!d.unregistered) deps.add(d.index);
    return {
      index: s.index,
      name: s.stageName,
      base: s.baseSource!,
      baseKey: s.baseKey!,
      steps: s.steps,
      key: s.key!,
      platform: s.platform!,
      config,
      dependsOn: [...deps].sort((a, b) => a - b),
      range: s.range,
    };
  }
}

// --- helpers ------------------------------------------------------------------------------------

function flagRange(c: Command, name: string): SourceRange {
  return c.node.flags.find((f) => f.name === name)?.range ?? c.range;
}

function mountFrom(value: string): string | undefined {
  try {
    return parseMount(value).from || undefined;
  } catch {
    // Values with variables are read after expansion; `from` itself cannot use variables.
    const m = /(?:^|,)from=([^,]*)/i.exec(value);
    return m?.[1];
  }
}

function effectiveNetwork(step: 'default' | 'none' | 'host', build: 'default' | 'none' | 'host' | undefined): 'none' | 'host' {
  const mode = step === 'default' ? (build ?? 'default') : step;
  return mode === 'none' ? 'none' : 'host';
}

function isHttp(src: string): boolean {
  return src.startsWith('http://') || src.startsWith('https://');
}

/** withShell: the image's SHELL (default /bin/sh -c) followed by the command. */
function withShell(shell: readonly string[] | undefined, args: readonly string[]): string[] {
  const sh = shell && shell.length > 0 ? shell : ['/bin/sh', '-c'];
  return [...sh, ...args];
}

/** uppercaseCmd: the instruction keyword in upper case. */
function uppercaseCmd(s: string): string {
  const i = s.search(/\s/);
  return i === -1 ? s.toUpperCase() : s.slice(0, i).toUpperCase() + s.slice(i);
}

function summarizeHeredoc(doc: string): string {
  const lines = doc.trim().split('\n');
  let summary = lines[0] ?? '';
  if (lines.length > 1) summary += '...';
  return summary;
}

function posixClean(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return abs ? '/' + joined : joined || '.';
}

function posixJoin(a: string, b: string): string {
  return posixClean(`${a}/${b}`);
}

/** system.NormalizeWorkdir on Linux: relative to the current workdir, cleaned, absolute. */
export function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') return current || '/';
  return requested.startsWith('/') ? posixClean(requested) : posixJoin(current || '/', requested);
}

/**
 * pathRelativeToWorkingDir + NormalizePath(keepSlash): absolute, cleaned, and a trailing `/`
 * (or `/.`) kept, because it means "a directory".
 */
export function pathRelativeToWorkdir(workdir: string, p: string): string {
  const dirHint = p.endsWith('/') || p.endsWith('/.') || p === '.' || p === '';
  const base = p === '' || p === '.' ? './' : p;
  const joined = base.startsWith('/') ? posixClean(base) : posixJoin(workdir || '/', base);
  return dirHint && joined !== '/' ? joined + '/' : joined;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
]);

/** moby/sys/signal.ParseSignal on Linux: a number, a name with or without SIG, or RTMIN+n. */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.has(name)) return true;
  const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
  return rt !== null;
}

/** Plans a build: stages (from checkDockerfile) → Plan. */
export async function planBuild(stages: Stages, options: PlanOptions, resolvers: PlanResolvers): Promise<Plan> {
  return new Planner(stages, options, resolvers).plan();
}

