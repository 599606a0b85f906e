/**
 * The Dockerfile shell lexer: variable expansion, quote removal and word splitting of
 * instruction arguments, as BuildKit does it in `frontend/dockerfile/shell/lex.go`
 * (moby/buildkit at 73ed6825c4b7569379ef89df0aedcdbe64473d31).
 *
 * This is not a POSIX shell: it knows `$NAME`, `${NAME}`, `${NAME:-w}` `${NAME-w}`
 * `${NAME:+w}` `${NAME+w}` `${NAME:?m}` `${NAME?m}`, the pattern operators `#` `##` `%` `%%`
 * `/` `//`, single and double quotes, and one escape character (`\` or, after
 * `# escape=\``, the backtick). Positional and special parameters (`$1`, `$@`, `$$` …) are
 * looked up like any other name and therefore expand to the empty string.
 *
 * The scanner works on Unicode code points, as Go's `text/scanner` works on runes.
 * Pure: no I/O. The only shared state is a cache of compiled patterns.
 */
import { BuildImageError } from '../errors.js';
import { goQuote } from '../goquote.js';

// ---------------------------------------------------------------------------------------------
// Public types

/** The variables visible to an expansion. Names are compared exactly (BuildKit on Linux). */
export interface ShellEnv {
  get(name: string): string | undefined;
  keys(): Iterable<string>;
}

/** A `ShellEnv` over a map, a plain object or `[name, value]` pairs (a later pair wins). */
export function envFrom(
  map: Map<string, string> | Record<string, string> | Iterable<[string, string]>,
): ShellEnv {
  let entries: Map<string, string>;
  if (map instanceof Map) {
    entries = new Map(map);
  } else if (Symbol.iterator in map) {
    entries = new Map(map as Iterable<[string, string]>);
  } else {
    // Own properties only: `constructor` or `__proto__` must not look like variables.
    entries = new Map(Object.entries(map));
  }
  return {
    get: (name) => entries.get(name),
    keys: () => entries.keys(),
  };
}

export interface ShellOptions {
  /** The escape character; `\` unless the Dockerfile says `# escape=\``. */
  escape?: '\\' | '`';
  /** Keep quote characters in the output. */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave `$UNSET` / `${UNSET…}` references as written (after processing their words). */
  skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
}

export interface WordResult {
  /** The expanded word, quotes removed. */
  result: string;
  /** Names that were looked up and found. */
  matched: Set<string>;
  /** Names that were looked up and not found (for the "undefined variable" lint). */
  unmatched: Set<string>;
}

// ---------------------------------------------------------------------------------------------
// Public functions

/** Expands one word (BuildKit's `ProcessWord` / `ProcessWordWithMatches`). No word splitting. */
export function processWord(word: string, env: ShellEnv, options?: ShellOptions): WordResult {
  return expandWord(word, env, resolve(options));
}

/**
 * Expands and splits into words (BuildKit's `ProcessWords`): splitting happens after expansion,
 * on whitespace that is neither quoted nor escaped.
 */
export function processWords(word: string, env: ShellEnv, options?: ShellOptions): string[] {
  return splitWords(word, env, resolve(options));
}

/** A lexer with fixed options, to reuse across many words. */
export class ShellLexer {
  private readonly options: Resolved;

  constructor(options?: ShellOptions) {
    this.options = resolve(options);
  }

  processWord(word: string, env: ShellEnv): WordResult {
    return expandWord(word, env, this.options);
  }

  processWords(word: string, env: ShellEnv): string[] {
    return splitWords(word, env, this.options);
  }
}

// ---------------------------------------------------------------------------------------------
// Implementation

interface Resolved {
  readonly escape: number;
  readonly escapeText: string;
  readonly rawQuotes: boolean;
  readonly rawEscapes: boolean;
  readonly skipUnsetEnv: boolean;
  readonly skipProcessQuotes: boolean;
}

const DEFAULTS: Resolved = resolveFresh(undefined);

function resolve(options: ShellOptions | undefined): Resolved {
  if (options === undefined) return DEFAULTS;
  return resolveFresh(options);
}

