/**
 * Tokens of the Dockerfile grammar.
 *
 * Dockerfiles are line-oriented, and BuildKit's parser (frontend/dockerfile/parser) works on
 * physical lines: it strips comments, joins continuation lines, then splits each logical line
 * with per-instruction rules. The tokens below reproduce that line structure exactly, so the
 * parser sees each instruction as its *logical* line:
 *
 * - `Continuation` (the escape character at the end of a line, plus any comment or blank lines
 *   that follow it, which BuildKit skips inside a continuation) is lexed into a separate group,
 *   so the parser never sees it and the images of the remaining tokens of an instruction
 *   concatenate to exactly BuildKit's logical line.
 * - `Comment` is a line whose first non-blank character is `#`; `#` elsewhere is text.
 * - `Directive` is a `# key=value` line in the block of such lines at the very top.
 * - `HeredocBodies` is the newline that ends a RUN/COPY/ADD line holding heredoc markers
 *   together with the heredoc bodies that follow it (its payload describes them).
 *
 * The escape character (`\` or `` ` ``, set by the `# escape=` directive) changes how lines are
 * lexed. Rather than build one lexer per escape character, the escape-dependent tokens are
 * custom patterns that read `lexState.escape`, which `tokenize()` sets before each run.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { findHeredocs, type HeredocMarker } from './heredoc.js';

/** Per-run lexer state (the lexer is synchronous, so one module-level state is safe). */
export const lexState = {
  escape: '\\' as '\\' | '`',
  escapeCode: 0x5c,
};

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;

/** Character codes Go's unicode.IsSpace accepts (BuildKit trims and skips with it). */
export function isGoSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

type CustomMatch = RegExpExecArray & { payload?: unknown };

function match(image: string, payload?: unknown): CustomMatch {
  const m = [image] as unknown as CustomMatch;
  if (payload !== undefined) m.payload = payload;
  return m;
}

/** End offset of the physical line starting at or containing `offset` (the index of its '\n' or text end). */
function lineEnd(text: string, offset: number): number {
  const i = text.indexOf('\n', offset);
  return i === -1 ? text.length : i;
}

// ---------------------------------------------------------------------------------------------
// Whitespace, newlines and text

export const Newline = createToken({ name: 'Newline', pattern: /\r*\n/, line_breaks: true, label: 'newline' });

export const Whitespace = createToken({
  name: 'Whitespace',
  pattern: /[ \t\v\f\r]+/,
  label: 'whitespace',
});

/** Category of every token that is plain text inside an instruction's arguments. */
export const Text = createToken({ name: 'Text', pattern: Lexer.NA });

/**
 * The code units that can start a Word (chevrotain cannot analyse a complement set). Chevrotain
 * looks patterns up by first character, with every code unit above 255 in a bucket of 255
 * (lexer.js charCodeToOptimizedIndex), so one representative per bucket is enough there.
 */
const WORD_START: number[] = [];
for (let c = 0; c <= 0xff; c++) {
  if (c !== 0x20 && c !== 0x09 && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0x0a && c !== 0x5c && c !== 0x60) {
    WORD_START.push(c);
  }
}
for (let c = 0x100; c <= 0xffff; c++) if (c === 0x100 || Math.floor(c / 255) !== Math.floor((c - 1) / 255)) WORD_START.push(c);

