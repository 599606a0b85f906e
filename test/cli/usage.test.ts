/**
 * The command line's contract, through the compiled CLI: every command's --help, unknown flags
 * answered with the closest one, and the exit codes — 0 success, 1 the Dockerfile or the build
 * (or what it needs) failed, 2 the command line is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { busybox, buildWith, tempDir, writeContext } from './helpers.js';

const tmp = tempDir('cli-usage');
afterAll(() => tmp.cleanup());

const USAGE = `build-image 0.1.0: build OCI images from Dockerfiles, no daemon needed

Usage:
  build-image [build] [options] CONTEXT   build the Dockerfile in CONTEXT
  build-image plan [options] CONTEXT      print the build's steps with their cache keys
  build-image parse [options] [FILE]      print the Dockerfile's syntax tree
  build-image help [COMMAND]              show help

Run 'build-image COMMAND --help' for a command's options.
Exit codes: 0 success, 1 the Dockerfile or the build failed, 2 bad usage.
`;

const SHARED = `  -f, --file FILE                                       the Dockerfile (default CONTEXT/Dockerfile; - for stdin)
      --target STAGE                                    the stage to build (default: the last one)
      --build-arg NAME[=VALUE]                          a build argument (NAME alone takes it from the environment) (repeatable)
      --build-context NAME=DIR|oci-layout://PATH[:TAG]  an extra named context, or a replacement for a FROM image (repeatable)
      --platform OS/ARCH[/VARIANT]                      the platform to build for (default: this machine's)
      --cache-dir DIR                                   the store for layers and cache (default $XDG_CACHE_HOME/build-image)
      --pull                                            ask registries for base image tags again
      --insecure-registry HOST                          reach this registry over plain HTTP (repeatable)
`;

const BUILD_HELP = `Usage: build-image [build] [options] CONTEXT

Builds the Dockerfile in CONTEXT (default: the current directory).

Options:
${SHARED}  -t, --tag NAME[:TAG]                                  name the image (OCI ref.name, docker archive tag, store tag) (repeatable)
  -o, --output SPEC                                     type=oci|docker|local|tar|registry,dest=…,name=… (BuildKit syntax; DIR alone = type=local) (repeatable)
      --push                                            push the image to every -t name (same as -o type=registry,name=…)
      --load                                            load the image into docker (or podman) when one is installed
      --no-cache                                        do not use the build cache
      --secret id=ID,src=FILE|env=VAR                   a secret for RUN --mount=type=secret (repeatable)
      --network default|none|host                       network for RUN steps (default: host's network)
      --progress auto|tty|plain|rawjson|quiet           how to show progress (default auto)
      --iidfile FILE                                    write the image ID (sha256:… of the config) to FILE
      --metadata-file FILE                              write build results (digests, names, outputs) as JSON to FILE
      --jobs N                                          steps run at the same time (default: CPU count)
      --runtime unshare|runc|crun|PATH                  how RUN steps run (default: unshare, built in)
      --allow security.insecure                         an entitlement (security.insecure allows RUN --security=insecure) (repeatable)
  -h, --help                                            show this help
`;

const PLAN_HELP = `Usage: build-image plan [options] CONTEXT

Plans the build of the Dockerfile in CONTEXT without running it: the stages the target needs,
each layer-producing step with its content-addressed cache key, and the stage dependencies.
Base images are resolved (to know their digests) and context files are hashed.

Options:
${SHARED}      --format text|json|dot|mermaid                    how to print the plan (default text)
  -h, --help                                            show this help
`;

const PARSE_HELP = `Usage: build-image parse [options] [FILE]

Parses a Dockerfile and prints its syntax tree: as JSON (every node with its source range),
or in BuildKit's Dump() format (what \`docker build\`'s parser produces).

Options:
  -f, --file FILE             the Dockerfile (default ./Dockerfile; - for stdin)
      --format json|buildkit  output: the AST as JSON (default) or BuildKit's Dump() format
  -h, --help                  show this help
`;

describe('help', () => {
  it.each<[string[], string]>([
    [[], USAGE],
    [['--help'], USAGE],
    [['-h'], USAGE],
    [['help'], USAGE],
    [['help', 'nonsense'], USAGE],
    [['help', 'build'], BUILD_HELP],
    [['build', '--help'], BUILD_HELP],
    [['build', '-h'], BUILD_HELP],
    [['--help', 'build'], BUILD_HELP],
    // `build` is the default command: its options work without the word.
    [['--no-cache', '--help'], BUILD_HELP],
    [['help', 'plan'], PLAN_HELP],
    [['plan', '--help'], PLAN_HELP],
    [['plan', '-h', '--format', 'dot'], PLAN_HELP],
    [['help', 'parse'], PARSE_HELP],
    [['parse', '--help'], PARSE_HELP],
  ])('build-image %j prints its help on stdout and exits 0', async (args, text) => {
    expect(await runCli(args)).toEqual({ code: 0, stdout: text, stderr: '' });
  });

  it('every docker build flag of the issue is in `build --help`', () => {
    const flags = ['-f, --file', '-t, --tag', '--target', '--build-arg', '--build-context', '--secret', '-o, --output', '--platform', '--progress', '--no-cache', '--pull', '--network', '--iidfile', '--metadata-file', '--cache-dir', '--jobs', '--load'];
    for (const f of flags) expect(BUILD_HELP).toMatch(new RegExp(`^  ${f.startsWith('--') ? '    ' : ''}${f} `, 'm'));
  });
});

describe('unknown flags get the closest known one', () => {
  it.each<[string[], string]>([
    [['build', '--tags', 'x', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --tags for 'build'\nhint: did you mean --tag?\n"],
    [['build', '--no-cach', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --no-cach for 'build'\nhint: did you mean --no-cache?\n"],
    [['build', '--buildarg', 'A=1', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --buildarg for 'build'\nhint: did you mean --build-arg?\n"],
    [['build', '--iid-file=x', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --iid-file for 'build'\nhint: did you mean --iidfile?\n"],
    [['build', '--secrets', 'id=a', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --secrets for 'build'\nhint: did you mean --secret?\n"],
    [['--progres', 'plain', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --progres for 'build'\nhint: did you mean --progress?\n"],
    [['plan', '--formt', 'dot', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --formt for 'plan'\nhint: did you mean --format?\n"],
    // plan does not write images: --output is a build flag.
    [['plan', '--output', 'x', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --output for 'plan'\nhint: run 'build-image plan --help'\n"],
    [['parse', '--fiel', 'Dockerfile'], "error CLI_UNKNOWN_FLAG: unknown flag: --fiel for 'parse'\nhint: did you mean --file?\n"],
    [['build', '--completely-different', '.'], "error CLI_UNKNOWN_FLAG: unknown flag: --completely-different for 'build'\nhint: run 'build-image build --help'\n"],
    [['build', '-x', '.'], "error CLI_UNKNOWN_FLAG: unknown shorthand flag: 'x' in -x\nhint: run 'build-image build --help'\n"],
    [['bulid', '.'], 'error CLI_UNKNOWN_COMMAND: unknown command "bulid"\nhint: did you mean build?\n'],
  ])('build-image %j exits 2', async (args, stderr) => {
    expect(await runCli(args, { cwd: tmp.path })).toEqual({ code: 2, stdout: '', stderr });
  });
});

describe('exit codes', () => {
  let bb: Awaited<ReturnType<typeof busybox>>;
  const cache = `${tmp.path}/cache`;
  let ok: string;
  beforeAll(async () => {
    bb = await busybox();
    ok = writeContext(tmp.path, 'ok', { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
  });

  it('0: a build that succeeded, --help, --version', async () => {
    expect((await buildWith(cache, ['--progress', 'quiet', ok])).code).toBe(0);
    expect((await runCli(['--version'])).code).toBe(0);
    expect((await runCli(['plan', '--cache-dir', cache, ok])).code).toBe(0);
  });

  /** [what, Dockerfile (or undefined: none), extra flags, error code on the first stderr line] */
  const failures: Array<[string, string | undefined, string[], string]> = [
    ['a Dockerfile error', 'FROM scratch\nCOPPY a.txt /\n', [], 'INSTR_UNKNOWN_INSTRUCTION'],
    ['no Dockerfile in the context', undefined, [], 'BUILD_NO_DOCKERFILE'],
    ['a COPY source that does not exist', 'FROM scratch\nCOPY missing.txt /\n', [], 'CONTEXT_SOURCE_NOT_FOUND'],
    ['a --target the Dockerfile does not have', 'FROM scratch AS base\nCOPY a.txt /\n', ['--target', 'nope'], 'PLAN_UNKNOWN_TARGET'],
    ['a RUN step that fails', 'FROM busybox\nRUN exit 7\n', ['BB'], 'RUN_FAILED'],
    ['an --iidfile that cannot be written (the image was built)', 'FROM scratch\nCOPY a.txt /\n', ['--iidfile', '/nonexistent-dir/iid'], 'CLI_WRITE_FAILED'],
    ['a --metadata-file that cannot be written', 'FROM scratch\nCOPY a.txt /\n', ['--metadata-file', '/nonexistent-dir/m.json'], 'CLI_WRITE_FAILED'],
  ];

  it.each(failures)('1: %s', async (what, dockerfile, flags, code) => {
    const files: Record<string, string> = { 'a.txt': 'a\n' };
    if (dockerfile !== undefined) files['Dockerfile'] = dockerfile;
    const ctx = writeContext(tmp.path, `fail-${failures.findIndex((f) => f[0] === what)}`, files);
    const args = flags.flatMap((f) => (f === 'BB' ? bb.flags : [f]));
    const r = await buildWith(cache, ['--progress', 'quiet', ...args, ctx]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^error ${code}: `));
    expect(r.stderr).not.toMatch(/^\s+at .*\.(m?js|ts):\d+/m); // no stack trace, ever
  });

  /** [flags, the whole stderr] — the command line is wrong: nothing is read or built. */
  const usage: Array<[string[], string]> = [
    [['--progress', 'fancy'], 'error CLI_BAD_FLAG: invalid --progress "fancy"\nhint: use one of auto, tty, plain, rawjson, quiet\n'],
    [['--progress', 'plian'], 'error CLI_BAD_FLAG: invalid --progress "plian"\nhint: did you mean plain?\n'],
    [['--network', 'bridge'], 'error CLI_BAD_FLAG: invalid --network "bridge"\nhint: use default, none or host\n'],
    [['--jobs', '0'], 'error CLI_BAD_FLAG: invalid --jobs "0": expected a positive number\n'],
    [['--jobs', 'many'], 'error CLI_BAD_FLAG: invalid --jobs "many": expected a positive number\n'],
    [['--no-cache=maybe'], 'error CLI_BAD_FLAG: invalid value "maybe" for --no-cache: expected true or false\n'],
    [['--build-arg', '=x'], 'error CLI_BAD_FLAG: invalid --build-arg "=x": the name is empty\n'],
    [['--build-context', 'noequals'], 'error CLI_BAD_FLAG: invalid --build-context "noequals": expected NAME=VALUE\n'],
    [['--build-context', 'x=https://example.com/ctx.tar'], 'error CLI_BAD_FLAG: --build-context x=https://example.com/ctx.tar: unsupported source\nhint: use a directory or oci-layout://PATH[:TAG|@DIGEST]\n'],
    [['-o', 'type=bogus'], 'error CLI_BAD_FLAG: invalid --output "type=bogus": unsupported output type "bogus"\nhint: supported types: oci, docker, local, tar, registry, image\n'],
    [['--output', 'type=oci'], 'error CLI_BAD_FLAG: invalid --output "type=oci": type=oci output needs dest=…\nhint: e.g. type=oci,dest=image.tar\n'],
    [['--secret', 'bogus'], 'error CLI_BAD_FLAG: invalid --secret "bogus": invalid secret "bogus": field "bogus" must be a key=value pair\n'],
    [['--platform', 'linux/amd64/v2/extra'], 'error CLI_BAD_FLAG: invalid --platform "linux/amd64/v2/extra": invalid platform "linux/amd64/v2/extra": cannot parse platform specifier\nhint: write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8\n'],
    // As docker: an upper-case first component is a registry host, so the repository is "Image".
    [['-t', 'My/Image:1'], 'error CLI_BAD_FLAG: invalid --tag "My/Image:1": invalid reference format "My/Image:1": repository name (Image) must be lowercase\nhint: write it in lowercase: image\n'],
    [['-t', 'Image'], 'error CLI_BAD_FLAG: invalid --tag "Image": invalid reference format "Image": repository name (library/Image) must be lowercase\nhint: write it in lowercase: library/image\n'],
    [['-t', `x@sha256:${'0'.repeat(64)}`], `error CLI_BAD_FLAG: invalid --tag "x@sha256:${'0'.repeat(64)}": refusing to create a tag with a digest reference\n`],
    [['--push'], 'error CLI_USAGE: --push needs at least one -t NAME to push to\n'],
    [['--target'], 'error CLI_BAD_FLAG: flag needs an argument: --target\n'],
    [['OTHER'], 'error CLI_USAGE: build takes one context directory, got 2: other CTX\n'],
  ];

  it.each(usage)('2: build %j', async (flags, stderr) => {
    const args = flags[0] === 'OTHER' ? ['build', '--cache-dir', cache, 'other', ok] : ['build', '--cache-dir', cache, ...flags, ...(flags[0] === '--target' ? [] : [ok])];
    const r = await runCli(args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: stderr.replace(' CTX', ` ${ok}`) });
  });
});

describe('parse and argument edge cases', () => {
  it('parse: a syntax error prints the frame and exits 1', async () => {
    const ctx = writeContext(tmp.path, 'parse-error', { Dockerfile: 'FROM alpine\nRUN <<EOF\necho hi\n' });
    expect(await runCli(['parse', 'Dockerfile'], { cwd: ctx })).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'error PARSE_UNTERMINATED_HEREDOC: unterminated heredoc: no line `EOF` ends it',
        '  at Dockerfile:2:1 (line 2, column 1)',
        '  1 | FROM alpine',
        '> 2 | RUN <<EOF',
        '    | ^^^^^^^^^',
        '> 3 | echo hi',
        '',
      ].join('\n'),
    });
  });

  it('parse: -f FILE and FILE together is bad usage (exit 2)', async () => {
    expect(await runCli(['parse', '-f', 'a', 'b'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error CLI_USAGE: parse takes one Dockerfile: give it with -f FILE or as FILE, not both\n',
    });
  });

  it('-- ends the options: what follows is the context, even when it starts with -', async () => {
    const ctx = writeContext(tmp.path, '-dash', { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const r = await runCli(['build', '--cache-dir', `${tmp.path}/cache-dash`, '--progress', 'quiet', '--', '-dash'], { cwd: tmp.path });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`stored in the local image store (an OCI layout): ${tmp.path}/cache-dash:dash:latest\n`);
    expect(ctx.endsWith('/-dash')).toBe(true);
  });

  it('a directory named like a mistyped command is a context, not an unknown command', async () => {
    writeContext(tmp.path, 'bulid', { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n' });
    const r = await runCli(['bulid', '--cache-dir', `${tmp.path}/cache-bulid`, '--progress', 'quiet'], { cwd: tmp.path });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(':bulid:latest\n');
  });
});
