/**
 * Heredoc markers on a logical line, as BuildKit finds them (parser.go: heredocsFromLine,
 * ParseHeredoc, heredocFromMatch):
 *
 * - only RUN, COPY and ADD (also when wrapped by ONBUILD) in non-JSON form carry heredocs;
 * - the whole line is split into shell words with raw quotes and raw escapes (BuildKit always
 *   uses `\` here, whatever the escape directive says), where `<<` followed by blanks joins
 *   the next word (`<< EOF` is one word);
 * - a word `N<<-WORD` (`^(\d*)<<(-?)\s*([^<]*)$`) is a heredoc; WORD must be a single shell
 *   word; when it is quoted in whole or in part, the body is not expanded.
 */
import { envFrom, processWords } from '../src/shell/lex.js';
import { extractBuilderFlags, parseJsonArray, trimBounds } from './split.js';

export interface HeredocMarker {
  /** The terminator word, quotes removed. */
  readonly name: string;
  /** File descriptor written before `<<` (0 when none). */
  readonly fileDescriptor: number;
  /** False when the terminator was quoted: the body is taken literally. */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped (from the terminator line; for COPY/ADD also the body). */
  readonly chomp: boolean;
}

const HEREDOC_RE = /^(\d*)<<(-?)\s*([^<]*)$/;
const EMPTY_ENV = envFrom(new Map());
const RAW_WORDS = { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true } as const;
const WORDS = { skipUnsetEnv: true } as const;

/** One word from heredocsFromLine: a marker, nothing, or an error message. */
export function parseHeredocWord(word: string): HeredocMarker | undefined {
  const m = HEREDOC_RE.exec(word);
  if (m === null) return undefined;
  const rest = m[3]!;
  if (rest.length === 0) return undefined;
  const words = processWords(rest, EMPTY_ENV, WORDS);
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, EMPTY_ENV, RAW_WORDS);
  if (raw.length !== words.length) {
    throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const name = words[0]!;
  const quotes = (s: string) => s.split(/['"]/).length - 1;
  return {
    name,
    fileDescriptor: m[1] ? Number.parseInt(m[1], 10) : 0,
    expand: quotes(name) === quotes(raw[0]!),
    chomp: m[2] === '-',
  };
}

/** heredocsFromLine: the markers of a logical line, in order. */
export function heredocMarkers(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = processWords(line, EMPTY_ENV, RAW_WORDS);
  } catch {
    return []; // BuildKit ignores a word-splitting error here
  }
  const out: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocWord(word);
    if (marker !== undefined) out.push(marker);
  }
  return out;
}

/**
 * The heredoc markers of a logical instruction line, or undefined when the line cannot carry
 * heredocs (wrong instruction, JSON form, no `<<`). `keywords` are the lowercase instructions
 * that may carry them; `escape` is the file's escape character (for flags). An error from parsing a marker is reported, not thrown.
 */
export function findHeredocs(
  line: string,
  keywords: ReadonlySet<string>,
  escape: number,
): { markers: HeredocMarker[]; error?: string } | undefined {
  if (!line.includes('<<')) return undefined;
  // The command word, and for ONBUILD the wrapped command after ONBUILD's own flags.
  let [s, e] = trimBounds(line);
  let cmdEnd = s;
  while (cmdEnd < e && !/[\t\v\f\r ]/.test(line[cmdEnd]!)) cmdEnd++;
  let command = line.slice(s, cmdEnd).toLowerCase();
  let argsStart = extractBuilderFlags(line, escape, skipWs(line, cmdEnd, e), e).rest;
  if (command === 'onbuild') {
    [s, e] = trimBounds(line, argsStart, e);
    cmdEnd = s;
    while (cmdEnd < e && !/[\t\v\f\r ]/.test(line[cmdEnd]!)) cmdEnd++;
    command = line.slice(s, cmdEnd).toLowerCase();
    argsStart = extractBuilderFlags(line, escape, skipWs(line, cmdEnd, e), e).rest;
  }
  if (!keywords.has(command)) return undefined;
  if (parseJsonArray(line, argsStart, e).kind === 'strings') return undefined;
  try {
    const markers = heredocMarkers(line);
    return markers.length === 0 ? undefined : { markers };
  } catch (err) {
    return { markers: [], error: (err as Error).message };
  }
}

function skipWs(line: string, i: number, end: number): number {
  while (i < end && /[\t\v\f\r ]/.test(line[i]!)) i++;
  return i;
}
