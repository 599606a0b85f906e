/**
 * Typed Dockerfile instructions (BuildKit's frontend/dockerfile/instructions/commands.go),
 * grouped into stages. Values are as written — variables are expanded later, by the planner,
 * with the environment of the moment.
 */
import type { SourceRange } from '../errors.js';
import type { InstructionNode } from '../syntax/ast.js';

interface Base {
  /** The AST node: source range, original text, flags with ranges. */
  readonly node: InstructionNode;
  readonly range: SourceRange;
}

/** A command line for RUN, CMD, ENTRYPOINT and HEALTHCHECK. */
export interface CommandLine {
  /** Exec form: the JSON array; shell form: one string (the arguments joined by a space). */
  readonly cmdLine: readonly string[];
  /** Shell form: the command runs through SHELL (default `/bin/sh -c`). */
  readonly prependShell: boolean;
  /** Heredoc files (RUN <<EOF): name, raw body, and whether `<<-` was used. */
  readonly files: readonly { readonly name: string; readonly data: string; readonly chomp: boolean }[];
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Legacy `KEY value` form (no `=`). */
  readonly noDelim: boolean;
}

export interface ArgDefinition {
  readonly key: string;
  /** The default, or undefined for a bare `ARG NAME`. */
  readonly value: string | undefined;
  /** From a comment line `# NAME description` just above. */
  readonly docComment: string;
}

export interface InlineSource {
  /** The heredoc name, used as the file name. */
  readonly path: string;
  readonly data: string;
  /** False when the heredoc terminator was quoted. */
  readonly expand: boolean;
}

export interface SourcesAndDest {
  readonly sourcePaths: readonly string[];
  readonly sourceContents: readonly InlineSource[];
  readonly dest: string;
}

export interface RunInstruction extends Base, CommandLine {
  readonly kind: 'run';
  /** `--mount` values, unparsed (they are expanded before parsing: see parseMount). */
  readonly mounts: readonly string[];
  readonly network: 'default' | 'none' | 'host';
  readonly security: 'sandbox' | 'insecure';
  readonly devices: readonly { readonly name: string; readonly required: boolean }[];
  /** Flags given, in the order given (names without `--`). */
  readonly flagsUsed: readonly string[];
}

export interface CmdInstruction extends Base, CommandLine {
  readonly kind: 'cmd';
}

export interface EntrypointInstruction extends Base, CommandLine {
  readonly kind: 'entrypoint';
}

export interface ShellInstruction extends Base {
  readonly kind: 'shell';
  readonly shell: readonly string[];
}

export interface CopyInstruction extends Base, SourcesAndDest {
  readonly kind: 'copy';
  readonly from: string;
  readonly chown: string;
  readonly chmod: string;
  readonly link: boolean;
  readonly parents: boolean;
  readonly exclude: readonly string[];
}

export interface AddInstruction extends Base, SourcesAndDest {
  readonly kind: 'add';
  readonly chown: string;
  readonly chmod: string;
  readonly link: boolean;
  readonly keepGitDir: boolean | undefined;
  readonly checksum: string;
  readonly unpack: boolean | undefined;
  readonly exclude: readonly string[];
}

export interface EnvInstruction extends Base {
  readonly kind: 'env';
  readonly env: readonly KeyValue[];
}

export interface LabelInstruction extends Base {
  readonly kind: 'label';
  readonly labels: readonly KeyValue[];
}

export interface ArgInstruction extends Base {
  readonly kind: 'arg';
  readonly args: readonly ArgDefinition[];
}

export interface ExposeInstruction extends Base {
  readonly kind: 'expose';
  /** Sorted, as BuildKit sorts them. */
  readonly ports: readonly string[];
}

export interface UserInstruction extends Base {
  readonly kind: 'user';
  readonly user: string;
}

export interface WorkdirInstruction extends Base {
  readonly kind: 'workdir';
  readonly path: string;
}

export interface StopSignalInstruction extends Base {
  readonly kind: 'stopsignal';
  readonly signal: string;
}

export interface MaintainerInstruction extends Base {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

export interface VolumeInstruction extends Base {
  readonly kind: 'volume';
  readonly volumes: readonly string[];
}

/** Durations in nanoseconds (0 means "use the default"). */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", …]` (exec form) or `["CMD-SHELL", "…"]` (shell form). */
  readonly test: readonly string[];
  readonly interval: number;
  readonly timeout: number;
  readonly startPeriod: number;
  readonly startInterval: number;
  readonly retries: number;
}

export interface HealthcheckInstruction extends Base {
  readonly kind: 'healthcheck';
  readonly health: HealthConfig;
}

export interface OnbuildInstruction extends Base {
  readonly kind: 'onbuild';
  /** The trigger as it will be stored in the image config (`RUN echo hi`). */
  readonly expression: string;
}

/** Everything that can appear inside a stage. */
export type Command =
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | UserInstruction
  | WorkdirInstruction
  | StopSignalInstruction
  | MaintainerInstruction
  | VolumeInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

/** FROM: the start of a stage. */
export interface FromInstruction extends Base {
  readonly kind: 'from';
  readonly baseName: string;
  /** Lowercased stage name, or '' when the stage has none. */
  readonly name: string;
  readonly platform: string;
  readonly docComment: string;
}

export type Instruction = FromInstruction | Command;

export interface Stage {
  /** Position among the stages (0-based), usable in `COPY --from=<index>`. */
  readonly index: number;
  readonly from: FromInstruction;
  /** Shorthands for from.name / from.baseName / from.platform. */
  readonly name: string;
  readonly baseName: string;
  readonly platform: string;
  readonly commands: readonly Command[];
}

export interface Stages {
  readonly stages: readonly Stage[];
  /** ARGs before the first FROM (visible only in FROM lines unless re-declared). */
  readonly metaArgs: readonly ArgInstruction[];
}
