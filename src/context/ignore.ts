/**
 * `.dockerignore`: reading the file (moby/patternmatcher `ignorefile.ReadAll`), compiling its
 * patterns (`patternmatcher.New` / `Pattern.compile`) and deciding paths the way fsutil's
 * filtered walk does (`MatchesUsingParentResults` plus its skip-directory rule), so that what
 * we leave out of a context is exactly what `docker build` leaves out.
 */
import { readFile } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { BuildImageError } from '../errors.js';
import { BadPatternError, validateGlob } from './glob.js';
import { cleanPath, trimSpace } from './paths.js';

/** One pattern line of an ignore file. */
export interface IgnoreRule {
  /** The pattern as matched: cleaned (`filepath.Clean`), no leading `/`, no `!`. */
  readonly pattern: string;
  /** A `!` line: an exception that re-includes what earlier lines excluded. */
  readonly exception: boolean;
  /** 1-based line number in the file. */
  readonly line: number;
  /** The line as written, trimmed (what to show people: `!docs/`). */
  readonly text: string;
  /** The ignore file it came from, when known. */
  readonly file?: string | undefined;
}

/** The outcome for one path. */
export interface IgnoreDecision {
  /** True when the path is left out of the build context. */
  readonly excluded: boolean;
  /**
   * The rule that decided: reading the rules in order as patternmatcher does, the one that last
   * set the outcome — for an excluded path the exclusion that matched it or a parent directory,
   * for an included path the `!` exception that re-included it. Undefined when no rule matched.
   */
  readonly rule?: IgnoreRule | undefined;
}

/**
 * The state the matcher keeps per directory while walking down: per rule, whether the directory
 * (or a parent) matched it — patternmatcher's `MatchInfo`.
 */
export interface IgnoreState extends IgnoreDecision {
  /** Per rule: whether this path or a parent matched it (only rules that were evaluated). */
  readonly matched: readonly boolean[];
  /**
   * For an excluded directory: whether a walk must still look inside because an exception
   * could re-include something there (fsutil's rule). Always true for included directories.
   */
  readonly descend: boolean;
}

type Compiled =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'suffix'; readonly value: string }
  | { readonly kind: 'regexp'; readonly re: RegExp };

const UTF8_BOM = '\uFEFF';

