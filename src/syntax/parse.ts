/**
 * Text → AST. The chevrotain grammar (grammar/) recognises lines, instructions, continuations,
 * comments, directives and heredocs; here each instruction's logical line is split with
 * BuildKit's per-instruction rules (grammar/split.ts) and every piece gets its source range.
 *
 * Pure: no I/O. Never throws for bad input — errors are returned as BuildImageErrors with a
 * stable code and a range.
 */
import type { IToken } from 'chevrotain';
import {
  findHeredocs,
  parseGrammar,
  parseJsonArray,
  parseWords,
  splitCommand,
  splitFirstWord,
  splitWhitespace,
  tokens as T,
  type HeredocBodiesPayload,
  type HeredocMarker,
  type InstructionShape,
  type Piece,
} from '../../grammar/index.js';
import { BuildImageError, LineIndex, type SourceRange } from '../errors.js';
import { goQuote } from '../goquote.js';
import type {
  ArgNode,
  CommentNode,
  DirectiveNode,
  DockerfileNode,
  FlagNode,
  HeredocNode,
  InstructionNode,
  ParseWarning,
} from './ast.js';

export interface ParseOptions {
  /** The file name used in error messages. */
  file?: string | undefined;
}

export interface ParseResult {
  /** The AST; undefined only when the text could not be parsed at all. */
  readonly ast: DockerfileNode | undefined;
  /** Every error found (BuildKit stops at the first; we keep going to report them all). */
  readonly errors: readonly BuildImageError[];
}

/** Instructions whose non-JSON form may carry heredocs. */
const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);

/** Maps offsets in an instruction's logical line back to the source. */
class LineMap {
  readonly text: string;
  private readonly logical: number[] = [];
  private readonly source: number[] = [];

  constructor(tokens: readonly IToken[], first: number, last: number) {
    let text = '';
    for (let i = first; i <= last; i++) {
      const t = tokens[i]!;
      this.logical.push(text.length);
      this.source.push(t.startOffset);
      text += t.image;
    }
    // BuildKit strips trailing \r (and \n) from each physical line.
    let end = text.length;
    while (end > 0 && text.charCodeAt(end - 1) === 0x0d) end--;
    this.text = end === text.length ? text : text.slice(0, end);
  }

  /** Source offset of a logical offset; `end` maps an exclusive end. */
  toSource(offset: number, end = false): number {
    if (this.logical.length === 0) return 0;
    const o = end && offset > 0 ? offset - 1 : offset;
    let lo = 0;
    let hi = this.logical.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.logical[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    const src = this.source[lo]! + (o - this.logical[lo]!);
    return end && offset > 0 ? src + 1 : src;
  }
}

class Builder {
  readonly errors: BuildImageError[] = [];
  readonly warnings: ParseWarning[] = [];
  readonly index: LineIndex;
  private readonly escapeCode: number;
  private nextContinuation = 0;

  constructor(
    readonly text: string,
    readonly file: string | undefined,
    escape: '\\' | '`',
  ) {
    this.index = new LineIndex(text);
    this.escapeCode = escape.charCodeAt(0);
  }

  range(start: number, end: number): SourceRange {
    // A range that ends just after a newline ends on the line before.
    let e = end;
    while (e > start && (this.text.charCodeAt(e - 1) === 0x0a || this.text.charCodeAt(e - 1) === 0x0d)) e--;
    return this.index.range(start, e);
  }

  error(code: string, message: string, range: SourceRange, suggestion?: string): void {
    this.errors.push(new BuildImageError(code, message, { file: this.file, range, source: this.text, suggestion }));
  }