function resolveFresh(options: ShellOptions | undefined): Resolved {
  const escapeText = options?.escape ?? '\\';
  if (escapeText !== '\\' && escapeText !== '`') {
    throw new BuildImageError('SHELL_SYNTAX', `invalid escape character ${JSON.stringify(escapeText)}: use "\\" or "\`"`);
  }
  return {
    escape: escapeText.charCodeAt(0),
    escapeText,
    rawQuotes: options?.rawQuotes ?? false,
    rawEscapes: options?.rawEscapes ?? false,
    skipUnsetEnv: options?.skipUnsetEnv ?? false,
    skipProcessQuotes: options?.skipProcessQuotes ?? false,
  };
}

const EOF = -1;
const C_DOLLAR = 0x24; // $
const C_SQUOTE = 0x27; // '
const C_DQUOTE = 0x22; // "
const C_LT = 0x3c; // <
const C_LBRACE = 0x7b; // {
const C_RBRACE = 0x7d; // }
const C_COLON = 0x3a; // :
const C_SLASH = 0x2f; // /
const C_BACKSLASH = 0x5c; // \
const C_BOM = 0xfeff;

/** Words with none of these characters come out unchanged from `processWord`. */
const MAYBE_SPECIAL = /[$<'"\\`]/;

/** An error inside the scanner; `process` turns it into a `BuildImageError` naming the word. */
class LexFailure extends Error {
  constructor(
    readonly code: 'SHELL_SYNTAX' | 'SHELL_UNSET_REQUIRED',
    message: string,
  ) {
    super(message);
  }
}

function syntaxError(message: string): LexFailure {
  return new LexFailure('SHELL_SYNTAX', message);
}

function expandWord(word: string, env: ShellEnv, options: Resolved): WordResult {
  if (!MAYBE_SPECIAL.test(word) && word.charCodeAt(0) !== C_BOM) {
    return { result: word, matched: new Set(), unmatched: new Set() };
  }
  const sw = new ShellWord(word, env, options, true, false);
  const result = sw.run();
  return { result, matched: sw.matched ?? new Set(), unmatched: sw.unmatched ?? new Set() };
}

function splitWords(word: string, env: ShellEnv, options: Resolved): string[] {
  const sw = new ShellWord(word, env, options, false, true);
  sw.run();
  return sw.words;
}

/** Word-splitting state of one `processStopOn` call; the buffer itself lives in `ShellWord`. */
interface Words {
  words: string[];
  inWord: boolean;
}

/** One expansion of one word: a scanner over it plus the state BuildKit keeps in `shellWord`. */
class ShellWord {
  private pos: number;
  private readonly end: number;
  private rawEscapes: boolean;
  matched: Set<string> | undefined;
  unmatched: Set<string> | undefined;
  /** The words of the top-level call (words mode only). */
  words: string[] = [];
  /**
   * The partial word being built. BuildKit shares one buffer between the top-level call and the
   * nested calls that read the word of `${NAME<op>word}`, and every call starts by clearing it:
   * in words mode, whatever the current word held before a `${NAME:-…}`-style expansion is lost
   * (`ab${X:-c}d` splits to `cd`). Mirrored because it is what `docker build` does (EXPOSE, and
   * the parser's heredoc detection).
   */
  private wordBuf = '';

  constructor(
    private readonly src: string,
    private readonly env: ShellEnv,
    private readonly o: Resolved,
    private readonly capture: boolean,
    private readonly split: boolean,
  ) {
    this.end = src.length;
    // Go's text/scanner drops a byte order mark at the very start of its input.
    this.pos = src.charCodeAt(0) === C_BOM ? 1 : 0;
    this.rawEscapes = o.rawEscapes;
  }

  run(): string {
    try {
      return this.processStopOn(EOF, this.o.rawEscapes);
    } catch (error) {
      if (error instanceof LexFailure) {
        throw new BuildImageError(error.code, `failed to process ${goQuote(this.src)}: ${error.message}`);
      }
      throw error;
    }
  }

  // -- scanner ----------------------------------------------------------------------------------

  private peek(): number {
    return this.pos < this.end ? this.src.codePointAt(this.pos)! : EOF;
  }

  private next(): number {
    if (this.pos >= this.end) return EOF;
    const ch = this.src.codePointAt(this.pos)!;
    this.pos += ch > 0xffff ? 2 : 1;
    return ch;
  }

  // -- words ------------------------------------------------------------------------------------

  private addChar(w: Words, ch: number, text: string): void {
    if (isSpace(ch)) {
      if (w.inWord && this.wordBuf.length !== 0) {
        w.words.push(this.wordBuf);
        this.wordBuf = '';
        w.inWord = false;
      }
    } else {
      this.wordBuf += text;
      w.inWord = true;
    }
  }

  private addString(w: Words, text: string): void {
    for (let i = 0; i < text.length; ) {
      const ch = text.codePointAt(i)!;
      const n = ch > 0xffff ? 2 : 1;
      this.addChar(w, ch, text.slice(i, i + n));
      i += n;
    }
  }

  private addRawString(w: Words, text: string): void {
    this.wordBuf += text;
    w.inWord = true;
  }

  private getWords(w: Words): string[] {
    if (this.wordBuf.length > 0) {
      w.words.push(this.wordBuf);
      this.wordBuf = '';
      w.inWord = false;
    }
    return w.words;
  }

  // -- the lexer --------------------------------------------------------------------------------

  /** Reads up to `stop` (consumed) or the end of the word (`stop` = EOF). */
  private processStopOn(stop: number, rawEscapes: boolean): string {
    const src = this.src;
    const o = this.o;
    const escape = o.escape;
    const quotes = !o.skipProcessQuotes;
    let result = '';
    this.wordBuf = '';
    const w: Words | undefined = this.split ? { words: [], inWord: false } : undefined;
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.pos < this.end) {
        const c = src.charCodeAt(this.pos);
        if (c === stop) {
          this.pos++;
          if (w !== undefined) this.getWords(w);
          return result;
        }
        if (c === C_DOLLAR) {
          const tmp = this.processDollar();
          result += tmp;
          if (w !== undefined) this.addString(w, tmp);
          continue;
        }
        if (c === C_LT || (quotes && (c === C_SQUOTE || c === C_DQUOTE))) {
          const tmp =
            c === C_LT ? this.processPossibleHeredoc() : c === C_SQUOTE ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          if (w !== undefined) this.addRawString(w, tmp);
          continue;
        }
        if (c === escape) {
          this.pos++;
          if (this.rawEscapes) {
            if (w !== undefined) this.addRawString(w, o.escapeText);
            result += o.escapeText;
          }
          // The escape takes the next character literally; a lone escape at the end is dropped.
          const start = this.pos;
          if (this.next() === EOF) break;
          const text = src.slice(start, this.pos);
          if (w !== undefined) this.addRawString(w, text);
          result += text;
          continue;
        }
        // A run of ordinary characters.
        const start = this.pos;
        let i = start + 1;
        while (i < this.end) {
          const d = src.charCodeAt(i);
          if (d === stop || d === C_DOLLAR || d === C_LT || d === escape || (quotes && (d === C_SQUOTE || d === C_DQUOTE))) break;
          i++;
        }
        this.pos = i;
        const text = src.slice(start, i);
        result += text;
        if (w !== undefined) this.addString(w, text);
      }
      if (stop !== EOF) {
        throw syntaxError(`unexpected end of statement while looking for matching ${String.fromCharCode(stop)}`);
      }
      if (w !== undefined) this.words = this.getWords(w);
      return result;
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** `'…'`: everything literal up to the next single quote; it cannot be escaped. */
  private processSingleQuote(): string {
    const open = this.pos;
    const close = this.src.indexOf("'", open + 1);
    if (close === -1) {
      this.pos = this.end;
      throw syntaxError('unexpected end of statement while looking for matching single-quote');
    }
    this.pos = close + 1;
    return this.o.rawQuotes ? this.src.slice(open, close + 1) : this.src.slice(open + 1, close);
  }

  /**
   * `"…"`: literal except `$` expansions; the escape character escapes only `"`, `$` and itself
   * and stays literal before anything else.
   */
  private processDoubleQuote(): string {
    const src = this.src;
    const o = this.o;
    const escape = o.escape;
    this.pos++;
    let result = o.rawQuotes ? '"' : '';
    for (;;) {
      if (this.pos >= this.end) {
        throw syntaxError('unexpected end of statement while looking for matching double-quote');
      }
      const c = src.charCodeAt(this.pos);
      if (c === C_DQUOTE) {
        this.pos++;
        if (o.rawQuotes) result += '"';
        return result;
      }
      if (c === C_DOLLAR) {
        result += this.processDollar();
        continue;
      }
      if (c === escape) {
        this.pos++;
        if (this.rawEscapes) result += o.escapeText;
        if (this.pos >= this.end) continue; // reported as an unterminated quote above
        const d = src.charCodeAt(this.pos);
        if (d === C_DQUOTE || d === C_DOLLAR || d === escape) {
          this.pos++;
          result += src[this.pos - 1];
        } else {
          // Upstream writes the escape character itself here, so with rawEscapes
          // `"a\b"` becomes `"a\\b"`.
          result += o.escapeText;
        }
        continue;
      }
      const start = this.pos;
      let i = start + 1;
      while (i < this.end) {
        const d = src.charCodeAt(i);
        if (d === C_DQUOTE || d === C_DOLLAR || d === escape) break;
        i++;
      }
      this.pos = i;
      result += src.slice(start, i);
    }
  }

  /** `$NAME` or `${…}`, the scanner at the `$`. */
  private processDollar(): string {
    const o = this.o;
    this.pos++; // $

    if (this.peek() !== C_LBRACE) {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && o.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }

    this.pos++; // {
    const first = this.peek();
    if (first === EOF) throw syntaxError("syntax error: missing '}'");
    if (first === C_LBRACE || first === C_RBRACE || first === C_COLON) {
      throw syntaxError('syntax error: bad substitution');
    }
    const name = this.processName();
    let chs = this.nextText();
    const ch = chs.codePointAt(0)!;

    switch (chs) {
      case '}': {
        const value = this.getEnv(name);
        if (value === undefined && o.skipUnsetEnv) return `\${${name}}`;
        return value ?? '';
      }
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        let op: string = chs;
        const nullIsUnset = ch === C_COLON;
        if (nullIsUnset) {
          op = this.nextText();
          chs += op;
        }
        // The pattern of # and % keeps its escapes: they are part of the pattern.
        const rawEscapes = op === '#' || op === '%';
        if (nullIsUnset && rawEscapes) throw syntaxError(`unsupported modifier (${chs}) in substitution`);
        const word = this.stopOnOr(C_RBRACE, rawEscapes, "syntax error: missing '}'");

        const value = this.getEnv(name);
        const set = value !== undefined;
        // Upstream checks this before the operator, so `${UNSET:=x}` passes through too.
        if (o.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;

        switch (op) {
          case '-':
            return !set || (nullIsUnset && value === '') ? word : value;
          case '+':
            return !set || (nullIsUnset && value === '') ? '' : word;
          case '?':
            if (!set) {
              throw new LexFailure('SHELL_UNSET_REQUIRED', `${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
            }
            if (nullIsUnset && value === '') {
              throw new LexFailure('SHELL_UNSET_REQUIRED', `${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
            }
            return value;
          case '#':
          case '%': {
            // #/% remove the shortest match, ##/%% the longest.
            const greedy = word.startsWith(op);
            const pattern = greedy ? word.slice(1) : word;
            return op === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
          }
          default:
            throw syntaxError(`unsupported modifier (${chs}) in substitution`);
        }
      }
      case '/': {
        const replaceAll = this.peek() === C_SLASH;
        if (replaceAll) this.pos++;
        const pattern = this.stopOnOr(C_SLASH, true, "syntax error: missing '/' in ${}");
        const replacement = this.stopOnOr(C_RBRACE, true, "syntax error: missing '}'");

        const value = this.getEnv(name);
        // Upstream writes one slash here even for `//`.
        if (o.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;

        const re = compilePattern(pattern, true, false);
        const subject = value ?? '';
        if (replaceAll) return goReplaceAll(re, subject, replacement);
        re.lastIndex = 0;
        const m = re.exec(subject);
        if (m === null) return subject;
        // Only the first replacement is literal; `//` expands `$0`/`$$` (Go's ReplaceAllString).
        return subject.slice(0, m.index) + replacement + subject.slice(m.index + m[0].length);
      }
      default:
        throw syntaxError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  /**
   * `processStopOn`, but an error that leaves the scanner at the end of the word is reported
   * as the missing closing character instead.
   */
  private stopOnOr(stop: number, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes);
    } catch (error) {
      if (error instanceof LexFailure && this.pos >= this.end) throw syntaxError(missing);
      throw error;
    }
  }

  /** The next character as text; U+FFFD at the end (Go's `string(EOF)`). */
  private nextText(): string {
    const start = this.pos;
    if (this.next() === EOF) return '\uFFFD';
    return this.src.slice(start, this.pos);
  }

  /** A name: letters, digits and `_`; or all the digits at the start; or one special parameter. */
  private processName(): string {
    const start = this.pos;
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) break;
      if (this.pos === start) {
        if (isDigit(ch)) {
          this.next();
          while (isDigit(this.peek())) this.next();
          return this.src.slice(start, this.pos);
        }
        if (isSpecialParam(ch)) {
          this.next();
          return this.src.slice(start, this.pos);
        }
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== 0x5f) break;
      this.next();
    }
    return this.src.slice(start, this.pos);
  }

  /**
   * `<<` with the blanks after it stays together in one word, so the grammar can see
   * `<< EOF` as a heredoc marker; a single `<` is an ordinary character.
   */
  private processPossibleHeredoc(): string {
    this.pos++;
    if (this.peek() !== C_LT) return '<';
    this.pos++;
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (c !== 0x09 && c !== 0x0d && c !== 0x20) break;
      this.pos++;
    }
    return '<<' + this.src.slice(start, this.pos);
  }

  private getEnv(name: string): string | undefined {
    const value = this.env.get(name);
    if (this.capture) {
      if (value !== undefined) (this.matched ??= new Set()).add(name);
      else (this.unmatched ??= new Set()).add(name);
    }
    return value;
  }
}

// ---------------------------------------------------------------------------------------------
// Characters

/** Go's `unicode.IsSpace`. */
function isSpace(ch: number): boolean {
  if (ch < 0x100) return ch === 0x20 || (ch >= 0x09 && ch <= 0x0d) || ch === 0x85 || ch === 0xa0;
  return (
    ch === 0x1680 ||
    (ch >= 0x2000 && ch <= 0x200a) ||
    ch === 0x2028 ||
    ch === 0x2029 ||
    ch === 0x202f ||
    ch === 0x205f ||
    ch === 0x3000
  );
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** Go's `unicode.IsLetter`. */
function isLetter(ch: number): boolean {
  if (ch < 0x80) return (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a);
  return LETTER.test(String.fromCodePoint(ch));
}

/** Go's `unicode.IsDigit`. */
function isDigit(ch: number): boolean {
  if (ch < 0x80) return ch >= 0x30 && ch <= 0x39;
  if (ch === EOF) return false;
  return DIGIT.test(String.fromCodePoint(ch));
}

function isSpecialParam(ch: number): boolean {
  switch (ch) {
    case 0x40: // @
    case 0x2a: // *
    case 0x23: // #
    case 0x3f: // ?
    case 0x2d: // -
    case 0x24: // $
    case 0x21: // !
    case 0x30: // 0
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Patterns

const patternCache = new Map<string, RegExp>();
const PATTERN_CACHE_LIMIT = 512;

/**
 * Compiles a shell pattern the way BuildKit's `convertShellPatternToRegex` does: `*` is any
 * string (shortest unless `greedy`), `?` one character, `\*` `\?` `\\` literal, and `\}` `\/`
 * drop their backslash; any other escape is an error. There are no bracket expressions: `[`
 * and `]` are literal. "Any character" is Go's `.`, which does not match a newline.
 * Returned regexes carry the `g` flag: set `lastIndex` before use.
 */
function compilePattern(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const key = (anchored ? 'a' : 'u') + (greedy ? 'g' : 'l') + pattern;
  const cached = patternCache.get(key);
  if (cached !== undefined) return cached;

  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  // text/scanner, which upstream reads the pattern with, skips a leading byte order mark.
  let i = pattern.charCodeAt(0) === C_BOM ? 1 : 0;
  while (i < pattern.length) {
    const c = pattern.charCodeAt(i);
    if (c === 0x2a) {
      out += star;
      i++;
    } else if (c === 0x3f) {
      out += '[^\\n]';
      i++;
    } else if (c === C_BACKSLASH) {
      const d = pattern.charCodeAt(i + 1);
      if (d === C_RBRACE || d === C_SLASH) {
        i++;
        continue;
      }
      if (d !== 0x2a && d !== 0x3f && d !== C_BACKSLASH) {
        const bad = i + 1 < pattern.length ? String.fromCodePoint(pattern.codePointAt(i + 1)!) : '\uFFFD';
        throw syntaxError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${bad}'`);
      }
      out += '\\' + pattern[i + 1]!;
      i += 2;
    } else {
      if ('[]{}.+()|^$'.includes(pattern[i]!)) out += '\\';
      out += pattern[i]!;
      i++;
    }
  }
  const re = new RegExp(out, 'gu');
  if (patternCache.size >= PATTERN_CACHE_LIMIT) patternCache.clear();
  patternCache.set(key, re);
  return re;
}

/** Removes the shortest (or longest) prefix of `value` matching `pattern`. */
function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const re = compilePattern(pattern, greedy, true);
  re.lastIndex = 0;
  const m = re.exec(value);
  return m === null ? value : value.slice(m.index + m[0].length);
}

/**
 * Removes the shortest (or longest) suffix matching `pattern`: as upstream, by reversing both
 * the pattern (keeping `\x` pairs in order) and the value and trimming a prefix. An error
 * therefore names the reversed pattern.
 */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

function reverseString(text: string): string {
  return Array.from(text).reverse().join('');
}

function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = chars[i]!;
    if (tok === '\\' && i !== last) {
      out[last - i - 1] = tok;
      out[last - i] = chars[i + 1]!;
      i += 2;
    } else {
      out[last - i] = tok;
      i++;
    }
  }
  return out.join('');
}

/**
 * Go's `Regexp.ReplaceAllString`: an empty match right after a match is not replaced, and the
 * replacement is a template where `$0`/`${0}` is the match, `$$` a dollar, other `$names` empty.
 */
function goReplaceAll(re: RegExp, src: string, template: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (m === null) break;
    const a0 = m.index;
    const a1 = a0 + m[0].length;
    out += src.slice(lastMatchEnd, a0);
    if (a1 > lastMatchEnd || a0 === 0) out += expandTemplate(template, m[0]);
    lastMatchEnd = a1;
    const width = searchPos < src.length ? (src.codePointAt(searchPos)! > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > a1) searchPos += width;
    else if (searchPos + 1 > a1) searchPos++;
    else searchPos = a1;
  }
  return out + src.slice(lastMatchEnd);
}

/** Go's `Regexp.Expand` for a regex whose only group is the whole match. */
function expandTemplate(template: string, match: string): string {
  if (!template.includes('$')) return template;
  let out = '';
  let t = template;
  for (;;) {
    const idx = t.indexOf('$');
    if (idx === -1) break;
    out += t.slice(0, idx);
    t = t.slice(idx + 1);
    if (t.startsWith('$')) {
      out += '$';
      t = t.slice(1);
      continue;
    }
    const brace = t.startsWith('{');
    let i = brace ? 1 : 0;
    const nameStart = i;
    while (i < t.length) {
      const ch = t.codePointAt(i)!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== 0x5f) break;
      i += ch > 0xffff ? 2 : 1;
    }
    const name = t.slice(nameStart, i);
    if (name === '' || (brace && t.charCodeAt(i) !== C_RBRACE)) {
      out += '$'; // malformed: the dollar is literal text
      continue;
    }
    if (brace) i++;
    t = t.slice(i);
    // Group 0 is the match; no other group number or name exists, so they expand to nothing.
    if (name === '0') out += match;
  }
  return out + t;
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Go's `%q` (strconv.Quote) for the word named in error messages. */
