/**
 * Errors of build-image: every error a user can cause carries a stable `code`, and where it
 * comes from a file, the file name, a 1-based line/column range, the source text to draw a
 * code frame from, and a suggestion when one exists.
 */

/** A position in a source text: 1-based line and column (in UTF-16 code units), 0-based offset. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** A range in a source text; `end` is exclusive (it points just past the last character). */
export interface SourceRange {
  readonly start: SourcePosition;
  readonly end: SourcePosition;
}

export interface ErrorDetails {
  /** The file the error is about (a Dockerfile, a .dockerignore …). */
  file?: string | undefined;
  /** Where in the file. */
  range?: SourceRange | undefined;
  /** The whole source text, used to print the code frame. */
  source?: string | undefined;
  /** "did you mean COPY?" and other hints a person can act on. */
  suggestion?: string | undefined;
  cause?: unknown;
}

/** The base class of every error build-image reports to its users. */
export class BuildImageError extends Error {
  override readonly name: string = 'BuildImageError';
  readonly code: string;
  readonly file: string | undefined;
  readonly range: SourceRange | undefined;
  readonly source: string | undefined;
  readonly suggestion: string | undefined;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.file = details.file;
    this.range = details.range;
    this.source = details.source;
    this.suggestion = details.suggestion;
  }

  /** The same error, attributed to a file (errors made by pure functions do not know it). */
  withFile(file: string): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(copy, this, { file });
    copy.message = this.message;
    copy.stack = this.stack;
    return copy;
  }

  /** `file:line:col` when known. */
  get location(): string {
    const parts: string[] = [];
    if (this.file !== undefined) parts.push(this.file);
    if (this.range !== undefined) parts.push(String(this.range.start.line), String(this.range.start.column));
    return parts.join(':');
  }

  /**
   * A multi-line report for people:
   *
   *     error INSTR_UNKNOWN_INSTRUCTION: unknown instruction: COPPY
   *       at Dockerfile:2:1 (line 2, column 1)
   *        1 | FROM scratch
   *     >  2 | COPPY a /a
   *          | ^^^^^
   *     hint: did you mean COPY?
   */
  format(): string {
    const lines = [`error ${this.code}: ${this.message}`];
    if (this.range !== undefined) {
      lines.push(`  at ${this.location} (line ${this.range.start.line}, column ${this.range.start.column})`);
    } else if (this.file !== undefined) lines.push(`  at ${this.file}`);
    if (this.source !== undefined && this.range !== undefined) lines.push(codeFrame(this.source, this.range));
    if (this.suggestion) lines.push(`hint: ${this.suggestion}`);
    return lines.join('\n');
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      file: this.file,
      range: this.range,
      suggestion: this.suggestion,
    };
  }
}

/**
 * Draws the lines of `range` (with one line of context before) and a marker under the
 * offending part: `^` under each character of the range on its first line.
 */
export function codeFrame(source: string, range: SourceRange, context = 1): string {
  const lines = source.split('\n');
  const first = Math.max(1, range.start.line - context);
  const last = Math.min(lines.length, Math.max(range.start.line, range.end.line));
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = (lines[n - 1] ?? '').replace(/\r$/, '');
    const inRange = n >= range.start.line && n <= range.end.line;
    out.push(`${inRange ? '>' : ' '} ${String(n).padStart(width)} | ${text}`);
    if (n === range.start.line) {
      const startCol = range.start.column;
      const endCol =
        range.end.line === n ? Math.max(range.end.column, startCol + 1) : Math.max(text.length + 1, startCol + 1);
      const pad = text.slice(0, startCol - 1).replace(/[^\t]/g, ' ');
      out.push(`  ${' '.repeat(width)} | ${pad}${'^'.repeat(endCol - startCol)}`);
    }
  }
  return out.join('\n');
}

/** Computes positions of offsets in a text; build once per text, query many times. */
export class LineIndex {
  private readonly starts: number[];

  constructor(readonly text: string) {
    const starts = [0];
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    this.starts = starts;
  }

  position(offset: number): SourcePosition {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1, offset };
  }

  range(start: number, end: number): SourceRange {
    return { start: this.position(start), end: this.position(end) };
  }

  /** Start offset of a 1-based line (the text length past the last line). */
  lineStart(line: number): number {
    return line - 1 < this.starts.length ? this.starts[line - 1]! : this.text.length;
  }

  get lineCount(): number {
    return this.starts.length;
  }
}
