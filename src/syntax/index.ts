export * from './ast.js';
export { parseDockerfile, parseDockerfileOrThrow, type ParseOptions, type ParseResult } from './parse.js';
export { dumpDockerfile, dumpInstruction } from './dump.js';
export { goQuote } from '../goquote.js';
