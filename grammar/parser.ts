/**
 * The Dockerfile grammar (chevrotain, embedded actions).
 *
 *     dockerfile   := directiveLine* line*
 *     line         := Whitespace? (Newline | Comment lineEnd | instruction lineEnd)
 *     instruction  := fromInstruction | runInstruction | … | unknownInstruction
 *     runInstruction := RUN flags? (execForm | shellForm)?
 *     …
 *
 * The parser recognises the shape of every instruction: its keyword, its leading flags, the
 * exec (JSON) or shell form of its arguments — exec form is chosen exactly when the logical
 * rest of the line decodes as a JSON array, as BuildKit does, otherwise shell form is taken
 * silently — ONBUILD wrapping another instruction, and heredoc bodies after RUN/COPY/ADD.
 * Rules return small records that point into the token vector; `src/syntax` turns them into
 * the AST with BuildKit's exact splitting of each logical line.
 *
 * One parser instance serves the whole process (`parser.input = tokens` resets it).
 */
import { EmbeddedActionsParser, EOF, type IToken, type TokenType } from 'chevrotain';
import { parseJsonArray } from './split.js';
import * as T from './tokens.js';

export type InstructionFamily =
  | 'from'
  | 'run'
  | 'cmd'
  | 'entrypoint'
  | 'shell'
  | 'copy'
  | 'add'
  | 'volume'
  | 'env'
  | 'label'
  | 'arg'
  | 'expose'
  | 'user'
  | 'workdir'
  | 'stopsignal'
  | 'maintainer'
  | 'healthcheck'
  | 'onbuild'
  | 'unknown';

/** The shape of one instruction as recognised by the grammar. */
export interface InstructionShape {
  readonly family: InstructionFamily;
  /** Index (in the main token vector) of the instruction's first token. */
  readonly first: number;
  /** Index of its last token before the line end (inclusive; `first - 1` if none). */
  readonly last: number;
  /** Exec (JSON) or shell form, for instructions that have the choice. */
  readonly form?: 'exec' | 'shell' | undefined;
  /** The instruction wrapped by ONBUILD. */
  readonly inner?: InstructionShape | undefined;
  /** The token ending the line: Newline, HeredocBodies, or undefined at the end of input. */
  readonly end?: IToken | undefined;
}

export interface FileShape {
  readonly directives: IToken[];
  readonly comments: IToken[];
  readonly instructions: InstructionShape[];
}

const LINE_END = new Set<TokenType>([T.Newline, T.HeredocBodies, EOF]);

class DockerfileParser extends EmbeddedActionsParser {
  /**
   * `validate` runs chevrotain's grammar validations (ambiguities, left recursion …): a
   * development check that costs ~150 ms, so the process-wide parser skips it and a test
   * builds a validating one.
   */
  constructor(validate = false) {
    super(T.allTokens as TokenType[], { maxLookahead: 1, skipValidations: !validate });
    this.performSelfAnalysis();
  }

  /** The index of the last consumed token (chevrotain's lexer adapter keeps it in currIdx). */
  private get position(): number {
    return (this as unknown as { currIdx: number }).currIdx;
  }

  /** The logical rest of the line from LA(1) on, as BuildKit would see it. */
  private restOfLine(): string {
    let text = '';
    for (let i = 1; ; i++) {
      const t = this.LA(i);
      if (LINE_END.has(t.tokenType)) return text;
      text += t.image;
    }
  }

  /** The first token from LA(1) on that is not whitespace (a continuation can split blanks). */
  private nextNonBlank(): TokenType {
    for (let i = 1; ; i++) {
      const t = this.LA(i).tokenType;
      if (t !== T.Whitespace) return t;
    }
  }

  /** Blanks, then a `--flag`. */
  private flagsAhead(): boolean {
    return this.LA(1).tokenType === T.Whitespace && this.nextNonBlank() === T.Flag;
  }

  /** Whitespace, then a word (not the line end). */
  private wordAfterBlanks(): boolean {
    return this.LA(1).tokenType === T.Whitespace && !LINE_END.has(this.nextNonBlank());
  }

  /** A keyword is only the instruction's keyword when whitespace or the line end follows it. */
  private keywordAhead(): boolean {
    const next = this.LA(2).tokenType;
    return next === T.Whitespace || LINE_END.has(next);
  }