/** A literal character inside a JS regexp with the `u` flag. */
function lit(c: string): string {
  return /^[A-Za-z0-9_]$/.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

class PatternSyntaxError extends Error {}

/**
 * Turns a cleaned pattern into a matcher, as `patternmatcher.Pattern.compile` does. Its quirks
 * are kept, since they decide what Docker excludes:
 * - a pattern without wildcards is compared as a string (`exact`);
 * - `dir/**` with no other wildcard is a string prefix: it matches everything below `dir`, not
 *   `dir` itself;
 * - a pattern starting with `**` and otherwise literal is a string suffix: `**foo` matches
 *   `barfoo` and `a/foo`; `**` alone matches everything;
 * - otherwise a regexp: `*` → `[^/]*`, `?` → `[^/]`, `**` → any run of characters
 *   ending in `/`, or nothing (zero or more directories), a final `**` → `.*`; an unescaped `^` stays a regexp anchor, so a regexp
 *   pattern containing one can never match.
 * Character classes follow `filepath.Match` syntax (which validated them); patternmatcher pastes
 * their text into a Go regexp instead, which only differs for odd classes such as `[*]` or
 * `[\d]` — we read those as filepath.Match does. A reversed range (`[z-a]`) fails Go's regexp
 * compiler at match time, failing the build; we reject it when parsing.
 */
function compilePattern(pattern: string): Compiled {
  const cps = Array.from(pattern);
  let re = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let pos = 0;
  for (let i = 0; pos < cps.length; i++) {
    const ch = cps[pos++]!;
    if (ch === '*') {
      if (cps[pos] === '*') {
        pos++;
        if (cps[pos] === '/') pos++; // `**/` is treated as `**`
        if (pos >= cps.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '[^\\n]*';
            kind = 'regexp';
          }
        } else {
          re += '(?:[^\\n]*/)?';
          kind = 'regexp';
        }
        if (i === 0) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      // validateGlob rejected a trailing backslash.
      re += lit(cps[pos++] ?? '\\');
      kind = 'regexp';
    } else if (ch === '[') {
      let negated = false;
      if (cps[pos] === '^') {
        negated = true;
        pos++;
      }
      const ranges: string[] = [];
      for (;;) {
        if (cps[pos] === ']' && ranges.length > 0) {
          pos++;
          break;
        }
        if (cps[pos] === '\\') pos++;
        const lo = cps[pos++]!;
        let hi = lo;
        if (cps[pos] === '-') {
          pos++;
          if (cps[pos] === '\\') pos++;
          hi = cps[pos++]!;
        }
        if (lo.codePointAt(0)! > hi.codePointAt(0)!) {
          throw new PatternSyntaxError(`invalid character class range: ${lo}-${hi}`);
        }
        ranges.push(lo === hi ? lit(lo) : `${lit(lo)}-${lit(hi)}`);
      }
      re += `[${negated ? '^' : ''}${ranges.join('')}]`;
      kind = 'regexp';
    } else if (ch === ']') {
      re += '\\]';
      kind = 'regexp';
    } else if (ch === '^') {
      // Go's translation leaves `^` unescaped: in a regexp pattern it is an anchor.
      re += '^';
    } else {
      re += lit(ch);
    }
  }
  switch (kind) {
    case 'exact':
      return { kind, value: pattern };
    case 'prefix':
      return { kind, value: pattern.slice(0, -2) };
    case 'suffix':
      return { kind, value: pattern.slice(2) };
    case 'regexp':
      return { kind, re: new RegExp(re + '$', 'u') };
  }
}

/** Why a cleaned pattern is not usable, or undefined when it is. */
function patternProblem(pattern: string): string | undefined {
  try {
    validateGlob(pattern);
    compilePattern(pattern);
    return undefined;
  } catch (err) {
    if (err instanceof BadPatternError) return err.reason;
    if (err instanceof PatternSyntaxError) return err.message;
    throw err;
  }
}

function test(c: Compiled, path: string): boolean {
  switch (c.kind) {
    case 'exact':
      return path === c.value;
    case 'prefix':
      return path.startsWith(c.value);
    case 'suffix':
      // `**/foo` also matches `foo` itself.
      return path.endsWith(c.value) || (c.value.startsWith('/') && path === c.value.slice(1));
    case 'regexp':
      return c.re.test(path);
  }
}

function badPattern(message: string, file: string | undefined, text: string, line: number, lineText: string) {
  // Point at the line in the ignore file, for a code frame.
  let offset = 0;
  for (let n = 1; n < line; n++) offset = text.indexOf('\n', offset) + 1;
  const start = { line, column: 1, offset };
  const end = { line, column: lineText.length + 1, offset: offset + lineText.length };
  return new BuildImageError('CONTEXT_BAD_IGNORE_PATTERN', message, {
    file,
    range: { start, end },
    source: text,
    suggestion: 'fix or remove the pattern; see https://docs.docker.com/build/concepts/context/#dockerignore-files',
  });
}

/**
 * Reads the text of an ignore file into rules, exactly as `ignorefile.ReadAll` followed by
 * `patternmatcher.New`:
 * - a UTF-8 BOM at the start is dropped; lines end at `\n` (a `\r` before it is dropped);
 * - a line whose first character is `#` is a comment (`  # x` is the pattern `# x`);
 * - lines are trimmed (Go's `TrimSpace`); empty lines are skipped;
 * - `!` marks an exception; the rest is trimmed again, cleaned (`filepath.Clean`: `foo/` →
 *   `foo`, `./a` → `a`, `a/../b` → `b`) and loses one leading `/`.
 * Throws `CONTEXT_BAD_IGNORE_PATTERN` (with file and line) for `!` alone and for patterns
 * `filepath.Match` rejects, such as an unclosed `[`.
 */
export function parseIgnoreFile(text: string, file?: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const body = text.startsWith(UTF8_BOM) ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineText.startsWith('#')) return;
    let pattern = trimSpace(lineText);
    if (pattern === '') return;
    // ignorefile.ReadAll
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    if (invert) pattern = '!' + pattern;
    // patternmatcher.New cleans the whole line once more, `!` included (`!/` becomes `!`).
    pattern = cleanPath(trimSpace(pattern));
    let exception = false;
    if (pattern.startsWith('!')) {
      if (pattern.length === 1) {
        throw badPattern('illegal exclusion pattern: "!"', file, body, line, lineText);
      }
      exception = true;
      pattern = pattern.slice(1);
    }
    const problem = patternProblem(pattern);
    if (problem !== undefined) {
      throw badPattern(`invalid pattern ${JSON.stringify(trimSpace(lineText))}: ${problem}`, file, body, line, lineText);
    }
    rules.push({ pattern, exception, line, text: trimSpace(lineText), file });
  });
  return rules;
}

/** fsutil's `patternWithoutTrailingGlob`. */
function withoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

const NO_RULES: readonly boolean[] = [];

/**
 * Decides which paths of a context the rules exclude. Paths are relative to the context root,
 * `/`-separated, without a leading `./`.
 *
 * A path is excluded when the last rule matching it or one of its parent directories is not an
 * exception. As in fsutil's walk, a rule that a parent directory matched applies to everything
 * below it, and an excluded directory is not even looked into unless some exception could
 * re-include something inside: an exception holding a wildcard (`*`, `?`, `[`, `]`, `^`, `\`,
 * ignoring a trailing `/*` or `/**`) makes the walk enter every excluded directory; a literal
 * exception only the directories on its way.
 */
export class IgnoreMatcher {
  readonly rules: readonly IgnoreRule[];
  private readonly compiled: readonly Compiled[];
  private readonly hasExceptions: boolean;
  private readonly onlyLiteralExceptions: boolean;
  private readonly exceptionPrefixes: readonly string[];

