/**
 * The Dockerfile AST: BuildKit's low-level node tree (frontend/dockerfile/parser.Node) with a
 * source range on every node. No variable expansion happens at this level; quotes are kept
 * except inside flags and JSON arrays, exactly as BuildKit keeps them.
 */
import type { SourceRange } from '../errors.js';

/** A parser directive from the top of the file (`# syntax=…`, `# escape=…`, `# check=…`). */
export interface DirectiveNode {
  readonly kind: 'directive';
  /** Lowercased key. */
  readonly name: string;
  readonly value: string;
  readonly range: SourceRange;
}

export interface CommentNode {
  readonly kind: 'comment';
  /** The text after `#`, trimmed. */
  readonly text: string;
  readonly range: SourceRange;
}

/** A `--name=value` flag, quotes and escape characters removed (`--from="a b"` → `--from=a b`). */
export interface FlagNode {
  readonly kind: 'flag';
  /** The flag as BuildKit keeps it, e.g. `--mount=type=cache,target=/x`. */
  readonly text: string;
  /** `mount` for `--mount=…`. */
  readonly name: string;
  /** The value after the first `=`, or undefined for a bare `--flag`. */
  readonly value: string | undefined;
  readonly range: SourceRange;
}

/** One argument: a value in BuildKit's `Next` chain. */
export interface ArgNode {
  readonly kind: 'arg';
  readonly value: string;
  readonly range: SourceRange;
}

export interface HeredocNode {
  readonly kind: 'heredoc';
  /** The terminator word (quotes removed). */
  readonly name: string;
  readonly fileDescriptor: number;
  /** False when the terminator was quoted: the body is not expanded. */
  readonly expand: boolean;
  /** `<<-`. */
  readonly chomp: boolean;
  /** The raw body lines, each with its line ending (the terminator line excluded). */
  readonly content: string;
  /** The body and the terminator line. */
  readonly range: SourceRange;
  /** Just the body. */
  readonly bodyRange: SourceRange;
}

export interface InstructionNode {
  readonly kind: 'instruction';
  /** The keyword as written (`from`, `FROM`, `From` …). */
  readonly keyword: string;
  /** The keyword lowercased: `from`, `run` … or any other word for an unknown instruction. */
  readonly name: string;
  readonly keywordRange: SourceRange;
  readonly flags: readonly FlagNode[];
  /**
   * The arguments as BuildKit splits them for this instruction (ENV and LABEL give triples
   * key, value, separator where the separator is `=` or `""` for the legacy `KEY value` form;
   * an unknown instruction has one empty argument).
   */
  readonly args: readonly ArgNode[];
  /** Exec form: the arguments came from a JSON array. */
  readonly json: boolean;
  readonly heredocs: readonly HeredocNode[];
  /** The instruction wrapped by ONBUILD. */
  readonly inner?: InstructionNode | undefined;
  /** The logical line: continuation characters and skipped lines removed. */
  readonly original: string;
  /** The comment lines just above (BuildKit's PrevComment), used as documentation. */
  readonly comments: readonly string[];
  /** From the keyword to the end of the last line it consumed (continuations, heredocs). */
  readonly range: SourceRange;
}

export interface ParseWarning {
  readonly code: string;
  readonly message: string;
  readonly range: SourceRange;
}

export interface DockerfileNode {
  readonly kind: 'dockerfile';
  readonly escape: '\\' | '`';
  readonly directives: readonly DirectiveNode[];
  readonly comments: readonly CommentNode[];
  readonly instructions: readonly InstructionNode[];
  /** From the first instruction's start to the last one's end. */
  readonly range: SourceRange;
  readonly warnings: readonly ParseWarning[];
}