  public dockerfile = this.RULE('dockerfile', (): FileShape => {
    const directives: IToken[] = [];
    const comments: IToken[] = [];
    const instructions: InstructionShape[] = [];
    this.MANY({
      // LL(1) with a gate: blanks then a directive (a continuation can never come first).
      GATE: () => this.nextNonBlank() === T.Directive,
      DEF: () => {
        directives.push(this.SUBRULE(this.directiveLine));
      },
    });
    this.MANY2({
      // Blanks followed by the end of the input are the file's last line (below).
      GATE: () => !(this.LA(1).tokenType === T.Whitespace && this.nextNonBlank() === EOF),
      DEF: () => {
      this.MANY3(() => this.CONSUME(T.Whitespace));
      this.OR([
        { ALT: () => this.CONSUME(T.Newline) },
        {
          ALT: () => {
            comments.push(this.CONSUME(T.Comment));
            this.OPTION2(() => this.CONSUME2(T.Newline));
          },
        },
        {
          ALT: () => {
            const shape = this.SUBRULE(this.instruction);
            const end = this.OPTION3(() => this.SUBRULE(this.lineEnd));
            this.ACTION(() => {
              (shape as { end: IToken | undefined }).end = end;
              instructions.push(shape);
            });
          },
        },
      ]);
      },
    });
    // A last line holding only blanks (no newline after it).
    this.MANY4(() => this.CONSUME2(T.Whitespace));
    return { directives, comments, instructions };
  });

  public directiveLine = this.RULE('directiveLine', (): IToken => {
    this.OPTION(() => this.CONSUME(T.Whitespace));
    const directive = this.CONSUME(T.Directive);
    this.OPTION2(() => this.CONSUME(T.Newline));
    return directive;
  });

  public lineEnd = this.RULE('lineEnd', (): IToken => {
    return this.OR([{ ALT: () => this.CONSUME(T.Newline) }, { ALT: () => this.CONSUME(T.HeredocBodies) }]);
  });

  public instruction = this.RULE('instruction', (): InstructionShape => {
    const first = this.position + 1;
    const result = this.OR({
      IGNORE_AMBIGUITIES: true, // keywords are text too; the gate decides
      DEF: [
        { GATE: () => this.keywordAhead(), ALT: () => this.SUBRULE(this.knownInstruction) },
        { ALT: () => this.SUBRULE(this.unknownInstruction) },
      ],
    });
    this.MANY(() => this.CONSUME(T.Whitespace)); // trailing blanks
    const last = this.position;
    return this.ACTION(() => ({ family: result.family, first, last, form: result.form, inner: result.inner, end: undefined }));
  });

  /** Instructions by keyword (keywords in any case). */
  public knownInstruction = this.RULE(
    'knownInstruction',
    (): { family: InstructionFamily; form?: 'exec' | 'shell' | undefined; inner?: InstructionShape } => {
      return this.OR([
        { ALT: () => this.SUBRULE(this.fromInstruction) },
        { ALT: () => this.SUBRULE(this.runInstruction) },
        { ALT: () => this.SUBRULE(this.cmdInstruction) },
        { ALT: () => this.SUBRULE(this.entrypointInstruction) },
        { ALT: () => this.SUBRULE(this.shellInstruction) },
        { ALT: () => this.SUBRULE(this.copyInstruction) },
        { ALT: () => this.SUBRULE(this.addInstruction) },
        { ALT: () => this.SUBRULE(this.volumeInstruction) },
        { ALT: () => this.SUBRULE(this.envInstruction) },
        { ALT: () => this.SUBRULE(this.labelInstruction) },
        { ALT: () => this.SUBRULE(this.argInstruction) },
        { ALT: () => this.SUBRULE(this.exposeInstruction) },
        { ALT: () => this.SUBRULE(this.userInstruction) },
        { ALT: () => this.SUBRULE(this.workdirInstruction) },
        { ALT: () => this.SUBRULE(this.stopsignalInstruction) },
        { ALT: () => this.SUBRULE(this.maintainerInstruction) },
        { ALT: () => this.SUBRULE(this.healthcheckInstruction) },
        { ALT: () => this.SUBRULE(this.onbuildInstruction) },
      ]);
    },
  );

