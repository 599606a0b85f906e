/**
 * build-image: build OCI images from Dockerfiles with no daemon.
 *
 * The public API (re-exports only). Stages of the data flow:
 * grammar → syntax (AST with ranges) → instructions (typed stages) → plan → execute,
 * over a content layer (image values, store, registry, OCI formats).
 */
export { BuildImageError, codeFrame, type SourcePosition, type SourceRange } from './errors.js';
export {
  parseDockerfile,
  parseDockerfileOrThrow,
  dumpDockerfile,
  type DockerfileNode,
  type InstructionNode,
  type ParseOptions,
  type ParseResult,
} from './syntax/index.js';
export { toStages, checkDockerfile, type Stage, type Stages, type Instruction, type Command, type CheckResult } from './instructions/index.js';
export { processWord, processWords, envFrom, type ShellEnv, type ShellOptions } from './shell/index.js';
export {
  build,
  planDockerfile,
  buildOptionsSchema,
  type BuildOptions,
  type BuildResult,
  type BuildOutput,
} from './build.js';
export type { BuildEvent, EventSink } from './events.js';
