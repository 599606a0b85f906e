/**
 * Shared helpers for the instruction tests: text → instruction node → typed instruction, and
 * hand-built nodes for the cases BuildKit tests with nodes the parser cannot produce.
 */
import { expect } from 'vitest';
import { BuildImageError, type SourceRange } from '../../src/errors.js';
import { toInstruction, type Instruction } from '../../src/instructions/index.js';
import type { FlagNode, InstructionNode } from '../../src/syntax/ast.js';
import { parseDockerfile } from '../../src/syntax/parse.js';

export const NO_RANGE: SourceRange = {
  start: { line: 1, column: 1, offset: 0 },
  end: { line: 1, column: 1, offset: 0 },
};

/** An instruction node (the last by default) of a Dockerfile that must parse without errors. */
export function nodeOf(text: string, which: 'first' | 'last' = 'last'): InstructionNode {
  const r = parseDockerfile(text, { file: 'Dockerfile' });
  expect(r.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
  const node = which === 'first' ? r.ast!.instructions[0] : r.ast!.instructions.at(-1);
  if (node === undefined) throw new Error('no instruction');
  return node;
}

/** The typed form of the last instruction of `text`. */
export function instructionOf(text: string): Instruction {
  return toInstruction(nodeOf(text), { file: 'Dockerfile', source: text });
}

/** The BuildImageError toInstruction throws for the last instruction of `text`. */
export function instructionError(text: string): BuildImageError {
  return errorOf(() => instructionOf(text));
}

export function errorOf(f: () => unknown): BuildImageError {
  let thrown: unknown;
  try {
    f();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error('expected an error, got none');
  expect(thrown).toBeInstanceOf(BuildImageError);
  const e = thrown as BuildImageError;
  expect(e.code).toMatch(/^[A-Z]+_[A-Z_]+$/);
  return e;
}

/** A flag node as the parser would give it (`--name=value` or `--name`). */
export function flagNode(text: string): FlagNode {
  const body = text.startsWith('--') ? text.slice(2) : text;
  const eq = body.indexOf('=');
  return {
    kind: 'flag',
    text,
    name: eq === -1 ? body : body.slice(0, eq),
    value: eq === -1 ? undefined : body.slice(eq + 1),
    range: NO_RANGE,
  };
}

/** An instruction node built by hand, as BuildKit's tests build parser.Node values. */
export function handNode(
  name: string,
  args: readonly string[],
  options: { json?: boolean; original?: string; flags?: readonly string[] } = {},
): InstructionNode {
  return {
    kind: 'instruction',
    keyword: name,
    name: name.toLowerCase(),
    keywordRange: NO_RANGE,
    flags: (options.flags ?? []).map(flagNode),
    args: args.map((value) => ({ kind: 'arg', value, range: NO_RANGE })),
    json: options.json ?? false,
    heredocs: [],
    original: options.original ?? [name, ...args].join(' '),
    comments: [],
    range: NO_RANGE,
  };
}
