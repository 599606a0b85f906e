/**
 * AST → typed instructions grouped into stages (BuildKit's instructions/parse.go), with every
 * instruction-level check BuildKit makes: argument counts, flags each instruction accepts,
 * stage names, ONBUILD triggers, HEALTHCHECK options, SHELL in JSON form, heredocs as
 * destinations. Pure; errors are BuildImageErrors with codes, ranges and suggestions.
 */
import { BuildImageError, type SourceRange } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { DockerfileNode, FlagNode, InstructionNode } from '../syntax/ast.js';
import { parseHeredocWord, type HeredocMarker } from '../../grammar/heredoc.js';
import { Flags } from './flags.js';
import { parseGoDuration } from './go.js';
import { checkUnexpandedMount, MountSyntaxError, parseDevice, parseMount } from './mount.js';
import type {
  ArgDefinition,
  ArgInstruction,
  Command,
  CommandLine,
  FromInstruction,
  HealthConfig,
  Instruction,
  KeyValue,
  RunInstruction,
  SourcesAndDest,
  Stage,
  Stages,
} from './types.js';

/** Every instruction keyword, upper case. */
export const INSTRUCTION_NAMES = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

export interface InstructionOptions {
  /** File name for error messages. */
  file?: string | undefined;
  /** The Dockerfile text, for code frames in errors. */
  source?: string | undefined;
}

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

class Context {
  constructor(
    readonly node: InstructionNode,
    readonly options: InstructionOptions,
  ) {}

  error(code: string, message: string, range: SourceRange = this.node.range, suggestion?: string): BuildImageError {
    return new BuildImageError(code, message, {
      file: this.options.file,
      range,
      source: this.options.source,
      suggestion,
    });
  }

  flags(instruction: string): Flags {
    return new Flags(this.node.flags, instruction, (code, message, flag: FlagNode | undefined, suggestion) =>
      this.error(code, message, flag?.range ?? this.node.range, suggestion),
    );
  }

  get args(): string[] {
    return this.node.args.map((a) => a.value);
  }
}

function atLeastOne(c: Context, cmd: string): BuildImageError {
  return c.error('INSTR_ARGUMENTS', `${cmd} requires at least one argument`);
}

function exactlyOne(c: Context, cmd: string): BuildImageError {
  return c.error('INSTR_ARGUMENTS', `${cmd} requires exactly one argument`);
}

/** BuildKit's handleJSONArgs. */
function commandLine(c: Context): CommandLine {
  const args = c.args;
  const node = c.node;
  return {
    cmdLine: args.length === 0 ? [] : node.json ? args : [args.join(' ')],
    prependShell: !node.json,
    files: node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp })),
  };
}

function keyValues(c: Context, cmd: string): KeyValue[] {
  const args = c.args;
  if (args.length === 0) throw atLeastOne(c, cmd);
  if (args.length % 3 !== 0) throw c.error('INSTR_ARGUMENTS', `Bad input to ${cmd}, too many arguments`);
  const out: KeyValue[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j]!.length === 0) throw c.error('INSTR_BLANK_NAME', `${cmd} names can not be blank`, c.node.args[j]!.range);
    out.push({ key: args[j]!, value: args[j + 1]!, noDelim: args[j + 2] === '' });
  }
  return out;
}

/** `# NAME description` among the comments above: the description. */
function docComment(comments: readonly string[], name: string): string {
  if (name === '') return '';
  for (const line of comments) if (line.startsWith(name + ' ')) return line.slice(name.length + 1);
  return '';
}

/** ChompHeredocContent: leading tabs removed from every line. */
function chompTabs(s: string): string {
  return s.replace(/^\t+/gm, '');
}

/**
 * BuildKit's MustParseHeredoc: a word that fails to lex as a heredoc (`<<"EOF` with an
 * unterminated quote) is not a heredoc — the error is dropped and the word stays a path.
 */
function mustParseHeredoc(word: string): HeredocMarker | undefined {
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}

function sourcesAndDest(c: Context, cmd: string): SourcesAndDest {
  const args = c.args;
  const dest = args[args.length - 1]!;
  if (mustParseHeredoc(dest) !== undefined) {
    throw c.error('INSTR_HEREDOC_DESTINATION', `${cmd} cannot accept a heredoc as a destination`, c.node.args.at(-1)!.range);
  }
  const heredocs = new Map(c.node.heredocs.map((h) => [h.name, h]));
  const sourcePaths: string[] = [];
  const sourceContents: { path: string; data: string; expand: boolean }[] = [];
  for (const src of args.slice(0, -1)) {
    const marker = mustParseHeredoc(src);
    if (marker === undefined) {
      sourcePaths.push(src);
      continue;
    }
    let data = heredocs.get(marker.name)?.content ?? '';
    if (marker.chomp) data = chompTabs(data);
    sourceContents.push({ path: marker.name, data, expand: marker.expand });
  }
  return { sourcePaths, sourceContents, dest };
}

