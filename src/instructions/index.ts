export * from './types.js';
export { toInstruction, toStages, INSTRUCTION_NAMES, type InstructionOptions, type StagesResult } from './parse.js';
export { parseMount, parseDevice, MountSyntaxError, type Mount, type MountType, type CacheSharing, type Device } from './mount.js';
export { parseGoDuration } from './go.js';
export { checkDockerfile, type CheckResult } from './check.js';
