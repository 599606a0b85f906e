/**
 * The build-image command line: a thin shell over the library. `run(argv, io)` returns the
 * exit code, so tests call it in-process as well as through the compiled binary.
 *
 * Exit codes: 0 success; 1 the Dockerfile, the build or what it needs failed (a missing file, a
 * failing step, no engine for --load, an unwritable --iidfile); 2 the command line itself is wrong
 * (an unknown command or flag, a flag value that does not parse, a wrong number of arguments).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseBuildContext, prepareBuild, type BuildOptions, type BuildResult } from '../build.js';
import { parseOutput } from '../execute/output.js';
import { parseSecretSpec } from '../execute/run/secrets.js';
import { parsePlatform } from '../registry/platform.js';
import { parseImageReference } from '../registry/reference.js';
import { createProgress, type ProgressMode, type ProgressOutput } from './progress.js';
import { BuildImageError } from '../errors.js';
import { formatPlan, type PlanFormat } from '../plan/format.js';
import { checkDockerfile } from '../instructions/check.js';
import { dumpDockerfile } from '../syntax/dump.js';
import { parseDockerfile } from '../syntax/parse.js';
import { didYouMean } from '../suggest.js';
import { optionsHelp, parseArgs, type OptionSpec } from './args.js';

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly readStdin?: () => Promise<string>;
  /** The environment (for `--build-arg NAME` and SOURCE_DATE_EPOCH); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where progress goes (default: stderr, not a terminal). */
  readonly progress?: ProgressOutput;
  /** Installs Ctrl-C handling for a build; returns the function that removes it. */
  readonly signals?: (onSignal: () => void) => () => void;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The error codes that mean "the command line is wrong" (exit 2); every other error exits 1. */
const USAGE_ERRORS = new Set(['CLI_UNKNOWN_COMMAND', 'CLI_UNKNOWN_FLAG', 'CLI_BAD_FLAG', 'CLI_USAGE', 'CLI_NO_STDIN']);

const VERSION = '0.1.0';

