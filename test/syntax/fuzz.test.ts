/**
 * Property/fuzz test of the Dockerfile front end: `parseDockerfile` and `checkDockerfile` get
 * over 100,000 inputs — Dockerfiles generated from a grammar-ish arbitrary, and mutations of the
 * real-world corpus (shared/corpus/real-world) — and must always answer with structured results:
 *
 * - the calls return (no exception of any kind);
 * - every error is a BuildImageError with a non-empty string code, a message, and a range whose
 *   positions are consistent with the text (1 ≤ line ≤ line count + 1, start ≤ end);
 * - without errors there is an AST whose instruction ranges (and those of their parts) lie in
 *   the text; `dumpDockerfile` never throws on a returned AST;
 * - checkDockerfile reports the syntax errors first, exactly as parseDockerfile does.
 *
 * The seed is fixed (override with FUZZ_SEED=n) and printed so a failure reproduces; fast-check
 * also prints the seed and path of a failing case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildImageError, LineIndex, type SourcePosition, type SourceRange } from '../../src/errors.js';
import { checkDockerfile } from '../../src/instructions/check.js';
import { INSTRUCTION_NAMES } from '../../src/instructions/parse.js';
import type { DockerfileNode, InstructionNode } from '../../src/syntax/ast.js';
import { dumpDockerfile } from '../../src/syntax/dump.js';
import { parseDockerfile } from '../../src/syntax/parse.js';
import { shared } from '../support/shared.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed_d0c);
console.log(`fuzz seed: ${SEED} (set FUZZ_SEED to change it)`);

/** Inputs fed to both functions, counted across the `it` blocks below, and time spent on them. */
let inputs = 0;
let verifyMs = 0;
const startedAt = performance.now();

// ---------------------------------------------------------------------------------------------
// The properties

class Violation extends Error {}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Violation(what);
}

function checkPosition(p: SourcePosition, index: LineIndex, text: string, what: string): void {
  check(Number.isInteger(p.line) && Number.isInteger(p.column) && Number.isInteger(p.offset), `${what}: integer position`);
  check(p.line >= 1 && p.line <= index.lineCount + 1, `${what}: line ${p.line} outside 1..${index.lineCount + 1}`);
  check(p.column >= 1, `${what}: column ${p.column} < 1`);
  check(p.offset >= 0 && p.offset <= text.length, `${what}: offset ${p.offset} outside 0..${text.length}`);
}

function checkRange(r: SourceRange | undefined, index: LineIndex, text: string, what: string, exact: boolean): void {
  check(r !== undefined, `${what}: no range`);
  checkPosition(r.start, index, text, `${what} start`);
  checkPosition(r.end, index, text, `${what} end`);
  check(r.start.offset <= r.end.offset, `${what}: start offset ${r.start.offset} > end ${r.end.offset}`);
  check(
    r.start.line < r.end.line || (r.start.line === r.end.line && r.start.column <= r.end.column),
    `${what}: start ${r.start.line}:${r.start.column} after end ${r.end.line}:${r.end.column}`,
  );
  if (exact) {
    // Line and column agree with the offset.
    for (const [p, name] of [[r.start, 'start'], [r.end, 'end']] as const) {
      const q = index.position(p.offset);
      check(q.line === p.line && q.column === p.column, `${what} ${name}: ${p.line}:${p.column} is not offset ${p.offset} (${q.line}:${q.column})`);
    }
  }
}

function checkErrors(errors: readonly unknown[], index: LineIndex, text: string, who: string): void {
  for (const [i, e] of errors.entries()) {
    const what = `${who} error ${i}`;
    check(e instanceof BuildImageError, `${what}: not a BuildImageError: ${String(e)}`);
    check(typeof e.code === 'string' && /^[A-Z]+_[A-Z0-9_]+$/.test(e.code), `${what}: bad code ${String(e.code)}`);
    check(typeof e.message === 'string' && e.message.length > 0, `${what} (${e.code}): empty message`);
    checkRange(e.range, index, text, `${what} (${e.code}: ${e.message})`, true);
  }
}

