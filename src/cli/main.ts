/**
 * The build-image command line: a thin shell over the library. `run(argv, io)` returns the
 * exit code, so tests call it in-process as well as through the compiled binary.
 *
 * Exit codes: 0 success, 1 the Dockerfile or the build failed, 2 bad command-line usage.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { prepareBuild, type BuildOptions } from '../build.js';
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
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const VERSION = '0.1.0';

const PARSE_OPTIONS: OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'FILE', description: 'the Dockerfile (default ./Dockerfile; - for stdin)' },
  { name: 'format', type: 'string', value: 'json|buildkit', description: 'output: the AST as JSON (default) or BuildKit\'s Dump() format' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

/** Options shared by `build` and `plan` (docker build's names and meanings). */
const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'FILE', description: 'the Dockerfile (default CONTEXT/Dockerfile)' },
  { name: 'target', type: 'string', value: 'STAGE', description: 'the stage to build (default: the last one)' },
  { name: 'build-arg', type: 'strings', value: 'NAME[=VALUE]', description: 'a build argument (NAME alone takes it from the environment)' },
  { name: 'build-context', type: 'strings', value: 'NAME=DIR|oci-layout://PATH[:TAG]', description: 'an extra named context, or a replacement for a FROM image' },
  { name: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', description: 'the platform to build for (default: this machine\'s)' },
  { name: 'cache-dir', type: 'string', value: 'DIR', description: 'the store for layers and cache (default $XDG_CACHE_HOME/build-image)' },
  { name: 'pull', type: 'boolean', description: 'ask registries for base image tags again' },
  { name: 'insecure-registry', type: 'strings', value: 'HOST', description: 'reach this registry over plain HTTP' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
];

const BUILD_OPTIONS: OptionSpec[] = [...COMMON_OPTIONS];

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
  if (positionals.length > 1) {
    throw new BuildImageError('CLI_USAGE', `build takes one context directory, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const context = positionals[0] ?? '.';
  const file = (options['file'] as string | undefined) ?? `${context.replace(/\/+$/, '')}/Dockerfile`;
  const text = await readDockerfile(file, io);
  const checked = checkDockerfile(text, { file });
  if (checked.errors.length > 0) {
    printErrors(checked.errors, io);
    return EXIT_FAILED;
  }
  const stages = checked.stages!.stages;
  io.stderr(`${file}: ${stages.length} stage${stages.length === 1 ? '' : 's'}, ${checked.ast!.instructions.length} instructions, valid\n`);
  return EXIT_OK;
}

/** The library options from the command line's shared options. */
function commonBuildOptions(options: Record<string, unknown>, positionals: string[], io: Io, command: string): BuildOptions {
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
    buildContexts[c.slice(0, eq)] = c.slice(eq + 1);
  }
  return {
    context: positionals[0] ?? '.',
    file: options['file'] as string | undefined,
    target: options['target'] as string | undefined,
    buildArgs,
    buildContexts,
    platform: options['platform'] as string | undefined,
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
  const prepared = await prepareBuild(commonBuildOptions(options, positionals, io, 'plan'), io.env ?? process.env, io.cwd);
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
      return err.code.startsWith('CLI_') && err.code !== 'CLI_FILE_NOT_FOUND' ? EXIT_USAGE : EXIT_FAILED;
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
