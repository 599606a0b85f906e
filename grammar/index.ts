/**
 * The grammar's API: one lexer and one parser for the whole process; `parseGrammar` runs them
 * and returns tokens, the recognised shapes and any errors — it never throws for bad input.
 */
import { Lexer, type ILexingError, type IRecognitionException, type IToken } from 'chevrotain';
import { scanDirectives, type DirectiveScan } from './directives.js';
import { dockerfileParser, type FileShape } from './parser.js';
import { allTokens, setEscape } from './tokens.js';

export { createDockerfileParser, dockerfileParser } from './parser.js';
export type { FileShape, InstructionFamily, InstructionShape } from './parser.js';
export type { DirectiveInfo, DirectiveScan } from './directives.js';
export type { HeredocBodiesPayload, HeredocBodyPayload } from './tokens.js';
export type { HeredocMarker } from './heredoc.js';
export * as tokens from './tokens.js';
export * from './split.js';
export { findHeredocs, heredocMarkers, parseHeredocWord } from './heredoc.js';

let lexer: Lexer | undefined;

/** The process-wide lexer (built on first use). */
export function dockerfileLexer(): Lexer {
  lexer ??= new Lexer(allTokens as never, {
    positionTracking: 'onlyOffset',
    ensureOptimizations: true,
    skipValidations: true,
  });
  return lexer;
}

export interface GrammarResult {
  readonly text: string;
  readonly directives: DirectiveScan;
  readonly escape: '\\' | '`';
  /** Main-group tokens: what the parser saw. */
  readonly tokens: IToken[];
  /** Continuation tokens (escape + newline + skipped lines), outside the main group. */
  readonly continuations: IToken[];
  readonly shape: FileShape | undefined;
  readonly lexErrors: ILexingError[];
  readonly parseErrors: IRecognitionException[];
}

export function parseGrammar(text: string): GrammarResult {
  const directives = scanDirectives(text);
  setEscape(directives.escape);
  const lexed = dockerfileLexer().tokenize(text);
  const parser = dockerfileParser();
  parser.input = lexed.tokens;
  const shape = parser.dockerfile();
  return {
    text,
    directives,
    escape: directives.escape,
    tokens: lexed.tokens,
    continuations: (lexed.groups['continuations'] as IToken[] | undefined) ?? [],
    shape: parser.errors.length === 0 ? shape : undefined,
    lexErrors: lexed.errors,
    parseErrors: [...parser.errors],
  };
}