  /** One instruction from its shape. */
  instruction(
    shape: InstructionShape,
    tokens: readonly IToken[],
    continuations: readonly IToken[],
    comments: string[],
  ): InstructionNode | undefined {
    const map = new LineMap(tokens, shape.first, shape.last);
    const line = map.text;
    const startOffset = tokens[shape.first]!.startOffset;
    const lineEndToken = shape.end;
    const lineEndOffset =
      lineEndToken !== undefined ? lineEndToken.startOffset : this.text.length;
    // The instruction ends with its last token, or a continuation (with skipped lines) after it.
    let endOffset = tokens[shape.last]!.startOffset + tokens[shape.last]!.image.length;
    let emptyContinuation = false;
    // Continuations come in source order, as instructions do: one cursor walks them all.
    while (this.nextContinuation < continuations.length) {
      const c = continuations[this.nextContinuation]!;
      if (c.startOffset >= lineEndOffset) break;
      this.nextContinuation++;
      if (c.startOffset < startOffset) continue;
      endOffset = Math.max(endOffset, c.startOffset + c.image.length);
      if (EMPTY_CONTINUATION_LINE.test(c.image)) emptyContinuation = true;
    }

    const node = this.fromLine(line, map, 0, line.length, comments) as InstructionNode | undefined;
    if (node === undefined) return undefined;

    // Heredocs: the bodies the lexer found after the line, or an unterminated marker at EOF.
    let heredocs: HeredocNode[] = [];
    if (lineEndToken?.tokenType === T.HeredocBodies) {
      const payload = lineEndToken.payload as HeredocBodiesPayload;
      const bodiesEnd = lineEndToken.startOffset + lineEndToken.image.length;
      if (payload.error !== undefined) {
        this.error('PARSE_HEREDOC', payload.error, this.range(startOffset, endOffset));
      } else if (payload.unterminated) {
        this.error(
          'PARSE_UNTERMINATED_HEREDOC',
          `unterminated heredoc: no line \`${payload.bodies.at(-1)!.marker.name}\` ends it`,
          this.range(startOffset, bodiesEnd),
        );
      }
      heredocs = payload.bodies
        .filter((b) => b.terminatorStart !== -1)
        .map((b) => heredocNode(this, b.marker, b.bodyStart, b.bodyEnd, b.terminatorEnd));
      endOffset = Math.max(endOffset, bodiesEnd);
    } else {
      const found = findHeredocs(line, HEREDOC_KEYWORDS, this.escapeCode);
      if (found !== undefined) {
        this.error(
          'PARSE_UNTERMINATED_HEREDOC',
          found.error ?? `unterminated heredoc: no line \`${found.markers[0]!.name}\` ends it`,
          this.range(startOffset, endOffset),
        );
      }
    }
    const range = this.range(startOffset, endOffset);
    if (emptyContinuation) {
      this.warnings.push({
        code: 'PARSE_EMPTY_CONTINUATION',
        message: `Empty continuation line found in: ${line}`,
        range,
      });
    }
    (node as { heredocs: readonly HeredocNode[] }).heredocs = heredocs;
    (node as { range: SourceRange }).range = range;
    return node;
  }