/** A run of ordinary characters (no whitespace, no escape characters). */
export const Word = createToken({
  name: 'Word',
  pattern: /[^ \t\v\f\r\n\\`]+/,
  start_chars_hint: WORD_START,
  categories: [Text],
  label: 'word',
});

// ---------------------------------------------------------------------------------------------
// Escape-character tokens

/**
 * The escape character at the end of a physical line (only spaces or tabs after it), unless
 * the character before it is also the escape character — BuildKit's line-continuation regex
 * `([^\\])\\[ \t]*$|^\\[ \t]*$`. It swallows the comment lines and whitespace-only lines that
 * follow, as BuildKit skips them without ending the continuation.
 */
function matchContinuation(text: string, offset: number): CustomMatch | null {
  if (text.charCodeAt(offset) !== lexState.escapeCode) return null;
  if (offset > 0 && text.charCodeAt(offset - 1) === lexState.escapeCode) return null;
  let i = offset + 1;
  while (i < text.length && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  while (i < text.length && text.charCodeAt(i) === CR) i++;
  if (i < text.length && text.charCodeAt(i) !== NL) return null;
  if (i < text.length) i++; // the newline
  // Skipped lines: comments (first non-blank is '#') and whitespace-only lines.
  for (;;) {
    if (i >= text.length) break;
    const end = lineEnd(text, i);
    let j = i;
    while (j < end && isGoSpace(text.charCodeAt(j))) j++;
    if (j === end || text.charCodeAt(j) === HASH) {
      i = end < text.length ? end + 1 : end;
      continue;
    }
    break;
  }
  return match(text.slice(offset, i));
}

export const Continuation = createToken({
  name: 'Continuation',
  pattern: { exec: matchContinuation },
  line_breaks: true,
  start_chars_hint: ['\\', '`'],
  group: 'continuations',
  label: 'line continuation',
});

/** The escape character and the character it escapes (or alone, at the end of a line). */
function matchEscape(text: string, offset: number): CustomMatch | null {
  if (text.charCodeAt(offset) !== lexState.escapeCode) return null;
  const next = text.charCodeAt(offset + 1);
  if (Number.isNaN(next) || next === NL || next === CR) return match(text[offset]!);
  // Keep surrogate pairs whole.
  const width = next >= 0xd800 && next <= 0xdbff ? 3 : 2;
  return match(text.slice(offset, offset + width));
}

export const Escape = createToken({
  name: 'Escape',
  pattern: { exec: matchEscape },
  line_breaks: false,
  start_chars_hint: ['\\', '`'],
  categories: [Text],
  label: 'escaped character',
});

/** `\` or `` ` `` when it is not the escape character: ordinary text. */
export const OtherEscapeChar = createToken({
  name: 'OtherEscapeChar',
  pattern: /[\\`]/,
  categories: [Text],
  label: 'character',
});

// ---------------------------------------------------------------------------------------------
// Line-start tokens: comments and directives

/** True when `offset` is the first non-blank position of its physical line. */
function atLineStart(tokens: IToken[]): boolean {
  let i = tokens.length - 1;
  if (i >= 0 && tokens[i]!.tokenType === Whitespace) i--;
  if (i < 0) return true;
  const t = tokens[i]!.tokenType;
  return t === Newline || t === HeredocBodies || t === Directive || t === Comment;
}

export const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
export const DIRECTIVE_KEYS = new Set(['syntax', 'escape', 'check']);

/**
 * A parser directive: `# key = value` with a known key, in the unbroken block of such lines at
 * the top of the file (BuildKit's DirectiveParser: the first other line — blank, comment,
 * unknown key or instruction — ends the block for good).
 */
function matchDirective(text: string, offset: number, tokens: IToken[]): CustomMatch | null {
  if (text.charCodeAt(offset) !== HASH) return null;
  let i = tokens.length - 1;
  if (i >= 0 && tokens[i]!.tokenType === Whitespace) i--;
  if (i >= 0) {
    if (tokens[i]!.tokenType !== Newline || i === 0 || tokens[i - 1]!.tokenType !== Directive) return null;
    // A whitespace-only line would have produced Whitespace before the Newline.
  }
  let end = lineEnd(text, offset);
  while (end > offset && text.charCodeAt(end - 1) === CR) end--;
  const line = text.slice(offset, end);
  const m = DIRECTIVE_RE.exec(line);
  if (m === null || !DIRECTIVE_KEYS.has(m[1]!.toLowerCase())) return null;
  return match(line);
}

export const Directive = createToken({
  name: 'Directive',
  pattern: { exec: matchDirective },
  line_breaks: false,
  start_chars_hint: ['#'],
  label: 'parser directive',
});

function matchComment(text: string, offset: number, tokens: IToken[]): CustomMatch | null {
  if (text.charCodeAt(offset) !== HASH || !atLineStart(tokens)) return null;
  let end = lineEnd(text, offset);
  while (end > offset && text.charCodeAt(end - 1) === CR) end--;
  return match(text.slice(offset, end));
}

export const Comment = createToken({
  name: 'Comment',
  pattern: { exec: matchComment },
  line_breaks: false,
  start_chars_hint: ['#'],
  label: 'comment',
});

// ---------------------------------------------------------------------------------------------
// Heredocs

/** What the lexer found after a line with heredoc markers. */
export interface HeredocBodyPayload {
  readonly marker: HeredocMarker;
  /** Offset of the first body line and of the end of the body (the terminator line's start). */
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** Offsets of the terminator line (its end excludes the newline); -1 when unterminated. */
  readonly terminatorStart: number;
  readonly terminatorEnd: number;
}

export interface HeredocBodiesPayload {
  readonly bodies: readonly HeredocBodyPayload[];
  /** True when the input ended before a terminator line was found. */
  readonly unterminated: boolean;
  /** The error BuildKit's heredoc word parsing reported, if any. */
  readonly error?: string;
}

/** Keywords whose non-JSON form may carry heredocs (ONBUILD when wrapping one of them). */
const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);

/**
 * The logical line (BuildKit's joined line) ending at the current position: the images of
 * the main-group tokens since the previous line end, without the leading whitespace.
 */
function currentLogicalLine(tokens: IToken[]): string | undefined {
  let i = tokens.length - 1;
  let sawHeredocMarker = false;
  for (; i >= 0; i--) {
    const t = tokens[i]!;
    const type = t.tokenType;
    if (type === Newline || type === HeredocBodies || type === Comment || type === Directive) break;
    if (!sawHeredocMarker && t.image.includes('<<')) sawHeredocMarker = true;
  }
  if (!sawHeredocMarker) return undefined;
  let start = i + 1;
  if (start < tokens.length && tokens[start]!.tokenType === Whitespace) start++;
  let line = '';
  for (let k = start; k < tokens.length; k++) line += tokens[k]!.image;
  return line;
}

function matchHeredocBodies(text: string, offset: number, tokens: IToken[]): CustomMatch | null {
  const c = text.charCodeAt(offset);
  if (c !== NL && c !== CR) return null;
  const line = currentLogicalLine(tokens);
  if (line === undefined) return null;
  const found = findHeredocs(line, HEREDOC_KEYWORDS, lexState.escapeCode);
  if (found === undefined) return null;
  // The newline that ends the instruction line.
  let i = offset;
  while (i < text.length && text.charCodeAt(i) === CR) i++;
  if (i < text.length && text.charCodeAt(i) === NL) i++;
  if (found.error !== undefined) {
    return match(text.slice(offset, i), { bodies: [], unterminated: false, error: found.error } satisfies HeredocBodiesPayload);
  }
  const bodies: HeredocBodyPayload[] = [];
  let unterminated = false;
  for (const marker of found.markers) {
    const bodyStart = i;
    let terminatorStart = -1;
    let terminatorEnd = -1;
    while (i < text.length) {
      const end = lineEnd(text, i);
      // BuildKit compares the line without its trailing \r\n (and leading tabs with <<-).
      let s = i;
      let e = end;
      while (e > s && (text.charCodeAt(e - 1) === CR || text.charCodeAt(e - 1) === NL)) e--;
      if (marker.chomp) while (s < e && text.charCodeAt(s) === TAB) s++;
      const next = end < text.length ? end + 1 : end;
      if (text.slice(s, e) === marker.name) {
        terminatorStart = i;
        terminatorEnd = end;
        i = next;
        break;
      }
      i = next;
    }
    if (terminatorStart === -1) {
      unterminated = true;
      bodies.push({ marker, bodyStart, bodyEnd: i, terminatorStart: -1, terminatorEnd: -1 });
      break;
    }
    bodies.push({ marker, bodyStart, bodyEnd: terminatorStart, terminatorStart, terminatorEnd });
  }
  return match(text.slice(offset, i), { bodies, unterminated } satisfies HeredocBodiesPayload);
}

export const HeredocBodies = createToken({
  name: 'HeredocBodies',
  pattern: { exec: matchHeredocBodies },
  line_breaks: true,
  start_chars_hint: ['\n', '\r'],
  label: 'heredoc bodies',
});

// ---------------------------------------------------------------------------------------------
// Flags and JSON punctuation (both are also plain text where they are not flags/JSON)

/** A word starting with `--`: a flag where it follows the instruction keyword. */
export const Flag = createToken({
  name: 'Flag',
  pattern: /--[^ \t\v\f\r\n\\`]*/,
  categories: [Text],
  label: '--flag[=value]',
});

export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, categories: [Text], label: '[' });

// ---------------------------------------------------------------------------------------------
// Keywords: case-insensitive, only a keyword when a whole word (longer_alt: Word), and text
// everywhere else (category Text).

function keyword(name: string): TokenType {
  return createToken({
    name: name[0] + name.slice(1).toLowerCase(),
    pattern: new RegExp(name, 'i'),
    longer_alt: [Flag, Word],
    categories: [Text],
    label: name,
  });
}

export const From = keyword('FROM');
export const Run = keyword('RUN');
export const Cmd = keyword('CMD');
export const Label = keyword('LABEL');
export const Maintainer = keyword('MAINTAINER');
export const Expose = keyword('EXPOSE');
export const Env = keyword('ENV');
export const Add = keyword('ADD');
export const Copy = keyword('COPY');
export const Entrypoint = keyword('ENTRYPOINT');
export const Volume = keyword('VOLUME');
export const User = keyword('USER');
export const Workdir = keyword('WORKDIR');
export const Arg = keyword('ARG');
export const Onbuild = keyword('ONBUILD');
export const Stopsignal = keyword('STOPSIGNAL');
export const Healthcheck = keyword('HEALTHCHECK');
export const Shell = keyword('SHELL');

export const keywordTokens: readonly TokenType[] = [
  // Longer keywords that share a prefix with shorter ones come first.
  Entrypoint,
  Env,
  Expose,
  From,
  Run,
  Cmd,
  Copy,
  Label,
  Maintainer,
  Add,
  Arg,
  Volume,
  User,
  Workdir,
  Onbuild,
  Stopsignal,
  Healthcheck,
  Shell,
];

/** A UTF-8 byte order mark at the very start of the file (BuildKit discards it). */
export const ByteOrderMark = createToken({
  name: 'ByteOrderMark',
  pattern: { exec: (text: string, offset: number) => (offset === 0 && text.charCodeAt(0) === 0xfeff ? match('\ufeff') : null) },
  start_chars_hint: ['\ufeff'],
  line_breaks: false,
  group: Lexer.SKIPPED,
});

/** All tokens, in matching order. */
export const allTokens: readonly TokenType[] = [
  ByteOrderMark,
  HeredocBodies,
  Newline,
  Whitespace,
  Directive,
  Comment,
  Continuation,
  Escape,
  OtherEscapeChar,
  ...keywordTokens,
  Flag,
  LBracket,
  Word,
  Text,
];

/** Sets the escape character for the next tokenize() run. */
export function setEscape(escape: '\\' | '`'): void {
  lexState.escape = escape;
  lexState.escapeCode = escape.charCodeAt(0);
}
