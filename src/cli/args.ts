/**
 * A small command-line parser: declared options (docker build's names), `--name=value` and
 * `--name value`, short aliases, repeatable options, `--` to end options, and unknown options
 * rejected with the closest known one suggested.
 */
import { BuildImageError } from '../errors.js';
import { didYouMean } from '../suggest.js';

export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: 'boolean' | 'string' | 'strings';
  readonly value?: string;
  readonly description: string;
}

export interface ParsedArgs {
  readonly options: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options: Record<string, string | boolean | string[] | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      inline = eq === -1 ? undefined : a.slice(eq + 1);
      spec = byName.get(name);
      if (spec === undefined) {
        throw new BuildImageError('CLI_UNKNOWN_FLAG', `unknown flag: --${name} for '${command}'`, {
          suggestion:
            didYouMean(name, [...byName.keys()], true)?.replace('mean ', 'mean --') ?? `run 'build-image ${command} --help'`,
        });
      }
    } else if (a.startsWith('-') && a.length > 1) {
      spec = byShort.get(a.slice(1, 2));
      if (spec === undefined) {
        throw new BuildImageError('CLI_UNKNOWN_FLAG', `unknown shorthand flag: '${a.slice(1, 2)}' in ${a}`, {
          suggestion: `run 'build-image ${command} --help'`,
        });
      }
      if (a.length > 2) inline = a.slice(2).replace(/^=/, '');
    } else {
      positionals.push(a);
      continue;
    }
    if (spec.type === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) {
        throw new BuildImageError('CLI_BAD_FLAG', `invalid value "${inline}" for --${spec.name}: expected true or false`);
      }
      options[spec.name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) {
        throw new BuildImageError('CLI_BAD_FLAG', `flag needs an argument: --${spec.name}`);
      }
      value = argv[++i]!;
    }
    if (spec.type === 'strings') options[spec.name] = [...((options[spec.name] as string[] | undefined) ?? []), value];
    else options[spec.name] = value;
  }
  return { options, positionals };
}

export function optionsHelp(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'boolean' ? '' : ` ${s.value ?? 'string'}`}`;
    return [flag, s.description + (s.type === 'strings' ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`).join('\n');
}