  /** newNodeFromLine: split a (sub)line into keyword, flags and arguments. */
  fromLine(
    line: string,
    map: LineMap,
    start: number,
    end: number,
    comments: readonly string[],
  ): InstructionNode | undefined {
    const split = splitCommand(line, this.escapeCode, start, end);
    const keyword = split.command.value;
    const name = keyword.toLowerCase();
    const src = (p: { start: number; end: number }) => {
      // An empty piece (ENV's legacy separator, an empty value, an unknown instruction's
      // argument) sits just after the character before it: mapped by its start, it could land
      // after a continuation, past its own end.
      const end = map.toSource(p.end, true);
      return this.range(p.start === p.end ? end : map.toSource(p.start), end);
    };
    const flags: FlagNode[] = split.flags.map((f) => {
      const body = f.value.slice(2);
      const eq = body.indexOf('=');
      return {
        kind: 'flag',
        text: f.value,
        name: eq === -1 ? body : body.slice(0, eq),
        value: eq === -1 ? undefined : body.slice(eq + 1),
        range: src(f),
      };
    });
    const { argsStart: as, argsEnd: ae } = split;
    const keywordRange = src(split.command);
    const whole = this.range(map.toSource(start), map.toSource(end, true));
    const fail = (code: string, message: string, at: SourceRange = whole) => {
      this.error(code, message, at);
      return undefined;
    };
    let args: Piece[] = [];
    let json = false;
    let inner: InstructionNode | undefined;

    const maybeJson = (s: number): boolean | undefined => {
      const r = parseJsonArray(line, s, ae);
      if (r.kind === 'strings') {
        args = r.values;
        return true;
      }
      if (r.kind === 'not-strings') return undefined;
      return false;
    };

    switch (name) {
      case 'run':
      case 'cmd':
      case 'entrypoint':
      case 'shell': {
        if (as === ae) break;
        const j = maybeJson(as);
        if (j === undefined) return fail('PARSE_JSON_NOT_STRINGS', NOT_STRINGS);
        json = j;
        if (!j) args = [{ value: line.slice(as, ae), start: as, end: ae }];
        break;
      }
      case 'copy':
      case 'add':
      case 'volume': {
        const j = as === ae ? false : maybeJson(as);
        if (j === undefined) return fail('PARSE_JSON_NOT_STRINGS', NOT_STRINGS);
        json = j;
        if (!j && as < ae) args = splitWhitespace(line, as, ae);
        break;
      }
      case 'from':
      case 'expose':
        if (as < ae) args = splitWhitespace(line, as, ae);
        break;
      case 'maintainer':
      case 'user':
      case 'workdir':
      case 'stopsignal':
        if (as < ae) args = [{ value: line.slice(as, ae), start: as, end: ae }];
        break;
      case 'arg':
        args = parseWords(line, this.escapeCode, as, ae);
        break;
      case 'env':
      case 'label': {
        const words = parseWords(line, this.escapeCode, as, ae);
        if (words.length === 0) break;
        const upper = name === 'env' ? 'ENV' : 'LABEL';
        if (!words[0]!.value.includes('=')) {
          // Legacy form `KEY value…`: the key, the rest verbatim, and an empty separator.
          const parts = splitWhitespaceN(line, as, ae);
          if (parts.length < 2) {
            return fail('PARSE_MISSING_VALUE', `${upper} must have two arguments`);
          }
          args = [parts[0]!, parts[1]!, { value: '', start: ae, end: ae }];
          break;
        }
        for (const w of words) {
          const eq = w.value.indexOf('=');
          if (eq === -1) {
            return fail(
              'PARSE_MISSING_EQUALS',
              `Syntax error - can't find = in ${goQuote(w.value)}. Must be of the form: name=value`,
              src(w),
            );
          }
          // Positions inside a word: the raw text and the value coincide (quotes are kept).
          args.push({ value: w.value.slice(0, eq), start: w.start, end: w.start + eq });
          args.push({ value: w.value.slice(eq + 1), start: w.start + eq + 1, end: w.end });
          args.push({ value: '=', start: w.start + eq, end: w.start + eq + 1 });
        }
        break;
      }
      case 'healthcheck': {
        const first = splitFirstWord(line, as, ae);
        if (first === undefined) break;
        args = [first.first];
        if (first.rest < ae) {
          const j = maybeJson(first.rest);
          if (j === undefined) return fail('PARSE_JSON_NOT_STRINGS', NOT_STRINGS);
          json = j;
          if (j) args = [first.first, ...args];
          else args = [first.first, { value: line.slice(first.rest, ae), start: first.rest, end: ae }];
        }
        break;
      }
      case 'onbuild': {
        if (as === ae) break;
        const child = this.fromLine(line, map, as, ae, []);
        if (child === undefined) return undefined;
        inner = child as InstructionNode;
        break;
      }
      default:
        // parseIgnore: any other word is kept with one empty argument (rejected later).
        args = [{ value: '', start: ae, end: ae }];
    }

    const node: InstructionNode = {
      kind: 'instruction',
      keyword,
      name,
      keywordRange,
      flags,
      args: args.map((a): ArgNode => ({ kind: 'arg', value: a.value, range: src(a) })),
      json,
      heredocs: [],
      inner,
      original: line.slice(start, end),
      comments,
      range: whole,
    };
    return node;
  }
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * A whitespace-only line skipped inside a continuation (BuildKit warns about these): between
 * two newlines, or blanks after the last newline at the end of the file.
 */
const GO_BLANK = '[ \\t\\v\\f\\r\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const EMPTY_CONTINUATION_LINE = new RegExp(`\\n${GO_BLANK}*\\n|\\n${GO_BLANK}+$`);

/** reWhitespace.Split(rest, 2). */
function splitWhitespaceN(line: string, start: number, end: number): Piece[] {
  const all = splitWhitespace(line, start, end);
  if (all.length <= 2) return all;
  return [all[0]!, { value: line.slice(all[1]!.start, end), start: all[1]!.start, end }];
}

function heredocNode(b: Builder, marker: HeredocMarker, bodyStart: number, bodyEnd: number, termEnd: number): HeredocNode {
  return {
    kind: 'heredoc',
    name: marker.name,
    fileDescriptor: marker.fileDescriptor,
    expand: marker.expand,
    chomp: marker.chomp,
    content: b.text.slice(bodyStart, bodyEnd),
    range: b.range(bodyStart, termEnd),
    bodyRange: b.range(bodyStart, bodyEnd),
  };
}


/**
 * BuildKit's PrevComment: the comment lines since the previous instruction (a bare `#` clears
 * them). BuildKit takes the line minus its first byte, trimmed: a comment indented by blanks
 * therefore keeps its `#` — mirrored.
 */
function commentText(text: string, tok: IToken): string {
  let lineStart = tok.startOffset;
  while (lineStart > 0 && text.charCodeAt(lineStart - 1) !== 0x0a) lineStart--;
  if (lineStart === 0 && text.charCodeAt(0) === 0xfeff) lineStart = 1;
  const lineText = text.slice(lineStart, tok.startOffset + tok.image.length);
  return lineText.slice(1).trim();
}

export function parseDockerfile(text: string, options: ParseOptions = {}): ParseResult {
  const g = parseGrammar(text);
  const b = new Builder(text, options.file, g.escape);

  if (g.directives.error !== undefined) {
    const { kind, message, directive: d } = g.directives.error;
    b.error(
      kind === 'invalid-escape' ? 'PARSE_INVALID_ESCAPE' : 'PARSE_DUPLICATE_DIRECTIVE',
      message,
      b.range(d.start, d.end),
      kind === 'invalid-escape' ? 'use `# escape=\\` or `# escape=`' + '`' : `remove the second \`# ${d.name}=\` line`,
    );
  }
  for (const e of g.lexErrors) {
    b.error('PARSE_SYNTAX', e.message, b.range(e.offset, e.offset + e.length));
  }
  for (const e of g.parseErrors) {
    const start = Number.isNaN(e.token.startOffset) ? text.length : e.token.startOffset;
    b.error('PARSE_SYNTAX', e.message, b.range(start, start + (e.token.image?.length ?? 0)));
  }
  if (g.shape === undefined) return { ast: undefined, errors: b.errors };

  const directives: DirectiveNode[] = g.directives.directives.map((d) => ({
    kind: 'directive',
    name: d.name,
    value: d.value,
    range: b.range(d.start, d.end),
  }));
  const comments: CommentNode[] = g.shape.comments.map((c) => ({
    kind: 'comment',
    text: c.image.slice(1).trim(),
    range: b.range(c.startOffset, c.startOffset + c.image.length),
  }));

  const instructions: InstructionNode[] = [];
  let ci = 0;
  const commentTokens = g.shape.comments;
  for (const shape of g.shape.instructions) {
    const start = g.tokens[shape.first]!.startOffset;
    let prev: string[] = [];
    for (; ci < commentTokens.length && commentTokens[ci]!.startOffset < start; ci++) {
      const t = commentText(text, commentTokens[ci]!);
      prev = t === '' ? [] : [...prev, t];
    }
    const node = b.instruction(shape, g.tokens, g.continuations, prev);
    if (node !== undefined) instructions.push(node);
  }

  if (instructions.length === 0 && b.errors.length === 0) {
    const end = text.length;
    b.error(
      'PARSE_NO_INSTRUCTIONS',
      'file with no instructions',
      b.range(Math.max(0, end - 1), end),
      'a Dockerfile needs at least a FROM instruction',
    );
  }
  const range =
    instructions.length > 0
      ? { start: instructions[0]!.range.start, end: instructions.at(-1)!.range.end }
      : b.index.range(0, 0);
  const ast: DockerfileNode = {
    kind: 'dockerfile',
    escape: g.escape,
    directives,
    comments,
    instructions,
    range,
    warnings: b.warnings,
  };
  return { ast, errors: b.errors };
}

/** Like parseDockerfile, but throws the first error. */
export function parseDockerfileOrThrow(text: string, options: ParseOptions = {}): DockerfileNode {
  const r = parseDockerfile(text, options);
  if (r.errors.length > 0) throw r.errors[0]!;
  return r.ast!;
}