  /** Throws `CONTEXT_BAD_IGNORE_PATTERN` for a rule whose pattern is malformed. */
  constructor(rules: readonly IgnoreRule[]) {
    for (const r of rules) {
      const problem = patternProblem(r.pattern);
      if (problem !== undefined) {
        const where = r.file !== undefined ? ` (${r.file}, line ${r.line})` : ` (line ${r.line})`;
        throw new BuildImageError('CONTEXT_BAD_IGNORE_PATTERN', `invalid pattern ${JSON.stringify(r.text)}${where}: ${problem}`, {
          file: r.file,
        });
      }
    }
    this.rules = rules;
    this.compiled = rules.map((r) => compilePattern(r.pattern));
    const exceptions = rules.filter((r) => r.exception);
    this.hasExceptions = exceptions.length > 0;
    this.onlyLiteralExceptions = exceptions.every((r) => !/[*[\]?^\\]/.test(withoutTrailingGlob(r.pattern)));
    this.exceptionPrefixes = exceptions.map((r) => withoutTrailingGlob(r.pattern) + '/');
  }

  /** True when there is nothing to exclude. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * The decision for `path` given its parent directory's state (undefined for a top-level
   * path), as fsutil's filtered walk computes it (`MatchesUsingParentResults`).
   */
  child(parent: IgnoreState | undefined, path: string, isDir: boolean): IgnoreState {
    const n = this.rules.length;
    if (n === 0) return { excluded: false, matched: NO_RULES, descend: true };
    const matched = new Array<boolean>(n);
    let excluded = false;
    let rule: IgnoreRule | undefined;
    for (let i = 0; i < n; i++) {
      const r = this.rules[i]!;
      let m = parent?.matched[i] ?? false;
      if (!m) {
        // An exclusion cannot change an excluded path, an exception cannot change an included one.
        if (r.exception !== excluded) {
          matched[i] = false;
          continue;
        }
        m = test(this.compiled[i]!, path);
        if (!m && parent === undefined) m = this.parentMatches(i, path);
      }
      matched[i] = m;
      if (m) {
        excluded = !r.exception;
        rule = r;
      }
    }
    let descend = true;
    if (excluded && isDir && this.onlyLiteralExceptions) {
      const dirSlash = path + '/';
      descend = this.hasExceptions && this.exceptionPrefixes.some((p) => p.startsWith(dirSlash));
    }
    return { excluded, rule, matched, descend };
  }

  /** patternmatcher's fallback when no parent state is known: try each parent directory. */
  private parentMatches(i: number, path: string): boolean {
    for (let j = path.indexOf('/'); j !== -1; j = path.indexOf('/', j + 1)) {
      if (test(this.compiled[i]!, path.slice(0, j))) return true;
    }
    return false;
  }

  /**
   * The decision for one path, walking down from the root as the context walk does: a path
   * inside an excluded directory that the walk does not enter is excluded by that directory's
   * rule. `isDir` says whether `path` itself is a directory.
   */
  matches(path: string, isDir = false): IgnoreDecision {
    const p = cleanPath(path);
    if (p === '.' || p === '/' || this.rules.length === 0) return { excluded: false };
    const parts = (p.startsWith('/') ? p.slice(1) : p).split('/');
    let state: IgnoreState | undefined;
    let prefix = '';
    for (let k = 0; k < parts.length; k++) {
      prefix = k === 0 ? parts[0]! : `${prefix}/${parts[k]}`;
      const last = k === parts.length - 1;
      state = this.child(state, prefix, last ? isDir : true);
      if (!last && state.excluded && !state.descend) return { excluded: true, rule: state.rule };
    }
    return { excluded: state!.excluded, rule: state!.rule };
  }
}

/** An ignore file found for a build. */
export interface IgnoreFile {
  /** Absolute path of the file that was read. */
  readonly path: string;
  readonly text: string;
  readonly rules: IgnoreRule[];
}

async function readIfFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') return undefined;
    throw new BuildImageError('CONTEXT_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Finds the ignore file of a build, as BuildKit's dockerui frontend does: `<Dockerfile>.dockerignore`
 * beside the Dockerfile (named after the Dockerfile's own file name, e.g. `app.Dockerfile.dockerignore`)
 * wins over `.dockerignore` at the context root. The file is read directly (never through the
 * filtered context), so it applies even when it lists itself. An empty Dockerfile-specific file
 * still wins (it excludes nothing). Returns undefined when neither exists.
 */
export async function findIgnoreFile(contextDir: string, dockerfilePath: string): Promise<IgnoreFile | undefined> {
  const dockerfile = resolve(dockerfilePath);
  const candidates = [join(dirname(dockerfile), basename(dockerfile) + '.dockerignore'), join(resolve(contextDir), '.dockerignore')];
  for (const path of candidates) {
    const text = await readIfFile(path);
    if (text !== undefined) return { path, text, rules: parseIgnoreFile(text, path) };
  }
  return undefined;
}
