/**
 * Instruction flags, declared then parsed, as BuildKit's instructions/bflag.go: bool flags
 * (`--link`, `--link=false`), string flags (`--from=x`, a value is required), repeatable
 * string flags (`--exclude=a --exclude=b`). A bare `--` ends the flags. Unknown flags are
 * errors naming the flag, the flags the instruction accepts, and the closest one.
 */
import { BuildImageError } from '../errors.js';
import { closest } from '../suggest.js';
import type { FlagNode } from '../syntax/ast.js';

type FlagType = 'bool' | 'string' | 'strings';

interface Declared {
  readonly type: FlagType;
  value: string;
  values: string[];
}

export class Flags {
  private readonly declared = new Map<string, Declared>();
  private readonly used = new Set<string>();
  private readonly order: string[] = [];

  constructor(
    private readonly given: readonly FlagNode[],
    /** The instruction, for messages (`COPY`). */
    private readonly instruction: string,
    private readonly error: (code: string, message: string, flag: FlagNode | undefined, suggestion?: string) => BuildImageError,
  ) {}

  bool(name: string, def = false): () => boolean {
    const d = this.declare(name, 'bool', def ? 'true' : 'false');
    return () => d.value === 'true';
  }

  string(name: string, def = ''): () => string {
    const d = this.declare(name, 'string', def);
    return () => d.value;
  }

  strings(name: string): () => string[] {
    const d = this.declare(name, 'strings', '');
    return () => d.values;
  }

  /** True when the flag was given (even with its default value). */
  isUsed(name: string): boolean {
    return this.used.has(name);
  }

  /** Names of the flags given, in order of first use. */
  usedNames(): string[] {
    return [...this.order];
  }

  private declare(name: string, type: FlagType, value: string): Declared {
    const d: Declared = { type, value, values: [] };
    this.declared.set(name, d);
    return d;
  }

  /** Applies the given flags; throws the first error. */
  parse(): void {
    for (const f of this.given) {
      const a = f.text;
      if (a === '--') return;
      if (!a.startsWith('--')) throw this.error('INSTR_BAD_FLAG', `arg should start with -- : ${a}`, f);
      const eq = a.indexOf('=');
      const flagName = eq === -1 ? a : a.slice(0, eq);
      const hasValue = eq !== -1;
      const value = hasValue ? a.slice(eq + 1) : '';
      const name = flagName.slice(2);
      const d = this.declared.get(name);
      if (d === undefined) {
        const allowed = [...this.declared.keys()].sort();
        const match = closest(name, allowed, true);
        const list = allowed.length === 0 ? `${this.instruction} accepts no flags` : `${this.instruction} accepts ${allowed.map((n) => '--' + n).join(', ')}`;
        throw this.error(
          'INSTR_UNKNOWN_FLAG',
          `unknown flag: ${flagName}${match !== undefined ? ` (did you mean --${match}?)` : ''}`,
          f,
          list,
        );
      }
      if (this.used.has(name) && d.type !== 'strings') {
        throw this.error('INSTR_DUPLICATE_FLAG', `duplicate flag specified: ${flagName}`, f);
      }
      if (!this.used.has(name)) this.order.push(name);
      this.used.add(name);
      switch (d.type) {
        case 'bool':
          if (hasValue && value === '') throw this.error('INSTR_FLAG_VALUE', `missing a value on flag: ${flagName}`, f);
          switch (value.toLowerCase()) {
            case 'true':
            case '':
              d.value = 'true';
              break;
            case 'false':
              d.value = 'false';
              break;
            default:
              throw this.error('INSTR_FLAG_VALUE', `expecting boolean value for flag ${flagName}, not: ${value}`, f);
          }
          break;
        case 'string':
          if (!hasValue) throw this.error('INSTR_FLAG_VALUE', `missing a value on flag: ${flagName}`, f, `write ${flagName}=<value>`);
          d.value = value;
          break;
        case 'strings':
          if (!hasValue) throw this.error('INSTR_FLAG_VALUE', `missing a value on flag: ${flagName}`, f, `write ${flagName}=<value>`);
          d.values.push(value);
          break;
      }
    }
  }
}
