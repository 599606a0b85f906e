/**
 * BuildKit's Node.Dump(): one `(keyword ["flags"] "arg" …)` line per instruction, keywords
 * lowercased, strings quoted as Go does, ONBUILD printing its instruction nested. The output
 * ends with a newline, as the `result` files of BuildKit's parser tests do.
 */
import type { DockerfileNode, InstructionNode } from './ast.js';
import { goQuote } from '../goquote.js';

export function dumpInstruction(node: InstructionNode): string {
  let s = node.keyword.toLowerCase();
  if (node.flags.length > 0) s += ' [' + node.flags.map((f) => goQuote(f.text)).join(' ') + ']';
  if (node.inner !== undefined) s += ' (' + dumpInstruction(node.inner) + ')';
  else for (const a of node.args) s += ' ' + goQuote(a.value);
  return s.trim();
}

export function dumpDockerfile(ast: DockerfileNode): string {
  return ast.instructions.map((i) => `(${dumpInstruction(i)})\n`).join('');
}
