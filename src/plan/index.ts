export * from './types.js';
export { planBuild, normalizeWorkdir, pathRelativeToWorkdir, type PlanOptions, type PlanResolvers, type ResolvedImage, type BuildContextSpec } from './plan.js';
export { formatPlan, type PlanFormat } from './format.js';
export { parsePorts } from './ports.js';
export { EnvList, goDuration } from './env.js';
