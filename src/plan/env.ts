/**
 * Ordered environments and the small formatting helpers the dispatch needs to write history
 * entries exactly as BuildKit does.
 */
import type { ShellEnv } from '../shell/lex.js';

/**
 * BuildKit's llb.EnvList: setting a key replaces its value and moves it to the end (the list
 * is ordered by the latest assignment of each key). Immutable: `set` returns a new list.
 */
export class EnvList implements ShellEnv {
  private constructor(private readonly map: ReadonlyMap<string, string>) {}

  static empty(): EnvList {
    return new EnvList(new Map());
  }

  static fromArray(env: readonly string[]): EnvList {
    let list = EnvList.empty();
    for (const kv of env) {
      const eq = kv.indexOf('=');
      list = list.set(eq === -1 ? kv : kv.slice(0, eq), eq === -1 ? '' : kv.slice(eq + 1));
    }
    return list;
  }

  set(key: string, value: string): EnvList {
    const map = new Map(this.map);
    map.delete(key);
    map.set(key, value);
    return new EnvList(map);
  }

  delete(key: string): EnvList {
    if (!this.map.has(key)) return this;
    const map = new Map(this.map);
    map.delete(key);
    return new EnvList(map);
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  toArray(): string[] {
    return [...this.map].map(([k, v]) => `${k}=${v}`);
  }
}

/** `addEnv`: replace KEY=… in place in an image's Env, or append. */
export function addEnv(env: readonly string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((kv) => (kv.indexOf('=') === -1 ? kv : kv.slice(0, kv.indexOf('='))) === key);
  if (i === -1) out.push(`${key}=${value}`);
  else out[i] = `${key}=${value}`;
  return out;
}

/** Go's fmt %v of a []string: `[a b c]`. */
export function goSlice(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}

/** Go's fmt %q of a []string: `["a" "b"]` (strconv.Quote per element). */
export function goQuotedSlice(values: readonly string[], quote: (s: string) => string): string {
  return `[${values.map(quote).join(' ')}]`;
}

/** Go's time.Duration.String() for nanoseconds: `0s`, `1.5s`, `500ms`, `1m30s`, `1h0m0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    // Sub-second: ns, µs or ms with a fraction.
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = trimFraction(u / div) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = trimFraction(u / 1e9) + 's';
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? '-' + out : out;
}

function trimFraction(n: number): string {
  const s = n.toFixed(9);
  return s.replace(/\.?0+$/, '');
}

/** The PATH BuildKit adds when an image has none (util/system.DefaultPathEnv on Linux). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