const PARSE_OPTIONS: OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'FILE', description: 'the Dockerfile (default ./Dockerfile; - for stdin)' },
  { name: 'format', type: 'string', value: 'json|buildkit', description: 'output: the AST as JSON (default) or BuildKit\'s Dump() format' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

/** Options shared by `build` and `plan` (docker build's names and meanings). */
const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'FILE', description: 'the Dockerfile (default CONTEXT/Dockerfile; - for stdin)' },
  { name: 'target', type: 'string', value: 'STAGE', description: 'the stage to build (default: the last one)' },
  { name: 'build-arg', type: 'strings', value: 'NAME[=VALUE]', description: 'a build argument (NAME alone takes it from the environment)' },
  { name: 'build-context', type: 'strings', value: 'NAME=DIR|oci-layout://PATH[:TAG]', description: 'an extra named context, or a replacement for a FROM image' },
  { name: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', description: 'the platform to build for (default: this machine\'s)' },
  { name: 'cache-dir', type: 'string', value: 'DIR', description: 'the store for layers and cache (default $XDG_CACHE_HOME/build-image)' },
  { name: 'pull', type: 'boolean', description: 'ask registries for base image tags again' },
  { name: 'insecure-registry', type: 'strings', value: 'HOST', description: 'reach this registry over plain HTTP' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

const BUILD_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS.filter((o) => o.name !== 'help'),
  { name: 'tag', short: 't', type: 'strings', value: 'NAME[:TAG]', description: 'name the image (OCI ref.name, docker archive tag, store tag)' },
  { name: 'output', short: 'o', type: 'strings', value: 'SPEC', description: 'type=oci|docker|local|tar|registry,dest=…,name=… (BuildKit syntax; DIR alone = type=local)' },
  { name: 'push', type: 'boolean', description: 'push the image to every -t name (same as -o type=registry,name=…)' },
  { name: 'load', type: 'boolean', description: 'load the image into docker (or podman) when one is installed' },
  { name: 'no-cache', type: 'boolean', description: 'do not use the build cache' },
  { name: 'secret', type: 'strings', value: 'id=ID,src=FILE|env=VAR', description: 'a secret for RUN --mount=type=secret' },
  { name: 'network', type: 'string', value: 'default|none|host', description: 'network for RUN steps (default: host\'s network)' },
  { name: 'progress', type: 'string', value: 'auto|tty|plain|rawjson|quiet', description: 'how to show progress (default auto)' },
  { name: 'iidfile', type: 'string', value: 'FILE', description: 'write the image ID (sha256:… of the config) to FILE' },
  { name: 'metadata-file', type: 'string', value: 'FILE', description: 'write build results (digests, names, outputs) as JSON to FILE' },
  { name: 'jobs', type: 'string', value: 'N', description: 'steps run at the same time (default: CPU count)' },
  { name: 'runtime', type: 'string', value: 'unshare|runc|crun|PATH', description: 'how RUN steps run (default: unshare, built in)' },
  { name: 'allow', type: 'strings', value: 'security.insecure', description: 'an entitlement (security.insecure allows RUN --security=insecure)' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

const PLAN_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS.filter((o) => o.name !== 'help'),
  { name: 'format', type: 'string', value: 'text|json|dot|mermaid', description: 'how to print the plan (default text)' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

const COMMANDS = ['build', 'plan', 'parse', 'help'];

function usage(): string {
  return `build-image ${VERSION}: build OCI images from Dockerfiles, no daemon needed

Usage:
  build-image [build] [options] CONTEXT   build the Dockerfile in CONTEXT
  build-image plan [options] CONTEXT      print the build's steps with their cache keys
  build-image parse [options] [FILE]      print the Dockerfile's syntax tree
  build-image help [COMMAND]              show help

Run 'build-image COMMAND --help' for a command's options.
Exit codes: 0 success, 1 the Dockerfile or the build failed, 2 bad usage.
`;
}

function commandHelp(command: string): string {
  if (command === 'parse') {
    return `Usage: build-image parse [options] [FILE]

Parses a Dockerfile and prints its syntax tree: as JSON (every node with its source range),
or in BuildKit's Dump() format (what \`docker build\`'s parser produces).

Options:
${optionsHelp(PARSE_OPTIONS)}
`;
  }
  if (command === 'plan') {
    return `Usage: build-image plan [options] CONTEXT

Plans the build of the Dockerfile in CONTEXT without running it: the stages the target needs,
each layer-producing step with its content-addressed cache key, and the stage dependencies.
Base images are resolved (to know their digests) and context files are hashed.

Options:
${optionsHelp(PLAN_OPTIONS)}
`;
  }
  return `Usage: build-image [build] [options] CONTEXT

Builds the Dockerfile in CONTEXT (default: the current directory).

Options:
${optionsHelp(BUILD_OPTIONS)}
`;
}

async function readDockerfile(path: string, io: Io): Promise<string> {
  if (path === '-') {
    if (io.readStdin === undefined) throw new BuildImageError('CLI_NO_STDIN', 'reading the Dockerfile from stdin is not available');
    return io.readStdin();
  }
  try {
    return await readFile(resolve(io.cwd, path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BuildImageError(
      'CLI_FILE_NOT_FOUND',
      code === 'ENOENT' ? `cannot read ${path}: no such file` : `cannot read ${path}: ${(err as Error).message}`,
      { file: path, cause: err, suggestion: code === 'ENOENT' ? 'pass the Dockerfile with -f FILE' : undefined },
    );
  }
}

function printErrors(errors: readonly BuildImageError[], io: Io): void {
  io.stderr(errors.map((e) => e.format()).join('\n\n') + '\n');
  if (errors.length > 1) io.stderr(`${errors.length} errors\n`);
}

async function parseCommand(argv: string[], io: Io): Promise<number> {
  const { options, positionals } = parseArgs(argv, PARSE_OPTIONS, 'parse');
  if (options['help']) {
    io.stdout(commandHelp('parse'));
    return EXIT_OK;
  }
  if (positionals.length > 1 || (positionals.length === 1 && options['file'] !== undefined)) {
    throw new BuildImageError('CLI_USAGE', 'parse takes one Dockerfile: give it with -f FILE or as FILE, not both');
  }
  const format = (options['format'] as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'buildkit') {
    throw new BuildImageError('CLI_BAD_FLAG', `unknown format "${format}"`, {
      suggestion: didYouMean(format, ['json', 'buildkit']) ?? 'use --format json or --format buildkit',
    });
  }
  const file = (options['file'] as string | undefined) ?? positionals[0] ?? 'Dockerfile';
  const text = await readDockerfile(file, io);
  const result = parseDockerfile(text, { file });
  if (result.errors.length > 0 || result.ast === undefined) {
    printErrors(result.errors, io);
    return EXIT_FAILED;
  }
  io.stdout(format === 'buildkit' ? dumpDockerfile(result.ast) : JSON.stringify(result.ast, null, 2) + '\n');
  return EXIT_OK;
}

async function buildCommand(argv: string[], io: Io): Promise<number> {
  const { options, positionals } = parseArgs(argv, BUILD_OPTIONS, 'build');
  if (options['help']) {
    io.stdout(commandHelp('build'));
    return EXIT_OK;
  }
  const tags = (options['tag'] as string[] | undefined) ?? [];
  for (const t of tags) checkFlag('--tag', t, checkTag);
  const outputs = [...((options['output'] as string[] | undefined) ?? [])].map((o) => (o.includes('=') || o === '-' ? o : `type=local,dest=${o}`));
  if (options['push']) {
    if (tags.length === 0) throw new BuildImageError('CLI_USAGE', '--push needs at least one -t NAME to push to');
    for (const t of tags) outputs.push(`type=registry,name=${t}`);
  }
  for (const o of outputs) checkFlag('--output', o, parseOutput);
  const secrets = (options['secret'] as string[] | undefined) ?? [];
  for (const s of secrets) checkFlag('--secret', s, parseSecretSpec);
  const network = (options['network'] as string | undefined) ?? 'default';
  if (!['default', 'none', 'host'].includes(network)) {
    throw new BuildImageError('CLI_BAD_FLAG', `invalid --network "${network}"`, { suggestion: didYouMean(network, ['default', 'none', 'host']) ?? 'use default, none or host' });
  }
  const progressMode = (options['progress'] as string | undefined) ?? 'auto';
  const modes = ['auto', 'tty', 'plain', 'rawjson', 'quiet'];
  if (!modes.includes(progressMode)) {
    throw new BuildImageError('CLI_BAD_FLAG', `invalid --progress "${progressMode}"`, { suggestion: didYouMean(progressMode, modes) ?? `use one of ${modes.join(', ')}` });
  }
  const jobsText = options['jobs'] as string | undefined;
  if (jobsText !== undefined && !/^[1-9]\d*$/.test(jobsText)) throw new BuildImageError('CLI_BAD_FLAG', `invalid --jobs "${jobsText}": expected a positive number`);
  const common = await commonBuildOptions(options, positionals, io, 'build');
  // --load: find the engine before building, not after a long build.
  const engine = options['load'] ? await findEngine() : undefined;
  const progress = createProgress(progressMode as ProgressMode, io.progress ?? { write: io.stderr });
  const controller = new AbortController();
  const onSignal = () => controller.abort(new BuildImageError('BUILD_CANCELLED', 'build cancelled'));
  const handlers = io.signals ? io.signals(onSignal) : undefined;
  let result;
  try {
    const { build } = await import('../build.js');
    result = await build({
      ...common,
      tags,
      outputs,
      noCache: (options['no-cache'] as boolean | undefined) ?? false,
      secrets,
      network: network as 'default' | 'none' | 'host',
      jobs: jobsText === undefined ? undefined : Number(jobsText),
      runtime: options['runtime'] as string | undefined,
      allow: allowList((options['allow'] as string[] | undefined) ?? []),
      signal: controller.signal,
      onEvent: (e) => progress.event(e),
    });
  } finally {
    progress.close();
    handlers?.();
  }
  if (options['iidfile']) await writeResultFile('--iidfile', resolve(io.cwd, options['iidfile'] as string), result.configDigest);
  if (options['metadata-file']) {
    // BuildKit's exporter keys (what `docker buildx build --metadata-file` writes), sorted as
    // Go writes a map, plus where each output went.
    const meta: Record<string, unknown> = {
      'build-image.outputs': result.outputs.map((o) => ({ digest: o.digest, location: o.location, type: o.type })),
      'containerimage.config.digest': result.configDigest,
      'containerimage.descriptor': { digest: result.digest, mediaType: result.image.mediaType, size: result.image.manifestBytes().length },
      'containerimage.digest': result.digest,
    };
    if (tags.length > 0) meta['image.name'] = tags.join(',');
    await writeResultFile('--metadata-file', resolve(io.cwd, options['metadata-file'] as string), JSON.stringify(meta, null, 2) + '\n');
  }
  let loaded: string | undefined;
  if (engine !== undefined) loaded = await loadIntoEngine(engine, result.image, tags, io);
  io.stderr(describeResult(result, tags, loaded));
  return EXIT_OK;
}

/**
 * A flag value checked by the library's own parser before anything runs, so a malformed value
 * is reported as bad usage (exit 2) naming the flag.
 */
function checkFlag(flag: string, value: string, parse: (value: string) => unknown): void {
  try {
    parse(value);
  } catch (err) {
    if (!(err instanceof BuildImageError)) throw err;
    const message = err.message.includes(flag) ? err.message : `invalid ${flag} "${value}": ${err.message}`;
    throw new BuildImageError('CLI_BAD_FLAG', message, { suggestion: err.suggestion, cause: err });
  }
}

/** `-t`: a name docker would accept (ValidateTag: a normalised reference without a digest). */
function checkTag(tag: string): void {
  const ref = parseImageReference(tag);
  if (ref.digest !== undefined) throw new BuildImageError('CLI_BAD_FLAG', 'refusing to create a tag with a digest reference');
}

async function writeResultFile(flag: string, path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (err) {
    throw new BuildImageError('CLI_WRITE_FAILED', `${flag}: cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
      suggestion: 'the image was built; give a path in a writable directory',
    });
  }
}

/** `--allow` values (comma-separated lists too), checked. */
function allowList(values: readonly string[]): Array<'security.insecure' | 'network.host'> {
  const known = ['security.insecure', 'network.host'] as const;
  const out: Array<'security.insecure' | 'network.host'> = [];
  for (const v of values.flatMap((x) => x.split(','))) {
    if (!(known as readonly string[]).includes(v)) {
      throw new BuildImageError('CLI_BAD_FLAG', `unknown entitlement "${v}" for --allow`, { suggestion: didYouMean(v, known) ?? `use ${known.join(' or ')}` });
    }
    out.push(v as (typeof known)[number]);
  }
  return out;
}

/** Where the image went and what to do next, for people. */
function describeResult(result: BuildResult, tags: readonly string[], loaded: string | undefined): string {
  const lines = [`built ${result.digest}`];
  for (const o of result.outputs) {
    switch (o.type) {
      case 'store': {
        const name = o.location.slice(result.store.length + 1);
        lines.push(`  stored in the local image store (an OCI layout): ${o.location}`);
        lines.push(`  load into docker:  skopeo copy oci:${o.location} docker-daemon:${name}`);
        lines.push(`               or:  build-image -o type=docker,dest=image.tar … && docker load -i image.tar`);
        lines.push(`  push:             build-image -t REGISTRY/NAME:TAG --push …`);
        break;
      }
      case 'registry':
        lines.push(`  pushed ${o.location}@${o.digest}`);
        break;
      case 'docker':
        lines.push(`  docker archive: ${o.location}  (docker load -i ${o.location})`);
        break;
      case 'oci':
        lines.push(`  OCI ${o.location.endsWith('.tar') ? 'archive' : 'output'}: ${o.location}`);
        break;
      default:
        lines.push(`  ${o.type}: ${o.location}`);
    }
  }
  if (loaded) lines.push(`  loaded into ${loaded}${tags[0] ? ` as ${tags[0]}` : ''}`);
  return lines.join('\n') + '\n';
}

/** The engine `--load` uses: docker, else podman. */
async function findEngine(): Promise<string> {
  const { spawnSync } = await import('node:child_process');
  const engine = ['docker', 'podman'].find((c) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', c]).status === 0);
  if (engine === undefined) {
    throw new BuildImageError('CLI_NO_ENGINE', '--load needs docker or podman, and neither is installed', {
      suggestion: 'write an archive with -o type=docker,dest=image.tar and load it where an engine runs',
    });
  }
  return engine;
}

/** --load: pipes a docker archive into `docker load` (or `podman load`). */
async function loadIntoEngine(engine: string, image: BuildResult['image'], tags: readonly string[], io: Io): Promise<string> {
  const { spawn } = await import('node:child_process');
  const { dockerArchiveStream } = await import('../oci/docker.js');
  const child = spawn(engine, ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => io.stderr(d.toString()));
  const closed: Promise<number> = new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  const { pipeline } = await import('node:stream/promises');
  try {
    await pipeline(await dockerArchiveStream(image, { tags: [...tags] }), child.stdin);
  } catch (err) {
    // The engine exited early (EPIPE): its own message says why.
    const code = await closed;
    throw new BuildImageError('CLI_LOAD_FAILED', `${engine} load failed (exit ${code}): ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
  const code = await closed;
  if (code !== 0) throw new BuildImageError('CLI_LOAD_FAILED', `${engine} load failed (exit ${code}): ${stderr.trim()}`);
  return engine;
}

/** The library options from the command line's shared options. */
async function commonBuildOptions(options: Record<string, unknown>, positionals: string[], io: Io, command: string): Promise<BuildOptions> {
  if (positionals.length > 1) {
    throw new BuildImageError('CLI_USAGE', `${command} takes one context directory, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const buildArgs: Record<string, string> = {};
  for (const a of (options['build-arg'] as string[] | undefined) ?? []) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new BuildImageError('CLI_BAD_FLAG', `invalid --build-arg "${a}": the name is empty`);
    if (eq === -1) {
      const v = (io.env ?? process.env)[a];
      if (v !== undefined) buildArgs[a] = v;
    } else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const buildContexts: Record<string, string> = {};
  for (const c of (options['build-context'] as string[] | undefined) ?? []) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new BuildImageError('CLI_BAD_FLAG', `invalid --build-context "${c}": expected NAME=VALUE`);
    checkFlag('--build-context', c, () => parseBuildContext(c.slice(0, eq), c.slice(eq + 1), io.cwd));
    buildContexts[c.slice(0, eq)] = c.slice(eq + 1);
  }
  const platform = options['platform'] as string | undefined;
  if (platform !== undefined) checkFlag('--platform', platform, parsePlatform);
  // `-f -` reads the Dockerfile from stdin, as docker build does.
  const file = options['file'] as string | undefined;
  const dockerfile = file === '-' ? await readDockerfile('-', io) : undefined;
  return {
    context: positionals[0] ?? '.',
    file: file === '-' ? undefined : file,
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    target: options['target'] as string | undefined,
    buildArgs,
    buildContexts,
    platform,
    cacheDir: options['cache-dir'] as string | undefined,
    pull: (options['pull'] as boolean | undefined) ?? false,
    insecureRegistries: (options['insecure-registry'] as string[] | undefined) ?? [],
  };
}

async function planCommand(argv: string[], io: Io): Promise<number> {
  const { options, positionals } = parseArgs(argv, PLAN_OPTIONS, 'plan');
  if (options['help']) {
    io.stdout(commandHelp('plan'));
    return EXIT_OK;
  }
  const format = (options['format'] as string | undefined) ?? 'text';
  const formats = ['text', 'json', 'dot', 'mermaid'];
  if (!formats.includes(format)) {
    throw new BuildImageError('CLI_BAD_FLAG', `unknown format "${format}"`, {
      suggestion: didYouMean(format, formats) ?? `use one of ${formats.join(', ')}`,
    });
  }
  const prepared = await prepareBuild(await commonBuildOptions(options, positionals, io, 'plan'), io.env ?? process.env, io.cwd);
  prepared.close();
  io.stdout(formatPlan(prepared.plan, format as PlanFormat));
  return EXIT_OK;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      io.stdout(usage());
      return EXIT_OK;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      io.stdout(rest[0] !== undefined && COMMANDS.includes(rest[0]) ? commandHelp(rest[0]) : usage());
      return EXIT_OK;
    }
    if (first === '--version' || first === '-v') {
      io.stdout(`build-image ${VERSION}\n`);
      return EXIT_OK;
    }
    if (first === 'parse') return await parseCommand(rest, io);
    if (first === 'build') return await buildCommand(rest, io);
    if (first === 'plan') return await planCommand(rest, io);
    if (!first.startsWith('-') && didYouMean(first, COMMANDS) !== undefined && !(await isDirectory(resolve(io.cwd, first)))) {
      throw new BuildImageError('CLI_UNKNOWN_COMMAND', `unknown command "${first}"`, { suggestion: didYouMean(first, COMMANDS) });
    }
    return await buildCommand([...argv], io);
  } catch (err) {
    if (err instanceof BuildImageError) {
      io.stderr(err.format() + '\n');
      return USAGE_ERRORS.has(err.code) ? EXIT_USAGE : EXIT_FAILED;
    }
    throw err;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
