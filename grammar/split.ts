/**
 * BuildKit's rules for splitting one logical Dockerfile line (frontend/dockerfile/parser:
 * split_command.go and line_parsers.go), re-expressed with source offsets so that every piece
 * of an instruction keeps its range. All functions are pure and work on the logical line, i.e.
 * the text after continuation characters and skipped lines were removed.
 *
 * Where BuildKit iterates bytes and so treats stray UTF-8 continuation bytes (0x85, 0xA0) as
 * spaces, we iterate code points: the same for every well-formed ASCII input.
 */
import { isGoSpace } from './tokens.js';

/** A piece of the logical line: its value and where its source text starts/ends in the line. */
export interface Piece {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

const WS = /[\t\v\f\r ]+/g;

function isWsByte(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c || c === 0x0d;
}

/** Go's strings.TrimSpace bounds (unicode.IsSpace). */
export function trimBounds(text: string, start = 0, end = text.length): [number, number] {
  while (start < end && isGoSpace(text.charCodeAt(start))) start++;
  while (end > start && isGoSpace(text.charCodeAt(end - 1))) end--;
  return [start, end];
}

/** Splits on runs of `[\t\v\f\r ]` (BuildKit's reWhitespace), like Go's regexp.Split(s, -1). */
export function splitWhitespace(text: string, start = 0, end = text.length): Piece[] {
  const out: Piece[] = [];
  let pieceStart = start;
  const slice = text.slice(start, end);
  WS.lastIndex = 0;
  for (let m = WS.exec(slice); m !== null; m = WS.exec(slice)) {
    out.push({ value: slice.slice(pieceStart - start, m.index), start: pieceStart, end: start + m.index });
    pieceStart = start + m.index + m[0].length;
  }
  out.push({ value: slice.slice(pieceStart - start), start: pieceStart, end });
  return out;
}

export interface SplitCommand {
  /** The instruction keyword as written (empty for an empty line). */
  readonly command: Piece;
  /** Flags with quotes and escape characters removed, e.g. `--from=a b`. */
  readonly flags: Piece[];
  /** Start/end of the arguments after the flags (trimmed). */
  readonly argsStart: number;
  readonly argsEnd: number;
}

/** splitCommand: the keyword, the leading `--flags`, and the trimmed rest. */
export function splitCommand(line: string, escape: number, start = 0, end = line.length): SplitCommand {
  const [s, e] = trimBounds(line, start, end);
  let i = s;
  while (i < e && !isWsByte(line.charCodeAt(i))) i++;
  const command: Piece = { value: line.slice(s, i), start: s, end: i };
  if (i >= e) return { command, flags: [], argsStart: e, argsEnd: e };
  let j = i;
  while (j < e && isWsByte(line.charCodeAt(j))) j++;
  const { flags, rest } = extractBuilderFlags(line, escape, j, e);
  const [as, ae] = trimBounds(line, rest, e);
  return { command, flags, argsStart: as, argsEnd: ae };
}

/**
 * extractBuilderFlags: leading words that start with `--`. Quotes group (and are removed),
 * the escape character is removed and keeps the next character, a bare `--` ends the flags
 * and is dropped. Returns where the arguments start.
 */
export function extractBuilderFlags(
  line: string,
  escape: number,
  start: number,
  end: number,
): { flags: Piece[]; rest: number } {
  const flags: Piece[] = [];
  let pos = start;
  for (;;) {
    while (pos < end && isGoSpace(line.charCodeAt(pos))) pos++;
    if (pos >= end) return { flags, rest: end };
    if (line.charCodeAt(pos) !== 0x2d || pos + 1 >= end || line.charCodeAt(pos + 1) !== 0x2d) {
      return { flags, rest: pos };
    }
    const wordStart = pos;
    let word = '';
    let blankOK = false;
    let quote = 0;
    let ended = false;
    while (pos < end) {
      const ch = line.codePointAt(pos)!;
      const w = ch > 0xffff ? 2 : 1;
      if (quote === 0) {
        if (isGoSpace(ch)) {
          ended = true;
          break;
        }
        if (ch === 0x27 || ch === 0x22) {
          quote = ch;
          blankOK = true;
          pos += w;
          continue;
        }
        if (ch === escape) {
          if (pos + 1 >= end) {
            pos += 1;
            continue; // an escape at the end is skipped
          }
          pos += 1;
          const next = line.codePointAt(pos)!;
          const nw = next > 0xffff ? 2 : 1;
          word += String.fromCodePoint(next);
          pos += nw;
          continue;
        }
        word += String.fromCodePoint(ch);
        pos += w;
      } else {
        if (ch === quote) {
          quote = 0;
          pos += w;
          continue;
        }
        if (ch === escape) {
          if (pos + 1 >= end) {
            pos += 1;
            quote = 0;
            continue;
          }
          pos += 1;
          const next = line.codePointAt(pos)!;
          word += String.fromCodePoint(next);
          pos += next > 0xffff ? 2 : 1;
          continue;
        }
        word += String.fromCodePoint(ch);
        pos += w;
      }
    }
    if (word === '--') {
      // The terminator: arguments start after it (for a terminator at the end, nothing follows).
      return { flags, rest: pos };
    }
    if (blankOK || word.length > 0) flags.push({ value: word, start: wordStart, end: pos });
    if (!ended) return { flags, rest: end };
  }
}

/**
 * parseWords: words separated by whitespace (unicode.IsSpace) where `'…'` and `"…"` group;
 * quote characters and escape characters are kept verbatim; an escape character at the very
 * end of the input is dropped. Used by ENV, LABEL and ARG.
 */
export function parseWords(text: string, escape: number, start = 0, end = text.length): Piece[] {
  // Quotes and escape characters are kept, so a word is exactly its source text: only its
  // bounds are found here. The one exception: an escape character at the very end of the input
  // is dropped.
  const words: Piece[] = [];
  let pos = start;
  while (pos < end) {
    while (pos < end && isGoSpace(text.codePointAt(pos)!)) pos += text.codePointAt(pos)! > 0xffff ? 2 : 1;
    if (pos >= end) break;
    const wordStart = pos;
    let quote = 0;
    while (pos < end) {
      const ch = text.codePointAt(pos)!;
      if (quote === 0 && isGoSpace(ch)) break;
      if (quote === 0 && (ch === 0x27 || ch === 0x22)) quote = ch;
      else if (quote !== 0 && ch === quote) quote = 0;
      if (ch === escape && (quote === 0 || quote !== 0x27)) {
        if (pos + 1 === end) break; // dropped: the escape at the end of the line
        pos += 1;
        pos += text.codePointAt(pos)! > 0xffff ? 2 : 1; // the escaped character is kept as is
        continue;
      }
      pos += ch > 0xffff ? 2 : 1;
    }
    if (pos > wordStart) words.push({ value: text.slice(wordStart, pos), start: wordStart, end: pos });
    if (pos + 1 === end && text.codePointAt(pos) === escape) pos = end;
  }
  return words;
}

export type JsonResult =
  | { kind: 'strings'; values: Piece[] }
  | { kind: 'not-strings' }
  | { kind: 'invalid' };

/**
 * parseJSON: the text (already trimmed) is exec form when it starts with `[` and decodes as a
 * JSON array. A valid array holding anything but strings is an error for the caller; anything
 * that is not valid JSON silently falls back to the shell form.
 */
export function parseJsonArray(text: string, start = 0, end = text.length): JsonResult {
  let s = start;
  while (s < end && isGoSpace(text.charCodeAt(s))) s++;
  if (text.charCodeAt(s) !== 0x5b) return { kind: 'invalid' };
  const source = text.slice(s, end);
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    return { kind: 'invalid' };
  }
  if (!Array.isArray(parsed)) return { kind: 'invalid' };
  if (!parsed.every((v) => typeof v === 'string')) {
    // Go decodes numbers into float64 and fails (falls back to shell form) when one overflows.
    if (hasOverflowingNumber(parsed)) return { kind: 'invalid' };
    return { kind: 'not-strings' };
  }
  const spans = topLevelStringSpans(source);
  const values = (parsed as string[]).map((value, i) => ({
    // Go turns invalid UTF-16 (lone surrogates from \u escapes) into U+FFFD.
    value: value.toWellFormed(),
    start: s + spans[i]![0],
    end: s + spans[i]![1],
  }));
  return { kind: 'strings', values };
}

function hasOverflowingNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(hasOverflowingNumber);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasOverflowingNumber);
  return false;
}

/** Offsets of the string literals that are direct elements of a valid JSON array of strings. */
function topLevelStringSpans(json: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = json.indexOf('[') + 1;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      const start = i;
      i++;
      while (i < json.length && json.charCodeAt(i) !== 0x22) i += json.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      spans.push([start, i]);
    } else if (c === 0x5d) break;
    else i++;
  }
  return spans;
}

/** parseHealthConfig's split: the first word (type) and where the command starts. */
export function splitFirstWord(text: string, start: number, end: number): { first: Piece; rest: number } | undefined {
  let sep = start;
  while (sep < end && !isGoSpace(text.charCodeAt(sep))) sep++;
  if (sep === start) return undefined;
  let next = sep;
  while (next < end && isGoSpace(text.charCodeAt(next))) next++;
  return { first: { value: text.slice(start, sep), start, end: sep }, rest: next };
}