function checkInstruction(node: InstructionNode, index: LineIndex, text: string, what: string): void {
  checkRange(node.range, index, text, `${what} range`, true);
  checkRange(node.keywordRange, index, text, `${what} keyword`, true);
  for (const [i, f] of node.flags.entries()) checkRange(f.range, index, text, `${what} flag ${i}`, true);
  for (const [i, a] of node.args.entries()) checkRange(a.range, index, text, `${what} arg ${i}`, true);
  for (const [i, h] of node.heredocs.entries()) {
    checkRange(h.range, index, text, `${what} heredoc ${i}`, true);
    checkRange(h.bodyRange, index, text, `${what} heredoc body ${i}`, true);
  }
  check(
    node.keywordRange.start.offset >= node.range.start.offset && node.keywordRange.end.offset <= node.range.end.offset,
    `${what}: keyword outside the instruction`,
  );
  if (node.inner !== undefined) checkInstruction(node.inner, index, text, `${what} inner`);
}

function checkAst(ast: DockerfileNode, index: LineIndex, text: string): void {
  for (const [i, node] of ast.instructions.entries()) checkInstruction(node, index, text, `instruction ${i}`);
  for (const [i, d] of ast.directives.entries()) checkRange(d.range, index, text, `directive ${i}`, true);
  for (const [i, c] of ast.comments.entries()) checkRange(c.range, index, text, `comment ${i}`, true);
  for (const [i, w] of ast.warnings.entries()) checkRange(w.range, index, text, `warning ${i}`, true);
  const dump = dumpDockerfile(ast);
  check(typeof dump === 'string', 'dump is not a string');
}

/** The whole property for one input; throws a Violation (or whatever escaped) on failure. */
function verify(text: string): void {
  inputs++;
  const t0 = performance.now();
  try {
    verifyText(text);
  } finally {
    verifyMs += performance.now() - t0;
  }
}

function verifyText(text: string): void {
  const index = new LineIndex(text);
  const parsed = parseDockerfile(text, { file: 'Dockerfile' });
  check(Array.isArray(parsed.errors), 'parse: errors is not an array');
  checkErrors(parsed.errors, index, text, 'parse');
  if (parsed.errors.length === 0) check(parsed.ast !== undefined, 'parse: no errors and no AST');
  if (parsed.ast !== undefined) checkAst(parsed.ast, index, text);

  const checked = checkDockerfile(text, { file: 'Dockerfile' });
  checkErrors(checked.errors, index, text, 'check');
  check(checked.errors.length >= parsed.errors.length, 'check: fewer errors than parse');
  for (const [i, e] of parsed.errors.entries()) {
    const c = checked.errors[i]!;
    check(c.code === e.code && c.message === e.message, `check error ${i} is not parse error ${i} (${e.code})`);
  }
  if (checked.ast !== undefined) check(checked.stages !== undefined, 'check: an AST but no stages');
  if (checked.errors.length === 0) {
    check(checked.ast !== undefined, 'check: no errors and no AST');
    const { stages, metaArgs } = checked.stages!;
    check(stages.length + metaArgs.length <= checked.ast.instructions.length, 'check: more stages than instructions');
  }
}

function run(arb: fc.Arbitrary<string>, numRuns: number, seed: number): void {
  fc.assert(
    fc.property(arb, (text) => {
      verify(text);
    }),
    { seed, numRuns, endOnFailure: false },
  );
}

// ---------------------------------------------------------------------------------------------
// Generated Dockerfiles

