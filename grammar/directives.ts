/**
 * Parser directives (`# syntax=…`, `# escape=…`, `# check=…`), read before the body as
 * BuildKit's DirectiveParser does: only in the unbroken block of `# key = value` lines at the
 * very top (leading blanks allowed); keys are case-insensitive; the first other line — blank,
 * comment, unknown key or instruction — ends the block; a repeated directive is an error, and
 * so is an escape other than `\` or `` ` ``.
 */
import { DIRECTIVE_KEYS, DIRECTIVE_RE } from './tokens.js';

export interface DirectiveInfo {
  /** Lowercased key. */
  readonly name: string;
  readonly value: string;
  /** 1-based line, and offsets of the line's text in the file. */
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

export interface DirectiveScan {
  readonly directives: DirectiveInfo[];
  readonly escape: '\\' | '`';
  readonly error?: { kind: 'duplicate' | 'invalid-escape'; message: string; directive: DirectiveInfo };
}

export function scanDirectives(text: string): DirectiveScan {
  const directives: DirectiveInfo[] = [];
  let escape: '\\' | '`' = '\\';
  const seen = new Set<string>();
  let offset = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; offset <= text.length; line++) {
    const nl = text.indexOf('\n', offset);
    const lineEnd = nl === -1 ? text.length : nl;
    let s = offset;
    while (s < lineEnd && /\s/.test(text[s]!)) s++;
    let e = lineEnd;
    while (e > s && (text[e - 1] === '\r' || text[e - 1] === '\n')) e--;
    const m = DIRECTIVE_RE.exec(text.slice(s, e));
    if (m === null || !DIRECTIVE_KEYS.has(m[1]!.toLowerCase())) break;
    const info: DirectiveInfo = { name: m[1]!.toLowerCase(), value: m[2]!, line, start: s, end: e };
    if (seen.has(info.name)) {
      return {
        directives,
        escape,
        error: { kind: 'duplicate', message: `only one ${info.name} parser directive can be used`, directive: info },
      };
    }
    seen.add(info.name);
    directives.push(info);
    if (info.name === 'escape') {
      if (info.value !== '\\' && info.value !== '`') {
        return {
          directives,
          escape,
          error: {
            kind: 'invalid-escape',
            message: `invalid escape token '${info.value}' does not match \` or \\`,
            directive: info,
          },
        };
      }
      escape = info.value;
    }
    if (nl === -1) break;
    offset = nl + 1;
  }
  return { directives, escape };
}
