/**
 * Typed instructions, checked against BuildKit's frontend/dockerfile/instructions tests as
 * summarised in shared/conformance/buildkit-instructions.md (each table cites its section),
 * plus the "related rules" of instructions/parse.go that the Go unit tests do not cover.
 *
 * Messages are compared exactly where upstream compares them exactly (require.EqualError) and
 * by substring where upstream uses require.ErrorContains.
 */
import { describe, expect, it } from 'vitest';
import { BuildImageError } from '../../src/errors.js';
import {
  checkDockerfile,
  INSTRUCTION_NAMES,
  toInstruction,
  toStages,
  type Instruction,
} from '../../src/instructions/index.js';
import { parseDockerfile } from '../../src/syntax/parse.js';
import { errorOf, handNode, instructionError, instructionOf, nodeOf } from './helpers.js';

/** The fields of an instruction that a test pins, as a plain value. */
function summary(ins: Instruction): Record<string, unknown> {
  switch (ins.kind) {
    case 'add':
    case 'copy':
      return { kind: ins.kind, sourcePaths: ins.sourcePaths, sourceContents: ins.sourceContents, dest: ins.dest };
    case 'arg':
      return { kind: 'arg', args: ins.args.map((a) => [a.key, a.value]) };
    case 'cmd':
    case 'entrypoint':
    case 'run':
      return { kind: ins.kind, cmdLine: ins.cmdLine, prependShell: ins.prependShell };
    case 'env':
      return { kind: 'env', pairs: ins.env.map((p) => [p.key, p.value, p.noDelim]) };
    case 'label':
      return { kind: 'label', pairs: ins.labels.map((p) => [p.key, p.value, p.noDelim]) };
    case 'expose':
      return { kind: 'expose', ports: ins.ports };
    case 'from':
      return { kind: 'from', baseName: ins.baseName, name: ins.name };
    case 'healthcheck':
      return { kind: 'healthcheck', test: ins.health.test };
    case 'maintainer':
      return { kind: 'maintainer', maintainer: ins.maintainer };
    case 'onbuild':
      return { kind: 'onbuild', expression: ins.expression };
    case 'shell':
      return { kind: 'shell', shell: ins.shell };
    case 'stopsignal':
      return { kind: 'stopsignal', signal: ins.signal };
    case 'user':
      return { kind: 'user', user: ins.user };
    case 'volume':
      return { kind: 'volume', volumes: ins.volumes };
    case 'workdir':
      return { kind: 'workdir', path: ins.path };
  }
}

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Argument-count errors (exact message)"