const KEYWORDS = [...INSTRUCTION_NAMES, 'ONBUILD RUN', 'ONBUILD COPY', 'ONBUILD ONBUILD', 'FOO', 'COPPY', 'FROM--x', 'R\u00e9N'];
const FLAG_NAMES = [
  'from', 'chown', 'chmod', 'link', 'parents', 'exclude', 'keep-git-dir', 'checksum', 'unpack', 'platform', 'mount',
  'network', 'security', 'device', 'interval', 'timeout', 'start-period', 'start-interval', 'retries', 'bogus', '',
];
const SPECIAL_WORDS = [
  '$HOME', '${A:-b}', '${A', '$', '"a b"', "'a b'", '"unterminated', "'", '"', '\\', '`', '\\\\', '\\"', '\\ ', '`"',
  'a=b', '=b', 'a=', '=', 'a="b c"', "k='v w'", 'AS', 'as', 'NONE', 'CMD', 'cmd', 'CMD-SHELL', '--', '-', '--x',
  '[]', '[', ']', '["a"]', '{', '#', '#x', '<<', '<<EOF', '<<-EOF', "<<'EOF'", '<<"EOF"', '<<E"O"F', '2<<EOF', '<< EOF',
  '<<<EOF', '<<"EOF', "<<'", '<<-', '&&', '|', ';', '*', '?', '**/x', 'type=cache,target=/x', 'type=secret,id=a',
  '0', '-1', '50ns', '1.5h', '\0', 'a\0b', '\u00e9', '\u4e16', '\u{1F600}', '\u0085', '\u00a0', '\u2028', '\u200b',
  '\ufeff', '\ud800', '\udc00', '\t', '\v', '\f', 'x\r', 'SIGTERM', '80/tcp', 'scratch', 'alpine:3.20', '/',
];

const sp = fc.constantFrom(' ', ' ', ' ', '  ', '\t', ' \t ', '\u00a0');
const nl = fc.constantFrom('\n', '\n', '\n', '\n', '\r\n', '\r\n', '\r');
const esc = fc.constantFrom('\\', '\\', '`');
const anyText = fc.string({ unit: 'binary', maxLength: 6 });
const asciiText = fc.string({ unit: 'binary-ascii', maxLength: 10 });

const word = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_./:=$-]{1,10}$/) },
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_WORDS) },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('"', "'"), asciiText, fc.constantFrom('"', "'", '')).map((p) => p.join('')) },
);

const words = fc.array(fc.tuple(word, sp), { maxLength: 6 }).map((ws) => ws.map(([w, s]) => w + s).join('').trimEnd());

const flag = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...FLAG_NAMES), fc.option(word, { nil: undefined })).map(([n, v]) => (v === undefined ? `--${n}` : `--${n}=${v}`)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '--', '-x', '--=', '---', '--mount=type=cache,target=/x', '--mount=type=secret', '--mount=from=$X',
      '--mount=type=tmpfs,size=1ib', '--mount="a,b"', '--device=a,name=b', '--interval=50ns', '--retries=-1',
      '--platform=$P', '--chmod=755', '--link=maybe', '--from="a b"', "--from='x", '--exclude=\\', '--network=bridge',
    ),
  },
);

const jsonArgs = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof(word, anyText), { maxLength: 4 }).map((a) => JSON.stringify(a)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '[', '[]', '["a"', '["a", 1]', '[1]', '["a",]', "['a']", '["a\\\\"]', '[ "a" , "b" ] trailing', '["\\u0000"]',
      '[null]', '{"a":1}', '["a" "b"]', '["<<EOF"]', '[ ]', '["\\ud800"]', '["a"]]',
    ),
  },
);

const keyValues = fc
  .array(fc.tuple(fc.constantFrom('A', 'b_1', '', '"q"', 'ä', '1'), fc.constantFrom('=', '=', ' '), word), { minLength: 1, maxLength: 3 })
  .map((kvs) => kvs.map(([k, eq, v]) => k + eq + v).join(' '));

