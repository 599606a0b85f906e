/**
 * Text → stages in one call: parse (syntax), then typed instructions, collecting every error.
 */
import type { BuildImageError } from '../errors.js';
import type { DockerfileNode } from '../syntax/ast.js';
import { parseDockerfile } from '../syntax/parse.js';
import { toStages } from './parse.js';
import type { Stages } from './types.js';

export interface CheckResult {
  readonly ast: DockerfileNode | undefined;
  readonly stages: Stages | undefined;
  /** Syntax errors first, then instruction errors, each in source order. */
  readonly errors: readonly BuildImageError[];
}

export function checkDockerfile(text: string, options: { file?: string | undefined } = {}): CheckResult {
  const parsed = parseDockerfile(text, options);
  if (parsed.ast === undefined) return { ast: undefined, stages: undefined, errors: parsed.errors };
  const staged = toStages(parsed.ast, { file: options.file, source: text });
  const errors = [...parsed.errors, ...staged.errors];
  return { ast: parsed.ast, stages: { stages: staged.stages, metaArgs: staged.metaArgs }, errors };
}