describe('argument counts (parse_test.go: TestCommandsExactlyOneArgument, AtLeastOne, NoDestination)', () => {
  it.each([
    ['MAINTAINER', 'MAINTAINER requires exactly one argument'],
    ['WORKDIR', 'WORKDIR requires exactly one argument'],
    ['USER', 'USER requires exactly one argument'],
    ['STOPSIGNAL', 'STOPSIGNAL requires exactly one argument'],
    ['ENV', 'ENV requires at least one argument'],
    ['LABEL', 'LABEL requires at least one argument'],
    ['ONBUILD', 'ONBUILD requires at least one argument'],
    ['HEALTHCHECK', 'HEALTHCHECK requires at least one argument'],
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['VOLUME', 'VOLUME requires at least one argument'],
    ['ADD arg1', 'ADD requires at least two arguments, but only one was provided. Destination could not be determined'],
    ['COPY arg1', 'COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
  ])('%s → %s', (text, message) => {
    const e = instructionError(text);
    expect(e.message).toBe(message);
    expect(e.code).toBe('INSTR_ARGUMENTS');
    expect(e.file).toBe('Dockerfile');
    expect(e.range?.start).toEqual({ line: 1, column: 1, offset: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Malformed ENV/LABEL nodes (built by hand, not parsed from text)"

describe('malformed ENV/LABEL nodes (parse_test.go: TestCommandsTooManyArguments, TestCommandsBlankNames)', () => {
  it.each(['ENV', 'LABEL'])('%s with 4 arguments → Bad input, too many arguments', (cmd) => {
    const node = handNode(cmd.toLowerCase(), ['arg1', 'arg2', 'arg3', ''], { original: `${cmd}arg1 arg2 arg3` });
    const e = errorOf(() => toInstruction(node));
    expect(e.message).toBe(`Bad input to ${cmd}, too many arguments`);
    expect(e.code).toBe('INSTR_ARGUMENTS');
  });

  it.each(['ENV', 'LABEL'])('%s =arg2 (blank key) → names can not be blank', (cmd) => {
    const node = handNode(cmd.toLowerCase(), ['', 'arg2', '='], { original: `${cmd} =arg2` });
    const e = errorOf(() => toInstruction(node));
    expect(e.message).toBe(`${cmd} names can not be blank`);
    expect(e.code).toBe('INSTR_BLANK_NAME');
  });

  it('the same text through the real parser reaches the typed step, which rejects it', () => {
    const r = parseDockerfile('ENV =arg2');
    // BuildKit's parser accepts `=arg2` as key "" (the typed step then rejects it).
    expect(r.errors).toEqual([]);
    const e = errorOf(() => toInstruction(r.ast!.instructions[0]!));
    expect(e.message).toBe('ENV names can not be blank');
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "HEALTHCHECK" (TestHealthCheckCmd, TestParseOptInterval) and the related rules

describe('HEALTHCHECK', () => {
  it('a hand-built node CMD hello world (no JSON) becomes ["CMD-SHELL", "hello world"] (TestHealthCheckCmd)', () => {
    const ins = toInstruction(handNode('healthcheck', ['CMD', 'hello', 'world']));
    expect(ins.kind).toBe('healthcheck');
    if (ins.kind !== 'healthcheck') return;
    expect(ins.health).toEqual({
      test: ['CMD-SHELL', 'hello world'],
      interval: 0,
      timeout: 0,
      startPeriod: 0,
      startInterval: 0,
      retries: 0,
    });
  });

  it.each([
    // [flags, expected health fields] — TestParseOptInterval: 50ns fails, 0ms and 1ms pass.
    ['--interval=0ms', { interval: 0 }],
    ['--interval=1ms', { interval: 1_000_000 }],
    ['--interval=30s --timeout=5s --start-period=1m --start-interval=2s --retries=3', {
      interval: 30e9, timeout: 5e9, startPeriod: 60e9, startInterval: 2e9, retries: 3,
    }],
    ['--interval=1.5h', { interval: 5400e9 }],
    ['--retries=0', { retries: 0 }],
    ['--retries=+7', { retries: 7 }],
    ['--timeout=0', { timeout: 0 }],
    ['--start-period=-0s', { startPeriod: 0 }],
  ])('HEALTHCHECK %s CMD true', (flags, fields) => {
    const ins = instructionOf(`HEALTHCHECK ${flags} CMD true`);
    if (ins.kind !== 'healthcheck') throw new Error(ins.kind);
    expect(ins.health).toMatchObject({ test: ['CMD-SHELL', 'true'], ...fields });
  });

  it.each([
    ['HEALTHCHECK --interval=50ns CMD true', 'Interval "interval" cannot be less than 1ms'],
    ['HEALTHCHECK --interval=999us CMD true', 'Interval "interval" cannot be less than 1ms'],
    ['HEALTHCHECK --timeout=50ns CMD true', 'Interval "timeout" cannot be less than 1ms'],
    ['HEALTHCHECK --start-period=1ns CMD true', 'Interval "start-period" cannot be less than 1ms'],
    ['HEALTHCHECK --start-interval=0.5ms CMD true', 'Interval "start-interval" cannot be less than 1ms'],
    // A negative duration is below the minimum too.
    ['HEALTHCHECK --interval=-5s CMD true', 'Interval "interval" cannot be less than 1ms'],
    ['HEALTHCHECK --interval=5 CMD true', 'time: missing unit in duration "5"'],
    ['HEALTHCHECK --interval=abc CMD true', 'time: invalid duration "abc"'],
    ['HEALTHCHECK --timeout=5d CMD true', 'time: unknown unit "d" in duration "5d"'],
    ['HEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
    ['HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD'],
    ['HEALTHCHECK CMD []', 'Missing command after HEALTHCHECK CMD'],
    ['HEALTHCHECK FOO bar', 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
    ['HEALTHCHECK cmd-shell echo', 'Unknown type "CMD-SHELL" in HEALTHCHECK (try CMD)'],
    ['HEALTHCHECK --retries=-1 CMD true', '--retries cannot be negative (-1)'],
    // strconv.ParseInt(…, 10, 32): the int32 minimum parses, then is negative.
    ['HEALTHCHECK --retries=-2147483648 CMD true', '--retries cannot be negative (-2147483648)'],
    ['HEALTHCHECK --retries=2147483648 CMD true', 'strconv.ParseInt: parsing "2147483648": value out of range'],
    ['HEALTHCHECK --retries=three CMD true', 'strconv.ParseInt: parsing "three": invalid syntax'],
    ['HEALTHCHECK --retries=1.5 CMD true', 'strconv.ParseInt: parsing "1.5": invalid syntax'],
  ])('%s → %s', (text, message) => {
    const e = instructionError(text);
    expect(e.message).toBe(message);
    expect(e.code).toBe('INSTR_HEALTHCHECK');
  });

  it.each([
    ['HEALTHCHECK NONE', ['NONE']],
    ['healthcheck none', ['NONE']],
    // NONE never parses flags (BuildKit declares them only for CMD): anything goes.
    ['HEALTHCHECK --bogus=1 NONE', ['NONE']],
    ['HEALTHCHECK CMD curl -f http://localhost/', ['CMD-SHELL', 'curl -f http://localhost/']],
    ['HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]', ['CMD', 'curl', '-f', 'http://localhost/']],
    ['HEALTHCHECK cmd ["true"]', ['CMD', 'true']],
  ])('%s → test %j', (text, test) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'healthcheck') throw new Error(ins.kind);
    expect(ins.health.test).toEqual(test);
  });

  it('an unknown type is reported after the flags are checked (BuildKit parses flags first)', () => {
    const e = instructionError('HEALTHCHECK --bogus FOO bar');
    expect(e.code).toBe('INSTR_UNKNOWN_FLAG');
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Whole-file robustness (no crash)" (TestNilLinter). Upstream asserts nothing;
// here every outcome is pinned, each reasoned from BuildKit's parser (line_parsers.go dispatch)
// and instructions/parse.go:
//   add/copy: whitespace list, < 2 args → no destination;  arg: words, any name;
//   cmd/entrypoint/run/shell: one string (SHELL then rejects the non-JSON form);
//   env/label: `K a` → parser error "must have two arguments", `K a b c` → legacy a="b c";
//   expose/volume: whitespace list;  from: 1 or 3 (… AS name) arguments;
//   healthcheck: first word is the type, uppercased, and only CMD/NONE exist;
//   maintainer/stopsignal/user/workdir: the rest as one string;
//   onbuild: any trigger but ONBUILD/FROM/MAINTAINER, unknown words included (they are only
//   rejected when the trigger runs in a child build).

type Outcome = { ok: Record<string, unknown> } | { error: [code: string, message: string] };

const ADD_NO_DEST = 'requires at least two arguments, but only one was provided. Destination could not be determined';
const shellForm = (kind: string) => (rest: string) => ({ kind, cmdLine: [rest], prependShell: true });
const ROBUSTNESS: Record<string, (rest: string) => Outcome> = {
  add: (rest) =>
    rest.split(' ').length < 2
      ? { error: ['INSTR_ARGUMENTS', `ADD ${ADD_NO_DEST}`] }
      : { ok: { kind: 'add', sourcePaths: rest.split(' ').slice(0, -1), sourceContents: [], dest: rest.split(' ').at(-1) } },
  copy: (rest) =>
    rest.split(' ').length < 2
      ? { error: ['INSTR_ARGUMENTS', `COPY ${ADD_NO_DEST}`] }
      : { ok: { kind: 'copy', sourcePaths: rest.split(' ').slice(0, -1), sourceContents: [], dest: rest.split(' ').at(-1) } },
  arg: (rest) => ({
    ok: {
      kind: 'arg',
      args: rest.split(' ').map((w) => (w.includes('=') ? [w.split('=')[0], w.split('=')[1]] : [w, undefined])),
    },
  }),
  cmd: (rest) => ({ ok: shellForm('cmd')(rest) }),
  entrypoint: (rest) => ({ ok: shellForm('entrypoint')(rest) }),
  run: (rest) => ({ ok: shellForm('run')(rest) }),
  shell: () => ({ error: ['INSTR_SHELL_NOT_JSON', 'SHELL requires the arguments to be in JSON form'] }),
  env: (rest) => keyValueOutcome('env', 'ENV', rest),
  label: (rest) => keyValueOutcome('label', 'LABEL', rest),
  expose: (rest) => ({ ok: { kind: 'expose', ports: rest.split(' ').sort() } }),
  volume: (rest) => ({ ok: { kind: 'volume', volumes: rest.split(' ') } }),
  from: (rest) =>
    rest.split(' ').length === 1
      ? { ok: { kind: 'from', baseName: rest, name: '' } }
      : { error: ['INSTR_ARGUMENTS', 'FROM requires either one or three arguments'] },
  healthcheck: (rest) => ({
    error: ['INSTR_HEALTHCHECK', `Unknown type "${rest.split(' ')[0]!.toUpperCase()}" in HEALTHCHECK (try CMD)`],
  }),
  maintainer: (rest) => ({ ok: { kind: 'maintainer', maintainer: rest } }),
  stopsignal: (rest) => ({ ok: { kind: 'stopsignal', signal: rest } }),
  user: (rest) => ({ ok: { kind: 'user', user: rest } }),
  workdir: (rest) => ({ ok: { kind: 'workdir', path: rest } }),
  onbuild: (rest) => ({ ok: { kind: 'onbuild', expression: rest } }),
};

function keyValueOutcome(kind: string, upper: string, rest: string): Outcome {
  if (rest === 'foo=bar') return { ok: { kind, pairs: [['foo', 'bar', false]] } };
  const [key, ...value] = rest.split(' ');
  if (value.length === 0) return { error: ['PARSE_MISSING_VALUE', `${upper} must have two arguments`] };
  return { ok: { kind, pairs: [[key, value.join(' '), true]] } };
}

// The expected outcomes above, written out per case so that a reader can check each one.
const ROBUSTNESS_TABLE: [string, Outcome][] = [];
for (const k of Object.keys(ROBUSTNESS).sort()) {
  for (const rest of ['foo=bar', 'a', 'a b', 'a b c', '0 0']) ROBUSTNESS_TABLE.push([`${k} ${rest}`, ROBUSTNESS[k]!(rest)]);
}

describe('whole-file robustness: FROM busybox + K … for every keyword (parse_test.go: TestNilLinter)', () => {
  it('covers all 18 instructions', () => {
    expect(Object.keys(ROBUSTNESS).map((k) => k.toUpperCase()).sort()).toEqual([...INSTRUCTION_NAMES].sort());
    expect(ROBUSTNESS_TABLE).toHaveLength(90);
  });

  it('pins a few outcomes literally (the generator above must agree with them)', () => {
    const t = Object.fromEntries(ROBUSTNESS_TABLE);
    expect(t['env a b c']).toEqual({ ok: { kind: 'env', pairs: [['a', 'b c', true]] } });
    expect(t['label a']).toEqual({ error: ['PARSE_MISSING_VALUE', 'LABEL must have two arguments'] });
    expect(t['arg foo=bar']).toEqual({ ok: { kind: 'arg', args: [['foo', 'bar']] } });
    expect(t['arg 0 0']).toEqual({ ok: { kind: 'arg', args: [['0', undefined], ['0', undefined]] } });
    expect(t['healthcheck foo=bar']).toEqual({ error: ['INSTR_HEALTHCHECK', 'Unknown type "FOO=BAR" in HEALTHCHECK (try CMD)'] });
    expect(t['copy a b c']).toEqual({ ok: { kind: 'copy', sourcePaths: ['a', 'b'], sourceContents: [], dest: 'c' } });
    expect(t['expose a b c']).toEqual({ ok: { kind: 'expose', ports: ['a', 'b', 'c'] } });
    expect(t['from 0 0']).toEqual({ error: ['INSTR_ARGUMENTS', 'FROM requires either one or three arguments'] });
    expect(t['onbuild 0 0']).toEqual({ ok: { kind: 'onbuild', expression: '0 0' } });
  });

  it.each(ROBUSTNESS_TABLE)('FROM busybox + %s', (line, outcome) => {
    const text = `FROM busybox\n${line}`;
    const r = checkDockerfile(text, { file: 'Dockerfile' });
    for (const e of r.errors) {
      expect(e).toBeInstanceOf(BuildImageError);
      expect(e.range?.start.line).toBe(2);
    }
    if ('error' in outcome) {
      expect(r.errors.map((e) => [e.code, e.message])).toEqual([outcome.error]);
      return;
    }
    expect(r.errors).toEqual([]);
    const stages = r.stages!.stages;
    expect(stages[0]!.baseName).toBe('busybox');
    const ins = line.startsWith('from ') ? stages[1]!.from : stages[0]!.commands[0]!;
    expect(summary(ins)).toEqual(outcome.ok);
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Comments used as documentation for ARG/FROM" (TestCommentsDetection) and the
// rule behind it (getDocComment over the comments collected since the previous instruction).

describe('doc comments for ARG and FROM', () => {
  it('TestCommentsDetection', () => {
    const text = [
      '# foo sets foo',
      'ARG foo=bar',
      '',
      '# base defines first stage',
      'FROM busybox AS base',
      '# this is irrelevant',
      'ARG foo',
      '# bar defines bar',
      '# baz is something else',
      'ARG bar baz=123',
      '',
    ].join('\n');
    const r = checkDockerfile(text);
    expect(r.errors).toEqual([]);
    const { stages, metaArgs } = r.stages!;
    expect(stages).toHaveLength(1);
    expect(stages[0]!.from.docComment).toBe('defines first stage');
    expect(metaArgs[0]!.args[0]).toEqual({ key: 'foo', value: 'bar', docComment: 'sets foo' });
    const [a1, a2] = stages[0]!.commands;
    if (a1?.kind !== 'arg' || a2?.kind !== 'arg') throw new Error('expected two ARGs');
    expect(a1.args).toEqual([{ key: 'foo', value: undefined, docComment: '' }]);
    expect(a2.args).toEqual([
      { key: 'bar', value: undefined, docComment: 'defines bar' },
      { key: 'baz', value: '123', docComment: 'is something else' },
    ]);
  });

  it.each([
    // [Dockerfile, doc comment of the (last) ARG's first name]
    ['# a one\n\n# a two\nARG a', 'one'], // blank lines do not clear: the first match wins
    ['# a one\n#\n# a two\nARG a', 'two'], // a bare `#` clears what was collected
    ['# a one\nFROM x\nARG a', ''], // comments belong to the next instruction only
    ['# ab one\nARG a', ''], // the prefix is the name and a space
    ['# a\nARG a', ''], // the name alone is not a description
    ['# a  two spaces\nARG a', ' two spaces'], // only the prefix `a ` is removed
    ['ARG a # not a comment', ''],
  ])('%j → %j', (text, doc) => {
    const r = checkDockerfile(text);
    expect(r.errors).toEqual([]);
    const args = r.stages!.stages.length > 0 ? r.stages!.stages[0]!.commands : r.stages!.metaArgs;
    const last = args.at(-1)!;
    if (last.kind !== 'arg') throw new Error(last.kind);
    expect(last.args[0]!.docComment).toBe(doc);
  });

  it('`#a one` is read as `a one` (the first byte `#` is dropped, then trimmed)', () => {
    // BuildKit: strings.TrimSpace(line[1:]) — so `#a one` documents a.
    const r = checkDockerfile('#a one\nFROM x\n#a one\nARG a');
    const ins = r.stages!.stages[0]!.commands[0]!;
    if (ins.kind !== 'arg') throw new Error(ins.kind);
    expect(ins.args[0]!.docComment).toBe('one');
  });

  it.each([
    ['# base is the base\nFROM alpine AS base', 'is the base'],
    ['# BASE is the base\nFROM alpine AS BASE', ''], // the name is lowercased before matching
    ['# base is the base\nFROM alpine AS Base', 'is the base'],
    ['# alpine is the base\nFROM alpine', ''], // no stage name, no doc comment
  ])('FROM doc comment of %j → %j', (text, doc) => {
    const r = checkDockerfile(text);
    expect(r.errors).toEqual([]);
    expect(r.stages!.stages[0]!.from.docComment).toBe(doc);
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Error cases (matched by substring)" (TestErrorCases)

describe('error cases (parse_test.go: TestErrorCases)', () => {
  it.each([
    ['COPY\t\n\t\tquux \\\n      bar', 'COPY requires at least two arguments', 'INSTR_ARGUMENTS'],
    ['ONBUILD FROM scratch', "FROM isn't allowed as an ONBUILD trigger", 'INSTR_ONBUILD_TRIGGER'],
    ['ONBUILD MAINTAINER me', "MAINTAINER isn't allowed as an ONBUILD trigger", 'INSTR_ONBUILD_TRIGGER'],
    ['onbuild from scratch', "FROM isn't allowed as an ONBUILD trigger", 'INSTR_ONBUILD_TRIGGER'],
    ['MAINTAINER --boo joe@example.com', 'unknown flag: --boo', 'INSTR_UNKNOWN_FLAG'],
    ['ONBUILD ONBUILD RUN touch foobar', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', 'INSTR_ONBUILD_TRIGGER'],
    ['FOO bar', 'unknown instruction: FOO', 'INSTR_UNKNOWN_INSTRUCTION'],
    ['foo bar', 'unknown instruction: foo', 'INSTR_UNKNOWN_INSTRUCTION'],
  ])('%j → …%s…', (text, substring, code) => {
    // Each parses cleanly (upstream fails the test otherwise); only the typed step rejects
    // the first instruction (upstream reads ast.AST.Children[0]).
    const node = nodeOf(text, 'first');
    const e = errorOf(() => toInstruction(node));
    expect(e.message).toContain(substring);
    expect(e.code).toBe(code);
  });

  it('the COPY case is two instructions: COPY with no arguments, then `quux bar`', () => {
    const r = parseDockerfile('COPY\t\n\t\tquux \\\n      bar');
    expect(r.errors).toEqual([]);
    expect(r.ast!.instructions.map((i) => [i.keyword, i.args.map((a) => a.value), i.original])).toEqual([
      ['COPY', [], 'COPY\t'], // Original keeps trailing blanks, as BuildKit's does
      ['quux', [''], 'quux       bar'],
    ]);
  });

  it.each([
    ['COPPY a b', 'COPPY', 'did you mean COPY?'],
    ['coppy a b', 'coppy', 'did you mean copy?'],
    ['Runn x', 'Runn', 'did you mean run?'],
    ['FROMM x', 'FROMM', 'did you mean FROM?'],
    ['XYZZY x', 'XYZZY', undefined],
  ])('unknown instruction %j keeps its case and suggests', (text, keyword, suggestion) => {
    const e = instructionError(text);
    expect(e.message).toBe(`unknown instruction: ${keyword}`);
    expect(e.suggestion).toBe(suggestion);
    // The range is the keyword.
    expect(e.range).toEqual({
      start: { line: 1, column: 1, offset: 0 },
      end: { line: 1, column: keyword.length + 1, offset: keyword.length },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// parse_test.go — "Flags used" (TestRunCmdFlagsUsed)

describe('RUN flags used (parse_test.go: TestRunCmdFlagsUsed)', () => {
  it('RUN --mount=type=tmpfs,target=/foo/ echo hello → flagsUsed exactly ["mount"]', () => {
    const ins = instructionOf('RUN --mount=type=tmpfs,target=/foo/ echo hello');
    if (ins.kind !== 'run') throw new Error(ins.kind);
    expect(ins.flagsUsed).toEqual(['mount']);
    expect(ins.mounts).toEqual(['type=tmpfs,target=/foo/']);
    expect(ins.cmdLine).toEqual(['echo hello']);
    expect(ins.prependShell).toBe(true);
  });

  it.each([
    ['RUN true', []],
    ['RUN --network=none --mount=type=cache,target=/c --mount=type=tmpfs,target=/t true', ['network', 'mount']],
    ['RUN --security=insecure --device=gpu --network=host true', ['security', 'device', 'network']],
    // A flag counts as used even when it is given its default value.
    ['RUN --network=default true', ['network']],
  ])('%s → %j', (text, used) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'run') throw new Error(ins.kind);
    expect(ins.flagsUsed).toEqual(used);
  });

  it('RUN flags: values', () => {
    const ins = instructionOf('RUN --network=none --security=insecure --device=vendor.com/gpu=all,required true');
    if (ins.kind !== 'run') throw new Error(ins.kind);
    expect([ins.network, ins.security, ins.devices]).toEqual(['none', 'insecure', [{ name: 'vendor.com/gpu=all', required: true }]]);
    const d = instructionOf('RUN true');
    if (d.kind !== 'run') throw new Error(d.kind);
    expect([d.network, d.security, d.devices, d.mounts]).toEqual(['default', 'sandbox', [], []]);
  });

  it.each([
    ['RUN --network=bridge true', 'INSTR_BAD_NETWORK', 'invalid network mode "bridge"'],
    ['RUN --security=root true', 'INSTR_BAD_SECURITY', 'security "root" is not valid'],
    ['RUN --mount=type=bogus,target=/x true', 'INSTR_BAD_MOUNT', 'unsupported mount type "bogus"'],
    ['RUN --device=a,name=b true', 'INSTR_BAD_MOUNT', 'device name already set to a'],
    // BuildKit's post-hooks run devices, mounts, network, security in that order.
    ['RUN --security=x --network=y --mount=type=z --device=a,name=b true', 'INSTR_BAD_MOUNT', 'device name already set to a'],
    ['RUN --security=x --network=y --mount=type=z true', 'INSTR_BAD_MOUNT', 'unsupported mount type "z"'],
    ['RUN --security=x --network=y true', 'INSTR_BAD_NETWORK', 'invalid network mode "y"'],
    // Before expansion BuildKit checks only the CSV and that `from` holds no variable.
    ['RUN --mount=from=$STAGE,target=/x true', 'INSTR_BAD_MOUNT', "'from' doesn't support variable expansion, define alias stage instead"],
    ['RUN --mount=type=bind,from=a${B}c true', 'INSTR_BAD_MOUNT', "'from' doesn't support variable expansion, define alias stage instead"],
    // Flag quotes are removed by the parser: escaped ones reach the CSV reader.
    ['RUN --mount=target=/$X,\\"a\\"b true', 'INSTR_BAD_MOUNT', 'failed to parse csv mounts: parse error on line 1, column 14: extraneous or missing " in quoted-field'],
  ])('%s → %s: %s', (text, code, message) => {
    const e = instructionError(text);
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it.each([
    // Values that expansion can still change are left to the planner, as BuildKit leaves them
    // to dispatch: `$X`, quotes and escapes are resolved by the shell lexer first.
    ['RUN --mount=type=$T,target=/x true'],
    ["RUN --mount=type=\\'cache\\',target=/x true"],
    ['RUN --mount=type=cach\\\\e,target=/x true'],
    ['RUN --mount=from=stage$,target=/x true'], // a trailing `$` is no variable
    ['RUN --mount=id=$ID,type=cache,target=/x,mode=0755,uid=$UID true'],
  ])('%s is accepted before expansion', (text) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'run') throw new Error(ins.kind);
    // The value still holds what expansion will resolve.
    expect(ins.mounts[0]).toMatch(/[$'\\]/);
  });
});

// ---------------------------------------------------------------------------------------------
// parse_heredoc_test.go

describe('heredocs (parse_heredoc_test.go)', () => {
  it('COPY /foo <<EOF + EOF → cannot accept a heredoc as a destination (TestErrorCasesHeredoc)', () => {
    const e = instructionError('COPY /foo <<EOF\nEOF');
    expect(e.message).toContain('COPY cannot accept a heredoc as a destination');
    expect(e.code).toBe('INSTR_HEREDOC_DESTINATION');
  });

  it('ADD has the same rule', () => {
    expect(instructionError('ADD /foo <<EOF\nEOF').message).toBe('ADD cannot accept a heredoc as a destination');
  });

  it.each([
    ['COPY /foo /bar', { sourcePaths: ['/foo'], sourceContents: [], dest: '/bar' }],
    ['COPY <<EOF /bar\nEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: '', expand: true }], dest: '/bar' }],
    ['COPY <<EOF /bar\nTESTING\nEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: 'TESTING\n', expand: true }], dest: '/bar' }],
    // For COPY, `<<-` strips leading tabs from the content.
    ['COPY <<-EOF /bar\n\tTESTING\nEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: 'TESTING\n', expand: true }], dest: '/bar' }],
    ["COPY <<'EOF' /bar\nTESTING\nEOF", { sourcePaths: [], sourceContents: [{ path: 'EOF', data: 'TESTING\n', expand: false }], dest: '/bar' }],
    [
      'COPY <<EOF1 <<EOF2 /bar\nthis is the first file\nEOF1\nthis is the second file\nEOF2',
      {
        sourcePaths: [],
        sourceContents: [
          { path: 'EOF1', data: 'this is the first file\n', expand: true },
          { path: 'EOF2', data: 'this is the second file\n', expand: true },
        ],
        dest: '/bar',
      },
    ],
    ['COPY <<EOF foo.txt /bar\nthis is inline\nEOF', { sourcePaths: ['foo.txt'], sourceContents: [{ path: 'EOF', data: 'this is inline\n', expand: true }], dest: '/bar' }],
    ['COPY <<EOF /quotes\n"quotes"\nEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: '"quotes"\n', expand: true }], dest: '/quotes' }],
    // Beyond upstream's table: a partly quoted terminator is not expanded either, and `<<-`
    // strips tabs on every line (not spaces).
    ['COPY <<E"O"F /bar\nx\nEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: 'x\n', expand: false }], dest: '/bar' }],
    ['COPY <<-EOF /bar\n\t\ta\n  \tb\n\tEOF', { sourcePaths: [], sourceContents: [{ path: 'EOF', data: 'a\n  \tb\n', expand: true }], dest: '/bar' }],
    // MustParseHeredoc: a word that does not lex as a heredoc (unterminated quote) is a path.
    ['COPY <<"EOF /bar', { sourcePaths: ['<<"EOF'], sourceContents: [], dest: '/bar' }],
    ['COPY a <<"EOF', { sourcePaths: ['a'], sourceContents: [], dest: '<<"EOF' }],
  ])('%j (TestCopyHeredoc)', (text, expected) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'copy') throw new Error(ins.kind);
    expect({ sourcePaths: ins.sourcePaths, sourceContents: ins.sourceContents, dest: ins.dest }).toEqual(expected);
  });

  it('ADD takes inline sources too', () => {
    const ins = instructionOf('ADD <<EOF /x\nhi\nEOF');
    if (ins.kind !== 'add') throw new Error(ins.kind);
    expect(ins.sourceContents).toEqual([{ path: 'EOF', data: 'hi\n', expand: true }]);
  });

  it.each([
    ['RUN ["ls", "/"]', ['ls', '/'], false, []],
    ['RUN ["<<EOF"]', ['<<EOF'], false, []],
    ['RUN ls /', ['ls /'], true, []],
    ['RUN <<EOF\nls /\nwhoami\nEOF', ['<<EOF'], true, [{ name: 'EOF', data: 'ls /\nwhoami\n', chomp: false }]],
    [
      "RUN <<'EOF' | python\nprint(\"hello\")\nprint(\"world\")\nEOF",
      ["<<'EOF' | python"],
      true,
      [{ name: 'EOF', data: 'print("hello")\nprint("world")\n', chomp: false }],
    ],
    // For RUN, `<<-` keeps the tabs (the shell strips them) and records chomp.
    ['RUN <<-EOF\n\techo test\nEOF', ['<<-EOF'], true, [{ name: 'EOF', data: '\techo test\n', chomp: true }]],
  ])('%j (TestRunHeredoc)', (text, cmdLine, prependShell, files) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'run') throw new Error(ins.kind);
    expect({ cmdLine: ins.cmdLine, prependShell: ins.prependShell, files: ins.files }).toEqual({ cmdLine, prependShell, files });
  });

  it('RUN ["<<EOF"] has no heredoc at the syntax level either', () => {
    expect(nodeOf('RUN ["<<EOF"]').heredocs).toEqual([]);
  });

  it('ONBUILD RUN <<EOF keeps the body in its expression', () => {
    const ins = instructionOf('ONBUILD RUN <<EOF\necho hi\nEOF');
    if (ins.kind !== 'onbuild') throw new Error(ins.kind);
    expect(ins.expression).toBe('RUN <<EOF\necho hi\nEOF');
  });
});

// ---------------------------------------------------------------------------------------------
// support_test.go — handleJSONArgs, through CMD/RUN/ENTRYPOINT nodes built by hand

describe('exec and shell form joining (support_test.go)', () => {
  it.each([
    [[], false, []],
    [['foo'], true, ['foo']],
    [['foo', 'bar'], true, ['foo', 'bar']],
    [['foo', 'bar'], false, ['foo bar']],
    [['foo  bar', ' baz'], false, ['foo  bar  baz']],
  ] as [string[], boolean, string[]][])('args %j json=%s → %j', (args, json, expected) => {
    for (const name of ['cmd', 'run', 'entrypoint']) {
      const ins = toInstruction(handNode(name, args, { json }));
      if (ins.kind !== 'cmd' && ins.kind !== 'run' && ins.kind !== 'entrypoint') throw new Error(ins.kind);
      expect(ins.cmdLine).toEqual(expected);
      expect(ins.prependShell).toBe(!json);
    }
  });

  it.each([
    ['CMD', [], true],
    ['CMD []', [], false],
    ['CMD ["a", "b c"]', ['a', 'b c'], false],
    ['CMD a   b', ['a   b'], true],
    ['ENTRYPOINT ["/bin/sh", "-c"]', ['/bin/sh', '-c'], false],
    // Not a JSON array of strings: shell form, verbatim.
    ['CMD [a, b]', ['[a, b]'], true],
    ["CMD ['a']", ["['a']"], true],
  ])('%j → cmdLine %j (prependShell %s)', (text, cmdLine, prependShell) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'cmd' && ins.kind !== 'entrypoint') throw new Error(ins.kind);
    expect([ins.cmdLine, ins.prependShell]).toEqual([cmdLine, prependShell]);
  });
});

// ---------------------------------------------------------------------------------------------
// "Related rules NOT covered by these unit tests" — from instructions/parse.go

describe('FROM: argument counts and stage names', () => {
  it.each([
    ['FROM alpine', 'alpine', ''],
    ['FROM alpine AS base', 'alpine', 'base'],
    ['FROM alpine as base', 'alpine', 'base'],
    ['FROM alpine aS base', 'alpine', 'base'],
    // Upper case is accepted and lowercased (the linter only warns).
    ['FROM alpine AS Build-Stage_1.x', 'alpine', 'build-stage_1.x'],
    ['FROM --platform=linux/arm64 alpine AS b', 'alpine', 'b'],
    ['FROM ${IMAGE} AS b', '${IMAGE}', 'b'],
  ])('%s → base %s, name %j', (text, baseName, name) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'from') throw new Error(ins.kind);
    expect([ins.baseName, ins.name]).toEqual([baseName, name]);
  });

  it('--platform is kept as written', () => {
    const ins = instructionOf('FROM --platform=$BUILDPLATFORM alpine');
    if (ins.kind !== 'from') throw new Error(ins.kind);
    expect(ins.platform).toBe('$BUILDPLATFORM');
  });

  it.each([
    ['FROM', 'FROM requires either one or three arguments'],
    ['FROM a b', 'FROM requires either one or three arguments'],
    ['FROM a b c', 'FROM requires either one or three arguments'],
    ['FROM a AS', 'FROM requires either one or three arguments'],
    ['FROM a AS b c', 'FROM requires either one or three arguments'],
    ['FROM a AS 1st', 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
    ['FROM a AS -x', 'invalid name for build stage: "-x", name can\'t start with a number or contain symbols'],
    ['FROM a AS my$stage', 'invalid name for build stage: "my$stage", name can\'t start with a number or contain symbols'],
    ['FROM a AS _x', 'invalid name for build stage: "_x", name can\'t start with a number or contain symbols'],
    ['FROM a AS x/y', 'invalid name for build stage: "x/y", name can\'t start with a number or contain symbols'],
  ])('%j → %s', (text, message) => {
    const e = instructionError(text);
    expect(e.message).toBe(message);
    expect(e.code).toBe(message.startsWith('invalid name') ? 'INSTR_BAD_STAGE_NAME' : 'INSTR_ARGUMENTS');
  });
});

describe('ARG', () => {
  it.each([
    ['ARG a', [['a', undefined]]],
    ['ARG a=', [['a', '']]],
    ['ARG a=b=c', [['a', 'b=c']]],
    ['ARG a="x y" b', [['a', '"x y"'], ['b', undefined]]],
    ['ARG --flag a', [['a', undefined]]], // BuildKit parses no flags for ARG
  ])('%s → %j', (text, args) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'arg') throw new Error(ins.kind);
    expect(ins.args.map((a) => [a.key, a.value])).toEqual(args);
  });

  it.each([
    ['ARG', 'ARG requires at least one argument', 'INSTR_ARGUMENTS'],
    ['ARG =value', 'ARG names can not be blank', 'INSTR_BLANK_NAME'],
    ['ARG ok=1 =value', 'ARG names can not be blank', 'INSTR_BLANK_NAME'],
  ])('%j → %s', (text, message, code) => {
    const e = instructionError(text);
    expect([e.code, e.message]).toEqual([code, message]);
  });
});

describe('SHELL, VOLUME, ENV, LABEL, EXPOSE, ONBUILD', () => {
  it.each([
    ['SHELL ["powershell", "-command"]', ['powershell', '-command']],
    ['SHELL ["/bin/bash", "-eo", "pipefail", "-c"]', ['/bin/bash', '-eo', 'pipefail', '-c']],
  ])('%s → %j', (text, shell) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'shell') throw new Error(ins.kind);
    expect(ins.shell).toEqual(shell);
  });

  it.each([
    ['SHELL /bin/sh -c', 'INSTR_SHELL_NOT_JSON', 'SHELL requires the arguments to be in JSON form'],
    ['SHELL []', 'INSTR_ARGUMENTS', 'SHELL requires at least one argument'],
    ['SHELL', 'INSTR_ARGUMENTS', 'SHELL requires at least one argument'],
    ['VOLUME [""]', 'INSTR_ARGUMENTS', 'VOLUME specified can not be an empty string'],
    ['VOLUME ["/a", "  "]', 'INSTR_ARGUMENTS', 'VOLUME specified can not be an empty string'],
    ['VOLUME []', 'INSTR_ARGUMENTS', 'VOLUME requires at least one argument'],
    ['EXPOSE', 'INSTR_ARGUMENTS', 'EXPOSE requires at least one argument'],
    ['ONBUILD --x RUN true', 'INSTR_UNKNOWN_FLAG', 'unknown flag: --x'],
  ])('%j → %s: %s', (text, code, message) => {
    const e = instructionError(text);
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it.each([
    ['VOLUME /a /b', ['/a', '/b']],
    ['VOLUME ["/a ", " /b"]', ['/a', '/b']],
    ['VOLUME ["/data"]', ['/data']],
  ])('%s → %j', (text, volumes) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'volume') throw new Error(ins.kind);
    expect(ins.volumes).toEqual(volumes);
  });

  it.each([
    ['ENV A=1 B="two words" C=', [['A', '1', false], ['B', '"two words"', false], ['C', '', false]]],
    ['ENV PATH /usr/bin:$PATH', [['PATH', '/usr/bin:$PATH', true]]],
    ['ENV A  b  c ', [['A', 'b  c', true]]],
  ])('%s → %j', (text, pairs) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'env') throw new Error(ins.kind);
    expect(ins.env.map((p) => [p.key, p.value, p.noDelim])).toEqual(pairs);
  });

  it('LABEL keeps quotes in values (they are removed by expansion later)', () => {
    const ins = instructionOf('LABEL "com.example.vendor"="ACME Inc" version=1.0');
    if (ins.kind !== 'label') throw new Error(ins.kind);
    expect(ins.labels.map((p) => [p.key, p.value, p.noDelim])).toEqual([
      ['"com.example.vendor"', '"ACME Inc"', false],
      ['version', '1.0', false],
    ]);
  });

  it('EXPOSE ports are sorted as strings', () => {
    const ins = instructionOf('EXPOSE 8080 443/tcp 80 53/udp');
    if (ins.kind !== 'expose') throw new Error(ins.kind);
    expect(ins.ports).toEqual(['443/tcp', '53/udp', '80', '8080']);
  });

  it.each([
    ['ONBUILD RUN echo hi', 'RUN echo hi'],
    ['onbuild   copy a b', 'copy a b'],
    ['ONBUILD ADD --chown=1:1 a /b', 'ADD --chown=1:1 a /b'],
  ])('%s → expression %j', (text, expression) => {
    const ins = instructionOf(text);
    if (ins.kind !== 'onbuild') throw new Error(ins.kind);
    expect(ins.expression).toBe(expression);
  });
});

// ---------------------------------------------------------------------------------------------
// "Flags each instruction accepts": every instruction with each flag it accepts, and with an
// unknown flag. The unknown-flag error names the flag and lists the accepted ones.

interface FlagRow {
  readonly keyword: string;
  /** The rest of a valid line after the flag. */
  readonly rest: string;
  readonly accepted: readonly string[];
  /** BuildKit never calls Parse() for these: any flag passes. */
  readonly ignoresFlags?: boolean;
}

const FLAG_ROWS: FlagRow[] = [
  { keyword: 'ADD', rest: 'a /b', accepted: ['--chown=1:1', '--chmod=644', '--link', '--keep-git-dir', '--checksum=sha256:abc', '--unpack=false', '--exclude=*.md'] },
  { keyword: 'ARG', rest: 'a=1', accepted: [], ignoresFlags: true },
  { keyword: 'CMD', rest: 'true', accepted: [] },
  { keyword: 'COPY', rest: 'a /b', accepted: ['--chown=1:1', '--from=build', '--chmod=644', '--link=true', '--exclude=*.md', '--parents'] },
  { keyword: 'ENTRYPOINT', rest: 'true', accepted: [] },
  { keyword: 'ENV', rest: 'A=1', accepted: [] },
  { keyword: 'EXPOSE', rest: '80', accepted: [] },
  { keyword: 'FROM', rest: 'alpine', accepted: ['--platform=linux/amd64'] },
  { keyword: 'HEALTHCHECK', rest: 'CMD true', accepted: ['--interval=5s', '--timeout=5s', '--start-period=5s', '--start-interval=5s', '--retries=3'] },
  { keyword: 'LABEL', rest: 'a=b', accepted: [] },
  { keyword: 'MAINTAINER', rest: 'me', accepted: [] },
  { keyword: 'ONBUILD', rest: 'RUN true', accepted: [] },
  { keyword: 'RUN', rest: 'true', accepted: ['--mount=type=cache,target=/c', '--network=none', '--security=insecure', '--device=gpu'] },
  { keyword: 'SHELL', rest: '["/bin/sh", "-c"]', accepted: [] },
  { keyword: 'STOPSIGNAL', rest: 'SIGTERM', accepted: [], ignoresFlags: true },
  { keyword: 'USER', rest: 'root', accepted: [] },
  { keyword: 'VOLUME', rest: '/v', accepted: [] },
  { keyword: 'WORKDIR', rest: '/w', accepted: [] },
];

describe('flags each instruction accepts', () => {
  it('the table covers every instruction', () => {
    expect(FLAG_ROWS.map((r) => r.keyword)).toEqual([...INSTRUCTION_NAMES].sort());
  });

  const acceptedCases = FLAG_ROWS.flatMap((r) => r.accepted.map((f) => [r.keyword, f, r.rest] as const));
  it.each(acceptedCases)('%s %s is accepted', (keyword, flag, rest) => {
    const ins = instructionOf(`${keyword} ${flag} ${rest}`);
    expect(ins.kind).toBe(keyword.toLowerCase());
    expect(ins.node.flags.map((f) => f.text)).toEqual([flag]);
  });

  it.each(FLAG_ROWS.map((r) => [r.keyword, r] as const))('%s --bogus=1 …', (keyword, row) => {
    const text = `${keyword} --bogus=1 ${row.rest}`;
    if (row.ignoresFlags) {
      expect(instructionOf(text).kind).toBe(keyword.toLowerCase());
      return;
    }
    const e = instructionError(text);
    expect(e.code).toBe('INSTR_UNKNOWN_FLAG');
    expect(e.message).toBe('unknown flag: --bogus');
    const names = row.accepted.map((f) => f.split('=')[0]!).sort();
    expect(e.suggestion).toBe(names.length === 0 ? `${keyword} accepts no flags` : `${keyword} accepts ${names.join(', ')}`);
    // The range is the flag itself.
    expect(e.range).toEqual({
      start: { line: 1, column: keyword.length + 2, offset: keyword.length + 1 },
      end: { line: 1, column: keyword.length + 11, offset: keyword.length + 10 },
    });
  });

  it('a near miss is suggested in the message', () => {
    const e = instructionError('COPY --form=build a /b');
    expect(e.message).toBe('unknown flag: --form (did you mean --from?)');
    expect(e.suggestion).toBe('COPY accepts --chmod, --chown, --exclude, --from, --link, --parents');
  });

  it.each([
    ['COPY --from a /b', 'INSTR_FLAG_VALUE', 'missing a value on flag: --from'],
    ['COPY --link= a /b', 'INSTR_FLAG_VALUE', 'missing a value on flag: --link'],
    ['COPY --link=yes a /b', 'INSTR_FLAG_VALUE', 'expecting boolean value for flag --link, not: yes'],
    ['COPY --from=a --from=b a /b', 'INSTR_DUPLICATE_FLAG', 'duplicate flag specified: --from'],
    ['ADD --exclude a /b', 'INSTR_FLAG_VALUE', 'missing a value on flag: --exclude'],
  ])('%s → %s: %s', (text, code, message) => {
    const e = instructionError(text);
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it('COPY and ADD flag values', () => {
    const c = instructionOf('COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=a --exclude=b x y /z');
    if (c.kind !== 'copy') throw new Error(c.kind);
    expect([c.from, c.chown, c.chmod, c.link, c.parents, c.exclude]).toEqual(['build', '1:2', '0755', true, true, ['a', 'b']]);
    const a = instructionOf('ADD --keep-git-dir=false --unpack --checksum=sha256:00 x /z');
    if (a.kind !== 'add') throw new Error(a.kind);
    expect([a.keepGitDir, a.unpack, a.checksum, a.link, a.exclude]).toEqual([false, true, 'sha256:00', false, []]);
    const d = instructionOf('ADD x /z');
    if (d.kind !== 'add') throw new Error(d.kind);
    // Not given: undefined, so that the default of the source type applies.
    expect([d.keepGitDir, d.unpack]).toEqual([undefined, undefined]);
  });
});

// ---------------------------------------------------------------------------------------------
// toStages: stages, meta ARGs, and instructions outside a stage

describe('toStages', () => {
  it('groups commands under their FROM and keeps ARGs before the first FROM as meta ARGs', () => {
    const text = 'ARG V=1\nFROM a AS one\nRUN x\nFROM one\nCOPY --from=one /a /b\n';
    const r = toStages(parseDockerfile(text).ast!, { source: text });
    expect(r.errors).toEqual([]);
    expect(r.metaArgs.map((a) => a.args[0]!.key)).toEqual(['V']);
    expect(r.stages.map((s) => [s.index, s.name, s.baseName, s.commands.map((c) => c.kind)])).toEqual([
      [0, 'one', 'a', ['run']],
      [1, '', 'one', ['copy']],
    ]);
  });

  it('reports every error, not only the first, and a command before FROM', () => {
    const text = 'RUN x\nFROM a\nFOO\nCOPY a\nWORKDIR\n';
    const r = checkDockerfile(text, { file: 'Dockerfile' });
    expect(r.errors.map((e) => [e.code, e.range!.start.line])).toEqual([
      ['INSTR_NO_STAGE', 1],
      ['INSTR_UNKNOWN_INSTRUCTION', 3],
      ['INSTR_ARGUMENTS', 4],
      ['INSTR_ARGUMENTS', 5],
    ]);
    expect(r.errors[0]!.message).toBe('no build stage in current context');
    expect(r.errors.every((e) => e.file === 'Dockerfile' && e.source === text)).toBe(true);
  });

  it('syntax errors come before instruction errors', () => {
    const r = checkDockerfile('FROM a\nENV x\nFOO bar\n');
    expect(r.errors.map((e) => e.code)).toEqual(['PARSE_MISSING_VALUE', 'INSTR_UNKNOWN_INSTRUCTION']);
  });
});