const heredocName = fc.constantFrom('EOF', 'END', 'E', 'FILE1', 'x-y', 'EOF2');
const bodyLine = fc.oneof(asciiText, anyText, fc.constantFrom('\tindented', '  spaced', 'EOF', ' EOF', '\tEOF', '$VAR', '"q"', ''));
const heredoc = fc.record({
  fd: fc.constantFrom('', '', '', '2'),
  dash: fc.boolean(),
  quote: fc.constantFrom('', '', "'", '"'),
  name: heredocName,
  body: fc.array(bodyLine, { maxLength: 3 }),
  terminated: fc.constantFrom(true, true, true, false),
  tabs: fc.constantFrom('', '', '\t', '\t\t'),
});
type Heredoc = typeof heredoc extends fc.Arbitrary<infer T> ? T : never;

/** A continuation: escape, newline, maybe blank or comment lines, then the rest of the line. */
const continuation = fc.tuple(
  esc,
  fc.constantFrom('', '', ' ', '\t '),
  fc.array(fc.constantFrom('', '  ', '# comment', '  # indented comment', '#'), { maxLength: 2 }),
);

const instruction = fc.record({
  indent: fc.constantFrom('', '', '', ' ', '\t'),
  keyword: fc.mixedCase(fc.constantFrom(...KEYWORDS)),
  flags: fc.array(flag, { maxLength: 3 }),
  args: fc.oneof({ weight: 5, arbitrary: words }, { weight: 2, arbitrary: jsonArgs }, { weight: 2, arbitrary: keyValues }),
  heredocs: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Heredoc[]) }, { weight: 1, arbitrary: fc.array(heredoc, { minLength: 1, maxLength: 2 }) }),
  continuations: fc.array(fc.tuple(fc.nat(), continuation), { maxLength: 2 }),
  trailing: fc.constantFrom('', '', '', ' ', '\\', '`', ' \\', '\\ ', '# not a comment'),
});

function renderInstruction(ins: typeof instruction extends fc.Arbitrary<infer T> ? T : never, newline: string): string {
  const markers = ins.heredocs.map((h) => `${h.fd}<<${h.dash ? '-' : ''}${h.quote}${h.name}${h.quote}`);
  let line = [ins.keyword, ...ins.flags, ...markers, ins.args].filter((p) => p !== '').join(' ') + ins.trailing;
  // Continuations at chosen places (between characters of the logical line).
  for (const [at, [e, blanks, skipped]] of ins.continuations) {
    const i = line.length === 0 ? 0 : at % line.length;
    line = line.slice(0, i) + e + blanks + newline + skipped.map((s) => s + newline).join('') + line.slice(i);
  }
  let out = ins.indent + line;
  for (const h of ins.heredocs) {
    out += newline + h.body.map((b) => (h.dash ? h.tabs : '') + b).join(newline);
    if (h.terminated) out += newline + (h.dash ? h.tabs : '') + h.name;
  }
  return out;
}

const directive = fc.oneof(
  fc.constantFrom('# escape=`', '# escape=\\', '#escape=`', '# ESCAPE = `', '# escape=x', '# escape=', '# syntax=docker/dockerfile:1'),
  fc.constantFrom('# check=skip=all', '# check=error=true', '#syntax=a', '# directive=x', '# escape=` x'),
);

