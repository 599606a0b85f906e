/** The Dockerfile shell lexer: variable expansion, quote removal and word splitting. */
export { envFrom, processWord, processWords, ShellLexer } from './lex.js';
export type { ShellEnv, ShellOptions, WordResult } from './lex.js';