  // --- instructions -------------------------------------------------------------------------

  public fromInstruction = this.RULE('fromInstruction', () => {
    this.CONSUME(T.From);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.words));
    return { family: 'from' as const };
  });

  public runInstruction = this.RULE('runInstruction', () => {
    this.CONSUME(T.Run);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.commandForm));
    return { family: 'run' as const, form };
  });

  public cmdInstruction = this.RULE('cmdInstruction', () => {
    this.CONSUME(T.Cmd);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.commandForm));
    return { family: 'cmd' as const, form };
  });

  public entrypointInstruction = this.RULE('entrypointInstruction', () => {
    this.CONSUME(T.Entrypoint);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.commandForm));
    return { family: 'entrypoint' as const, form };
  });

  public shellInstruction = this.RULE('shellInstruction', () => {
    this.CONSUME(T.Shell);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.commandForm));
    return { family: 'shell' as const, form };
  });

  public copyInstruction = this.RULE('copyInstruction', () => {
    this.CONSUME(T.Copy);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.pathList));
    return { family: 'copy' as const, form };
  });

  public addInstruction = this.RULE('addInstruction', () => {
    this.CONSUME(T.Add);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.pathList));
    return { family: 'add' as const, form };
  });

  public volumeInstruction = this.RULE('volumeInstruction', () => {
    this.CONSUME(T.Volume);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const form = this.OPTION2(() => this.SUBRULE(this.pathList));
    return { family: 'volume' as const, form };
  });

  public envInstruction = this.RULE('envInstruction', () => {
    this.CONSUME(T.Env);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.keyValues));
    return { family: 'env' as const };
  });

  public labelInstruction = this.RULE('labelInstruction', () => {
    this.CONSUME(T.Label);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.keyValues));
    return { family: 'label' as const };
  });

  public argInstruction = this.RULE('argInstruction', () => {
    this.CONSUME(T.Arg);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.keyValues));
    return { family: 'arg' as const };
  });

  public exposeInstruction = this.RULE('exposeInstruction', () => {
    this.CONSUME(T.Expose);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.words));
    return { family: 'expose' as const };
  });

  public userInstruction = this.RULE('userInstruction', () => {
    this.CONSUME(T.User);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.text));
    return { family: 'user' as const };
  });

  public workdirInstruction = this.RULE('workdirInstruction', () => {
    this.CONSUME(T.Workdir);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.text));
    return { family: 'workdir' as const };
  });

  public stopsignalInstruction = this.RULE('stopsignalInstruction', () => {
    this.CONSUME(T.Stopsignal);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.text));
    return { family: 'stopsignal' as const };
  });

  public maintainerInstruction = this.RULE('maintainerInstruction', () => {
    this.CONSUME(T.Maintainer);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    this.OPTION2(() => this.SUBRULE(this.text));
    return { family: 'maintainer' as const };
  });

  /** HEALTHCHECK [flags] (NONE | CMD command | type …): the type is any first word. */
  public healthcheckInstruction = this.RULE('healthcheckInstruction', () => {
    this.CONSUME(T.Healthcheck);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    let form: 'exec' | 'shell' | undefined;
    this.OPTION2({
      GATE: () => this.wordAfterBlanks(),
      DEF: () => {
      this.AT_LEAST_ONE(() => this.CONSUME(T.Whitespace));
      this.SUBRULE(this.healthcheckType);
      form = this.OPTION3(() => this.SUBRULE(this.commandForm));
      },
    });
    return { family: 'healthcheck' as const, form };
  });

  public healthcheckType = this.RULE('healthcheckType', () => {
    this.AT_LEAST_ONE(() => this.CONSUME(T.Text));
  });

  /** ONBUILD [flags] instruction: the rest of the line is parsed again as an instruction. */
  public onbuildInstruction = this.RULE('onbuildInstruction', () => {
    this.CONSUME(T.Onbuild);
    this.OPTION({ GATE: () => this.flagsAhead(), DEF: () => this.SUBRULE(this.flags) });
    const inner = this.OPTION2({
      GATE: () => this.wordAfterBlanks(),
      DEF: () => {
        this.AT_LEAST_ONE(() => this.CONSUME(T.Whitespace));
        return this.SUBRULE(this.instruction);
      },
    });
    return { family: 'onbuild' as const, inner };
  });

  /** Any other word at the start of a line: kept, and rejected later with a suggestion. */
  public unknownInstruction = this.RULE('unknownInstruction', () => {
    this.CONSUME(T.Text);
    this.OPTION(() => this.SUBRULE(this.anything));
    return { family: 'unknown' as const };
  });

  // --- pieces ----------------------------------------------------------------------------------

  /** Leading `--name[=value]` words; a bare `--` ends them. */
  public flags = this.RULE('flags', () => {
    this.AT_LEAST_ONE({
      GATE: () => this.LA(1).tokenType === T.Whitespace && this.nextNonBlank() === T.Flag,
      DEF: () => {
        this.AT_LEAST_ONE2(() => this.CONSUME(T.Whitespace));
        this.CONSUME(T.Flag);
        this.MANY(() => this.CONSUME(T.Text)); // escaped characters and quotes inside a flag
      },
    });
  });

  /** Exec form (a JSON array of strings) or shell form (the rest of the line). */
  public commandForm = this.RULE('commandForm', (): 'exec' | 'shell' => {
    return this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => this.nextNonBlank() === T.LBracket && parseJsonArray(this.restOfLine()).kind !== 'invalid',
          ALT: () => {
            this.SUBRULE(this.execForm);
            return 'exec' as const;
          },
        },
        {
          ALT: () => {
            this.SUBRULE(this.shellForm);
            return 'shell' as const;
          },
        },
      ],
    });
  });

  /** COPY/ADD/VOLUME: a JSON array of strings, or whitespace-separated words. */
  public pathList = this.RULE('pathList', (): 'exec' | 'shell' => {
    return this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => this.nextNonBlank() === T.LBracket && parseJsonArray(this.restOfLine()).kind !== 'invalid',
          ALT: () => {
            this.SUBRULE(this.jsonArray);
            return 'exec' as const;
          },
        },
        {
          ALT: () => {
            this.SUBRULE(this.words);
            return 'shell' as const;
          },
        },
      ],
    });
  });

  public execForm = this.RULE('execForm', () => {
    this.SUBRULE(this.jsonArray);
  });

  public shellForm = this.RULE('shellForm', () => {
    this.SUBRULE(this.anything);
  });

  /** `[ "…", … ]` — validated as JSON when chosen; the tokens are consumed to the line end. */
  public jsonArray = this.RULE('jsonArray', () => {
    this.MANY(() => this.CONSUME(T.Whitespace));
    this.CONSUME(T.LBracket);
    this.MANY2(() => this.OR([{ ALT: () => this.CONSUME(T.Text) }, { ALT: () => this.CONSUME2(T.Whitespace) }]));
  });

  /** Whitespace-separated words (FROM, EXPOSE, COPY/ADD/VOLUME in shell form). */
  public words = this.RULE('words', () => {
    this.SUBRULE(this.anything);
  });

  /** `key=value …` or the legacy `key value` (ENV, LABEL) and `name[=default] …` (ARG). */
  public keyValues = this.RULE('keyValues', () => {
    this.SUBRULE(this.anything);
  });

  /** The rest of the line as one string (USER, WORKDIR, STOPSIGNAL, MAINTAINER). */
  public text = this.RULE('text', () => {
    this.SUBRULE(this.anything);
  });

  /** Any tokens up to the end of the line. */
  public anything = this.RULE('anything', () => {
    this.AT_LEAST_ONE(() =>
      this.OR([{ ALT: () => this.CONSUME(T.Text) }, { ALT: () => this.CONSUME(T.Whitespace) }]),
    );
  });
}

/** A new parser instance; `validate` checks the grammar (for tests and diagram generation). */
export function createDockerfileParser(validate = false): DockerfileParser {
  return new DockerfileParser(validate);
}

let instance: DockerfileParser | undefined;

/** The process-wide parser (built on first use). */
export function dockerfileParser(): DockerfileParser {
  instance ??= new DockerfileParser();
  return instance;
}

export type { DockerfileParser };