const line = fc.oneof(
  { weight: 8, arbitrary: instruction.map((i) => (newline: string) => renderInstruction(i, newline)) },
  { weight: 1, arbitrary: fc.constantFrom('#', '# comment', '  # indented', '#\tTAB', '# escape=`', '# a doc for a').map((c) => () => c) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', '  \t').map((b) => () => b) },
  { weight: 1, arbitrary: fc.oneof(anyText, asciiText, bodyLine).map((g) => () => g) },
);

const dockerfile = fc
  .record({
    bom: fc.constantFrom(false, false, false, false, true),
    directives: fc.array(directive, { maxLength: 3 }),
    from: fc.constantFrom(true, true, true, false),
    lines: fc.array(line, { maxLength: 10 }),
    newline: nl,
    mixed: fc.array(nl, { minLength: 14, maxLength: 14 }),
    mixNewlines: fc.constantFrom(false, false, false, true),
    trailingNewline: fc.boolean(),
  })
  .map((f) => {
    const parts = [...f.directives, ...(f.from ? ['FROM busybox'] : []), ...f.lines.map((render) => render(f.newline))];
    let text = '';
    parts.forEach((p, i) => {
      if (i > 0) text += f.mixNewlines ? f.mixed[i % f.mixed.length]! : f.newline;
      text += p;
    });
    if (f.trailingNewline) text += f.newline;
    return (f.bom ? '\ufeff' : '') + text;
  });

/** Token soup: Dockerfile-significant pieces in any order, for what the grammar above misses. */
const SOUP = [
  '\n', '\n', '\r\n', '\r', ' ', ' ', '\t', '\\', '\\', '`', '"', "'", '<<', '<<-', 'EOF', '\tEOF', '[', ']', ',', '#', '# ',
  '=', '--', '$', '{', '}', 'FROM', 'from', 'RUN', 'COPY', 'ADD', 'ENV', 'LABEL', 'ARG', 'ONBUILD', 'HEALTHCHECK', 'CMD',
  'SHELL', 'escape=', 'a', 'b', '1', '\0', '\ufeff', '\u00e9', '\u2028', '\u0085',
];
const soup = fc.array(fc.constantFrom(...SOUP), { maxLength: 40 }).map((parts) => parts.join(''));

// ---------------------------------------------------------------------------------------------
// Mutations of the real-world corpus

function readCorpus(): string[] {
  const dir = shared('corpus', 'real-world');
  return readdirSync(dir)
    .filter((name) => name !== 'INDEX.tsv' && name !== 'NOTICE.md')
    .sort()
    .map((name) => readFileSync(`${dir}/${name}`, 'utf8'));
}

const INJECTIONS = ['\\', '\\\n', '`', '<<EOF', '<<-EOF\n', '<<EOF\nbody\nEOF\n', '[', ']', '"', "'", '# escape=`\n', '\r\n', '\r', '\ufeff', '\0', '--', '--mount=', '$', '${', '\n\n', '#', '\t'];

const mutation = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), chars: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('flipCase' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('inject' as const), at: fc.nat(), what: fc.constantFrom(...INJECTIONS) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n');
  const li = (n: number) => n % lines.length;
  const ci = (n: number) => n % (text.length + 1);
  switch (m.op) {
    case 'delete':
      lines.splice(li(m.at), 1);
      return lines.join('\n');
    case 'duplicate':
      lines.splice(li(m.at), 0, lines[li(m.at)]!);
      return lines.join('\n');
    case 'swap': {
      const a = li(m.at);
      const b = li(m.to);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
    case 'insert':
      return text.slice(0, ci(m.at)) + m.chars + text.slice(ci(m.at));
    case 'truncate':
      return text.slice(0, ci(m.at));
    case 'flipCase': {
      const i = ci(m.at);
      const part = text.slice(i, i + m.length);
      const flipped = [...part].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
      return text.slice(0, i) + flipped + text.slice(i + m.length);
    }
    case 'inject':
      return text.slice(0, ci(m.at)) + m.what + text.slice(ci(m.at));
  }
}

// ---------------------------------------------------------------------------------------------

const GENERATED_RUNS = 24_000; // × 3 blocks
const SOUP_RUNS = 24_000;
const CORPUS_RUNS = 2_200; // × 2 blocks, on files of ~3 KB (each costs ~10 generated inputs)

describe('fuzz: parseDockerfile and checkDockerfile answer every input with structured results', () => {
  afterAll(() => {
    const total = (performance.now() - startedAt) / 1000;
    console.log(`fuzz: ${inputs} inputs, seed ${SEED}, ${total.toFixed(1)} s (${(verifyMs / 1000).toFixed(1)} s parsing and checking)`);
  });

  it('the property rejects bad results (the checker itself is live)', () => {
    expect(() => checkErrors([new Error('x')], new LineIndex('a'), 'a', 't')).toThrow(Violation);
    const bad = new BuildImageError('PARSE_X', 'm', {
      range: { start: { line: 3, column: 1, offset: 0 }, end: { line: 3, column: 1, offset: 0 } },
    });
    expect(() => checkErrors([bad], new LineIndex('a'), 'a', 't')).toThrow(/line 3 outside 1..2/);
    const noRange = new BuildImageError('PARSE_X', 'm');
    expect(() => checkErrors([noRange], new LineIndex('a'), 'a', 't')).toThrow(/no range/);
    const swapped = new BuildImageError('PARSE_X', 'm', {
      range: { start: { line: 1, column: 2, offset: 1 }, end: { line: 1, column: 1, offset: 0 } },
    });
    expect(() => checkErrors([swapped], new LineIndex('ab'), 'ab', 't')).toThrow(/start offset 1 > end 0/);
  });

  it.each([
    // Found by this test: an empty argument right before a continuation was mapped past the
    // continuation by its start and before it by its end (start > end).
    ['FROM busybox\nFOO\\\n \\', 1, 0, ''],
    ['FROM busybox\nLABEL .a_:-_-_=\\\n -:=.$_-_.A', 1, 1, ''],
    ['FROM busybox\nENV A b\\\n  \\\n', 1, 2, ''],
  ])('regression %j: instruction %d argument %d is empty and sits just before the continuation', (text, i, a, value) => {
    verify(text);
    const arg = parseDockerfile(text).ast!.instructions[i]!.args[a]!;
    expect(arg.value).toBe(value);
    const at = text.indexOf('\\');
    expect(arg.range).toEqual({ start: new LineIndex(text).position(at), end: new LineIndex(text).position(at) });
  });

  it('the generators produce the intended variety', () => {
    const sample = fc.sample(dockerfile, { seed: SEED, numRuns: 2000 });
    const has = (re: RegExp) => sample.filter((t) => re.test(t)).length;
    // Each feature appears in a fair share of the generated files.
    expect(has(/<</)).toBeGreaterThan(200);
    expect(has(/\\\r?\n/)).toBeGreaterThan(200);
    expect(has(/`\r?\n/)).toBeGreaterThan(50);
    expect(has(/# ?escape/i)).toBeGreaterThan(100);
    expect(has(/\r\n/)).toBeGreaterThan(200);
    expect(has(/^\ufeff/)).toBeGreaterThan(100);
    expect(has(/\0/)).toBeGreaterThan(20);
    expect(has(/\["/)).toBeGreaterThan(200);
    expect(has(/ --[a-z]/)).toBeGreaterThan(500);
    expect(has(/[^\x00-\x7f]/)).toBeGreaterThan(200);
    const outcomes = sample.map((t) => checkDockerfile(t).errors.length === 0);
    // Both clean and failing files are produced.
    expect(outcomes.filter(Boolean).length).toBeGreaterThan(100);
    expect(outcomes.filter((ok) => !ok).length).toBeGreaterThan(100);
  });

  for (let block = 0; block < 3; block++) {
    it(`generated Dockerfiles, block ${block + 1} of 3 (${GENERATED_RUNS} inputs)`, () => {
      run(dockerfile, GENERATED_RUNS, SEED + block);
    });
  }

  it(`token soup (${SOUP_RUNS} inputs)`, () => {
    run(soup, SOUP_RUNS, SEED + 50);
  });

  const corpus = readCorpus();
  for (let block = 0; block < 2; block++) {
    it(`mutated real-world Dockerfiles, block ${block + 1} of 2 (${CORPUS_RUNS} inputs)`, () => {
      expect(corpus.length).toBeGreaterThan(100);
      const arb = fc
        .record({ file: fc.nat({ max: corpus.length - 1 }), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) })
        .map(({ file, mutations }) => mutations.reduce(mutate, corpus[file]!));
      run(arb, CORPUS_RUNS, SEED + 100 + block);
    });
  }

  it('the unmutated corpus parses and checks', () => {
    for (const text of corpus) verify(text);
  });

  it('fed at least 100,000 inputs in total', () => {
    expect(inputs).toBeGreaterThanOrEqual(100_000);
  });
});