function interval(c: Context, value: string, name: string): number {
  if (value === '') return 0;
  let d: number;
  try {
    d = parseGoDuration(value);
  } catch (err) {
    throw c.error('INSTR_HEALTHCHECK', (err as Error).message);
  }
  if (d === 0) return 0;
  if (d < 1e6) throw c.error('INSTR_HEALTHCHECK', `Interval "${name}" cannot be less than 1ms`);
  return d;
}

function mountError(c: Context, flag: string, err: unknown): BuildImageError {
  if (err instanceof MountSyntaxError) {
    const f = c.node.flags.find((x) => x.name === flag);
    return c.error('INSTR_BAD_MOUNT', err.message, f?.range, err.suggestion);
  }
  throw err;
}

/** One instruction (a FROM or a command). Throws a BuildImageError. */
export function toInstruction(node: InstructionNode, options: InstructionOptions = {}): Instruction {
  const c = new Context(node, options);
  const base = { node, range: node.range };
  const args = c.args;
  switch (node.name) {
    case 'env': {
      c.flags('ENV').parse();
      return { kind: 'env', ...base, env: keyValues(c, 'ENV') };
    }
    case 'label': {
      c.flags('LABEL').parse();
      return { kind: 'label', ...base, labels: keyValues(c, 'LABEL') };
    }
    case 'maintainer': {
      if (args.length !== 1) throw exactlyOne(c, 'MAINTAINER');
      c.flags('MAINTAINER').parse();
      return { kind: 'maintainer', ...base, maintainer: args[0]! };
    }
    case 'add':
    case 'copy': {
      const cmd = node.name.toUpperCase();
      if (args.length < 2) {
        throw c.error(
          'INSTR_ARGUMENTS',
          `${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`,
          node.range,
          `write ${cmd} <source>... <destination>`,
        );
      }
      const f = c.flags(cmd);
      const chown = f.string('chown');
      const chmod = f.string('chmod');
      const link = f.bool('link');
      if (node.name === 'add') {
        const keepGitDir = f.bool('keep-git-dir');
        const checksum = f.string('checksum');
        const unpack = f.bool('unpack');
        const exclude = f.strings('exclude');
        f.parse();
        return {
          kind: 'add',
          ...base,
          ...sourcesAndDest(c, cmd),
          chown: chown(),
          chmod: chmod(),
          link: link(),
          keepGitDir: f.isUsed('keep-git-dir') ? keepGitDir() : undefined,
          checksum: checksum(),
          unpack: f.isUsed('unpack') ? unpack() : undefined,
          exclude: exclude(),
        };
      }
      const from = f.string('from');
      const exclude = f.strings('exclude');
      const parents = f.bool('parents');
      f.parse();
      return {
        kind: 'copy',
        ...base,
        ...sourcesAndDest(c, cmd),
        from: from(),
        chown: chown(),
        chmod: chmod(),
        link: link(),
        parents: parents(),
        exclude: exclude(),
      };
    }
    case 'from': {
      let name = '';
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        name = args[2]!.toLowerCase();
        if (!VALID_STAGE_NAME.test(name)) {
          throw c.error(
            'INSTR_BAD_STAGE_NAME',
            `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
            node.args[2]!.range,
          );
        }
      } else if (args.length !== 1) {
        throw c.error('INSTR_ARGUMENTS', 'FROM requires either one or three arguments', node.range, 'write FROM <image> [AS <name>]');
      }
      const f = c.flags('FROM');
      const platform = f.string('platform');
      f.parse();
      return {
        kind: 'from',
        ...base,
        baseName: args[0]!,
        name,
        platform: platform(),
        docComment: docComment(node.comments, name),
      };
    }
    case 'onbuild': {
      if (node.inner === undefined) throw atLeastOne(c, 'ONBUILD');
      c.flags('ONBUILD').parse();
      const trigger = node.inner.keyword.trim().toUpperCase();
      if (trigger === 'ONBUILD') {
        throw c.error('INSTR_ONBUILD_TRIGGER', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', node.inner.keywordRange);
      }
      if (trigger === 'MAINTAINER' || trigger === 'FROM') {
        throw c.error('INSTR_ONBUILD_TRIGGER', `${trigger} isn't allowed as an ONBUILD trigger`, node.inner.keywordRange);
      }
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of node.heredocs) expression += '\n' + h.content + h.name;
      return { kind: 'onbuild', ...base, expression };
    }
    case 'workdir': {
      if (args.length !== 1) throw exactlyOne(c, 'WORKDIR');
      c.flags('WORKDIR').parse();
      return { kind: 'workdir', ...base, path: args[0]! };
    }
    case 'run': {
      const f = c.flags('RUN');
      const mounts = f.strings('mount');
      const network = f.string('network', 'default');
      const security = f.string('security', 'sandbox');
      const devices = f.strings('device');
      f.parse();
      // BuildKit's RUN post-hooks run in file order: devices, mounts, network, security — the
      // first error reported is the first of these that fails.
      let devs: RunInstruction['devices'];
      try {
        devs = devices().map(parseDevice);
      } catch (err) {
        throw mountError(c, 'device', err);
      }
      // Mounts are read again, after variable expansion, by the planner. A value that
      // expansion cannot change (no `$`, quotes or escapes) is checked in full now so that
      // mistakes are reported early; any other gets only the checks BuildKit makes before
      // expansion (CSV syntax, no variable in `from`).
      for (const m of mounts()) {
        try {
          if (/[$'"\\`]/.test(m)) checkUnexpandedMount(m);
          else parseMount(m);
        } catch (err) {
          throw mountError(c, 'mount', err);
        }
      }
      const net = network();
      if (net !== 'default' && net !== 'none' && net !== 'host') {
        throw c.error('INSTR_BAD_NETWORK', `invalid network mode ${JSON.stringify(net)}`, flagRange(c, 'network'), 'use --network=default, none or host');
      }
      const sec = security();
      if (sec !== 'sandbox' && sec !== 'insecure') {
        throw c.error('INSTR_BAD_SECURITY', `security ${JSON.stringify(sec)} is not valid`, flagRange(c, 'security'), 'use --security=sandbox or insecure');
      }
      return {
        kind: 'run',
        ...base,
        ...commandLine(c),
        mounts: mounts(),
        network: net,
        security: sec,
        devices: devs,
        flagsUsed: f.usedNames(),
      };
    }
    case 'cmd': {
      c.flags('CMD').parse();
      return { kind: 'cmd', ...base, ...commandLine(c) };
    }
    case 'entrypoint': {
      c.flags('ENTRYPOINT').parse();
      return { kind: 'entrypoint', ...base, ...commandLine(c) };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', ...base, health: healthcheck(c) };
    case 'expose': {
      if (args.length === 0) throw atLeastOne(c, 'EXPOSE');
      c.flags('EXPOSE').parse();
      return { kind: 'expose', ...base, ports: [...args].sort() };
    }
    case 'user': {
      if (args.length !== 1) throw exactlyOne(c, 'USER');
      c.flags('USER').parse();
      return { kind: 'user', ...base, user: args[0]! };
    }
    case 'volume': {
      if (args.length === 0) throw atLeastOne(c, 'VOLUME');
      c.flags('VOLUME').parse();
      const volumes = args.map((v) => v.trim());
      const empty = volumes.findIndex((v) => v === '');
      if (empty !== -1) throw c.error('INSTR_ARGUMENTS', 'VOLUME specified can not be an empty string', node.args[empty]!.range);
      return { kind: 'volume', ...base, volumes };
    }
    case 'stopsignal': {
      if (args.length !== 1) throw exactlyOne(c, 'STOPSIGNAL');
      // BuildKit declares no flags for STOPSIGNAL and does not parse them: mirrored.
      return { kind: 'stopsignal', ...base, signal: args[0]! };
    }
    case 'arg': {
      // BuildKit parses no flags for ARG (nor STOPSIGNAL): flags are ignored — mirrored.
      if (args.length < 1) throw atLeastOne(c, 'ARG');
      const defs: ArgDefinition[] = args.map((arg, i) => {
        const eq = arg.indexOf('=');
        if (eq === 0) throw c.error('INSTR_BLANK_NAME', 'ARG names can not be blank', node.args[i]!.range);
        const key = eq === -1 ? arg : arg.slice(0, eq);
        return { key, value: eq === -1 ? undefined : arg.slice(eq + 1), docComment: docComment(node.comments, key) };
      });
      return { kind: 'arg', ...base, args: defs };
    }
    case 'shell': {
      c.flags('SHELL').parse();
      const { cmdLine } = commandLine(c);
      if (cmdLine.length === 0) throw atLeastOne(c, 'SHELL');
      if (!node.json) {
        throw c.error('INSTR_SHELL_NOT_JSON', 'SHELL requires the arguments to be in JSON form', node.range, 'write SHELL ["/bin/sh", "-c"]');
      }
      return { kind: 'shell', ...base, shell: cmdLine };
    }
    default: {
      throw c.error(
        'INSTR_UNKNOWN_INSTRUCTION',
        `unknown instruction: ${node.keyword}`,
        node.keywordRange,
        didYouMean(node.keyword, INSTRUCTION_NAMES),
      );
    }
  }
}

function flagRange(c: Context, name: string): SourceRange {
  return c.node.flags.find((f) => f.name === name)?.range ?? c.node.range;
}

function healthcheck(c: Context): HealthConfig {
  const args = c.args;
  if (args.length === 0) throw atLeastOne(c, 'HEALTHCHECK');
  const typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) throw c.error('INSTR_HEALTHCHECK', 'HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  }
  const f = c.flags('HEALTHCHECK');
  const fInterval = f.string('interval');
  const fTimeout = f.string('timeout');
  const fStartPeriod = f.string('start-period');
  const fStartInterval = f.string('start-interval');
  const fRetries = f.string('retries');
  f.parse();
  if (typ !== 'CMD') {
    throw c.error('INSTR_HEALTHCHECK', `Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`, c.node.args[0]!.range);
  }
  const cmd = rest.length === 0 ? [] : c.node.json ? rest : [rest.join(' ')];
  if (cmd.length === 0) throw c.error('INSTR_HEALTHCHECK', 'Missing command after HEALTHCHECK CMD');
  const test = [c.node.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  const interval_ = interval(c, fInterval(), 'interval');
  const timeout = interval(c, fTimeout(), 'timeout');
  const startPeriod = interval(c, fStartPeriod(), 'start-period');
  const startInterval = interval(c, fStartInterval(), 'start-interval');
  let retries = 0;
  const r = fRetries();
  if (r !== '') {
    // strconv.ParseInt(r, 10, 32): int32 range, so -2147483648 parses (and is then negative).
    if (!/^[+-]?\d+$/.test(r) || Number(r) > 2147483647 || Number(r) < -2147483648) {
      throw c.error('INSTR_HEALTHCHECK', `strconv.ParseInt: parsing ${JSON.stringify(r)}: ${/^[+-]?\d+$/.test(r) ? 'value out of range' : 'invalid syntax'}`);
    }
    retries = Number(r);
    if (retries < 0) throw c.error('INSTR_HEALTHCHECK', `--retries cannot be negative (${retries})`);
  }
  return { test, interval: interval_, timeout, startPeriod, startInterval, retries };
}

export interface StagesResult extends Stages {
  readonly errors: readonly BuildImageError[];
}

/**
 * The whole file: stages and the global ARGs before the first FROM. Every instruction is
 * checked (not only the first failing one), so a person sees all mistakes at once.
 */
export function toStages(ast: DockerfileNode, options: InstructionOptions = {}): StagesResult {
  const stages: { from: FromInstruction; commands: Command[] }[] = [];
  const metaArgs: ArgInstruction[] = [];
  const errors: BuildImageError[] = [];
  for (const node of ast.instructions) {
    let ins: Instruction;
    try {
      ins = toInstruction(node, options);
    } catch (err) {
      if (err instanceof BuildImageError) {
        errors.push(err);
        continue;
      }
      throw err;
    }
    if (ins.kind === 'from') {
      stages.push({ from: ins, commands: [] });
    } else if (stages.length === 0) {
      if (ins.kind === 'arg') metaArgs.push(ins);
      else {
        errors.push(
          new BuildImageError('INSTR_NO_STAGE', 'no build stage in current context', {
            file: options.file,
            range: node.range,
            source: options.source,
            suggestion: `start the Dockerfile with FROM before ${node.keyword.toUpperCase()}`,
          }),
        );
      }
    } else {
      stages.at(-1)!.commands.push(ins);
    }
  }
  const result: Stage[] = stages.map((s, index) => ({
    index,
    from: s.from,
    name: s.from.name,
    baseName: s.from.baseName,
    platform: s.from.platform,
    commands: s.commands,
  }));
  return { stages: result, metaArgs, errors };
}
