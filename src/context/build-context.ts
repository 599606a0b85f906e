/**
 * A build context as COPY and ADD see it: the directory after .dockerignore, its entries, the
 * selection of COPY sources (literal paths, wildcards, symlinks followed inside the context) and
 * the digests that cache keys are made of.
 */
import { lstat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { BuildImageError, type ErrorDetails } from '../errors.js';
import { closest } from '../suggest.js';
import { selectionDigest, sourceDigest } from './digest.js';
import { BadPatternError, hasWildcards, matchGlob, splitWildcards, validateGlob } from './glob.js';
import { sha256File, type ContentDigest, type HashCache } from './hash.js';
import { IgnoreMatcher, type IgnoreDecision, type IgnoreRule } from './ignore.js';
import { clampToRoot, isWithin, joinRel, parentRel } from './paths.js';
import { entryFromStats, statContextRoot, walkContext, type ContextEntry } from './walk.js';
import { limiter } from '../limiter.js';

export interface BuildContextOptions {
  /** The .dockerignore rules (see `findIgnoreFile`); none by default. */
  readonly ignore?: readonly IgnoreRule[] | undefined;
  /**
   * `'root'` (default) reports every entry as owned by 0:0, as the docker CLI / buildx send a
   * context to BuildKit (client/solve.go `resetUIDAndGID`), so COPY without `--chown` yields
   * root-owned files and file owners on the host do not change cache keys. `'preserve'` keeps
   * the owners `lstat` reports.
   */
  readonly ownership?: 'root' | 'preserve' | undefined;
  /** Persistent content digests; without one every file is read once per BuildContext. */
  readonly hashCache?: HashCache | undefined;
  readonly signal?: AbortSignal | undefined;
  /** See `WalkOptions.onExclude`. */
  readonly onExclude?: ((path: string, rule: IgnoreRule | undefined) => void) | undefined;
}

/** One thing a COPY source matched. */
export interface SourceMatch {
  /** The matched path as named by the source, relative to the context (`''` = the root). */
  readonly path: string;
  /** Where it leads once symlinks (in it or its parents) are followed inside the context. */
  readonly target: string;
  /** The entry at `target`. */
  readonly entry: ContextEntry;
  /** `entry` followed by everything below it when it is a directory, in `comparePaths` order. */
  readonly entries: readonly ContextEntry[];
}

/** The result of selecting one COPY/ADD source. */
export interface SelectedSource {
  /** The source as given. */
  readonly source: string;
  /** The source clamped to the context root and cleaned (`''` = the root). */
  readonly path: string;
  /** Whether the source holds a wildcard (then matching nothing is fine). */
  readonly wildcard: boolean;
  /** What it matched, in walk order; one entry for a literal source. */
  readonly matches: readonly SourceMatch[];
}

/** A COPY/ADD source that is not in the (filtered) build context. */
export class ContextSourceError extends BuildImageError {
  override readonly name: string = 'ContextSourceError';
  /** The missing path, relative to the context root. */
  readonly path: string;
  /** When the path exists but .dockerignore leaves it out: the rule that does. */
  readonly rule: IgnoreRule | undefined;

  constructor(message: string, path: string, rule: IgnoreRule | undefined, details: ErrorDetails = {}) {
    super('CONTEXT_SOURCE_NOT_FOUND', message, details);
    this.path = path;
    this.rule = rule;
  }
}

type Resolved = { ok: true; target: string } | { ok: false; missing: string };

const MAX_LINKS = 255; // continuity's fs.RootPath gives up after this many


/** Describes a rule for people: `.dockerignore pattern `secret*` (line 3)`. */
export function describeRule(rule: IgnoreRule): string {
  const file = rule.file !== undefined ? basename(rule.file) : '.dockerignore';
  return `${file} pattern \`${rule.text}\` (line ${rule.line})`;
}

export class BuildContext {
  /** Absolute path of the context directory. */
  readonly dir: string;
  readonly matcher: IgnoreMatcher;
  /** The context root itself (path `''`). */
  readonly root: ContextEntry;
  /** Every entry .dockerignore keeps, in `comparePaths` order (the root is not listed). */
  readonly entries: readonly ContextEntry[];
  private readonly index: ReadonlyMap<string, number>;
  private readonly hashCache: HashCache | undefined;
  private readonly digests = new Map<string, Promise<ContentDigest>>();
  private readonly hashLimit = limiter(16);

  private constructor(dir: string, matcher: IgnoreMatcher, root: ContextEntry, entries: ContextEntry[], hashCache?: HashCache) {
    this.dir = dir;
    this.matcher = matcher;
    this.root = root;
    this.entries = entries;
    this.index = new Map(entries.map((e, i) => [e.path, i]));
    this.hashCache = hashCache;
  }

  /** Walks the context at `dir` once, applying the ignore rules. */
  static async open(dir: string, options: BuildContextOptions = {}): Promise<BuildContext> {
    const abs = resolve(dir);
    const matcher = new IgnoreMatcher(options.ignore ?? []);
    const rootStats = await statContextRoot(abs);
    let entries = await walkContext(abs, { matcher, signal: options.signal, onExclude: options.onExclude });
    let root = entryFromStats('', rootStats);
    if ((options.ownership ?? 'root') === 'root') {
      const reset = (e: ContextEntry): ContextEntry => (e.uid === 0 && e.gid === 0 ? e : { ...e, uid: 0, gid: 0 });
      entries = entries.map(reset);
      root = reset(root);
    }
    return new BuildContext(abs, matcher, root, entries, options.hashCache);
  }

  /** The entry at a context-relative path (`''` = the root), if .dockerignore keeps it. */
  get(path: string): ContextEntry | undefined {
    if (path === '') return this.root;
    const i = this.index.get(path);
    return i === undefined ? undefined : this.entries[i];
  }

  /** Why a path is or is not excluded (for messages). */
  explain(path: string, isDir = false): IgnoreDecision {
    return this.matcher.matches(path, isDir);
  }

  /** `path` and everything below it. */
  subtree(path: string): readonly ContextEntry[] {
    if (path === '') return [this.root, ...this.entries];
    const i = this.index.get(path);
    if (i === undefined) return [];
    let j = i + 1;
    while (j < this.entries.length && isWithin(this.entries[j]!.path, path)) j++;
    return this.entries.slice(i, j);
  }

  /**
   * Follows `path` through the filtered context like continuity's `fs.RootPath`: symlinks in
   * parent components (and in the last one with `followLast`) are followed, absolute targets
   * start again at the context root, and `..` never climbs above it.
   */
  private resolvePath(path: string, followLast: boolean): Resolved {
    let pending = path === '' ? [] : path.split('/');
    let current: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const comp = pending.shift()!;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        current.pop();
        continue;
      }
      const p = current.length === 0 ? comp : `${current.join('/')}/${comp}`;
      const e = this.get(p);
      if (e === undefined) return { ok: false, missing: p };
      const last = pending.every((c) => c === '' || c === '.');
      if (e.type === 'symlink' && (!last || followLast)) {
        if (++links > MAX_LINKS) {
          throw new BuildImageError('CONTEXT_SYMLINK_LOOP', `too many levels of symbolic links resolving "/${path}"`);
        }
        const target = e.linkTarget ?? '';
        if (target.startsWith('/')) current = [];
        pending = [...target.split('/'), ...pending];
        continue;
      }
      if (!last && e.type !== 'dir') return { ok: false, missing: `${p}/${pending.join('/')}` };
      current.push(comp);
    }
    return { ok: true, target: current.join('/') };
  }

  private match(named: string, target: string): SourceMatch {
    const entry = this.get(target)!;
    return { path: named, target, entry, entries: entry.type === 'dir' ? this.subtree(target) : [entry] };
  }

  private async notFound(source: string, named: string, missing: string): Promise<ContextSourceError> {
    let head = `"/${named}": not found`;
    if (!isWithin(named, missing)) head += ` (it leads to "/${missing}" through a symlink)`;
    let onDisk: { isDir: boolean } | undefined;
    try {
      const st = await lstat(join(this.dir, missing));
      onDisk = { isDir: st.isDirectory() };
    } catch {
      onDisk = undefined;
    }
    if (onDisk !== undefined) {
      const d = this.matcher.matches(missing, onDisk.isDir);
      if (d.excluded && d.rule !== undefined) {
        return new ContextSourceError(`${head}: excluded by ${describeRule(d.rule)}`, missing, d.rule, {
          suggestion: `remove that pattern, or add an exception "!${missing}" after it, to send this path to the build`,
        });
      }
    }
    // Suggest a sibling only for a path the user typed (not one a symlink led to).
    const guess = isWithin(named, missing) ? this.similar(missing) : undefined;
    return new ContextSourceError(`${head} in the build context (source ${JSON.stringify(source)})`, missing, undefined, {
      suggestion: guess !== undefined ? `did you mean ${guess}?` : undefined,
    });
  }

  /** An entry beside `path` with a similar name (same name in another case first). */
  private similar(path: string): string | undefined {
    const parent = parentRel(path);
    const cut = parent === '' ? 0 : parent.length + 1;
    const name = path.slice(cut);
    const siblings = this.subtree(parent)
      .filter((e) => e.path !== parent && parentRel(e.path) === parent)
      .map((e) => e.path.slice(cut));
    const guess = siblings.find((s) => s.toLowerCase() === name.toLowerCase()) ?? closest(name, siblings, true);
    return guess === undefined ? undefined : joinRel(parent, guess);
  }

  /**
   * Selects what COPY/ADD sources name, as BuildKit does (dockerfile2llb with
   * `AllowWildcard`/`AllowEmptyWildcard`/`FollowSymlinks`, fsutil copy and contenthash):
   * - a source is clamped to the context: `..` and a leading `/` stop at the root, a trailing
   *   `/` is ignored; `.` (or `/`) is the whole context;
   * - a source with a wildcard (`*`, `?`, `[` not escaped by `\`) is split at its first
   *   component holding one: the part before is a literal directory (symlinks followed), the
   *   rest is matched with `filepath.Match` against paths below it; a matched directory is taken
   *   whole; matching nothing is fine (but a missing literal directory is not);
   * - a literal source that is missing, or left out by .dockerignore, throws
   *   `ContextSourceError` (`CONTEXT_SOURCE_NOT_FOUND`) naming the path — and the pattern and
   *   line that exclude it;
   * - a symlink named by a source (or matched by a wildcard) is followed, inside the context;
   *   symlinks below a selected directory are kept as they are.
   */
  async select(sources: readonly string[]): Promise<SelectedSource[]> {
    const out: SelectedSource[] = [];
    for (const source of sources) out.push(await this.selectOne(source));
    return out;
  }

  private async selectOne(source: string): Promise<SelectedSource> {
    const path = clampToRoot(source);
    if (!hasWildcards(path)) {
      const r = this.resolvePath(path, true);
      if (!r.ok) throw await this.notFound(source, path, r.missing);
      return { source, path, wildcard: false, matches: [this.match(path, r.target)] };
    }
    try {
      validateGlob(path);
    } catch (err) {
      if (err instanceof BadPatternError) {
        throw new BuildImageError('CONTEXT_BAD_SOURCE_PATTERN', `invalid source ${JSON.stringify(source)}: ${err.message}`, {
          suggestion: 'escape a literal `[`, `*` or `?` with a backslash',
        });
      }
      throw err;
    }
    const [literal, pattern] = splitWildcards(path);
    const base = this.resolvePath(literal, true);
    // fsutil's ResolveWildcards walks the literal directory: a missing one fails the copy.
    if (!base.ok) throw await this.notFound(source, literal, base.missing);
    const matches: SourceMatch[] = [];
    const baseEntry = this.get(base.target)!;
    if (baseEntry.type !== 'dir') return { source, path, wildcard: true, matches };
    const below = this.subtree(base.target).slice(1);
    const cut = base.target === '' ? 0 : base.target.length + 1;
    let lastMatchedDir: string | undefined;
    for (const e of below) {
      const rel = e.path.slice(cut);
      if (lastMatchedDir !== undefined && isWithin(rel, lastMatchedDir)) continue;
      if (!matchGlob(pattern, rel)) continue;
      const named = joinRel(literal, rel);
      let target = e.path;
      if (e.type === 'symlink') {
        const r = this.resolvePath(e.path, true);
        if (!r.ok) throw await this.notFound(source, named, r.missing);
        target = r.target;
      }
      matches.push(this.match(named, target));
      if (e.type === 'dir') lastMatchedDir = rel;
    }
    return { source, path, wildcard: true, matches };
  }

  /** The content digest of a regular file of the context (cached per file, and in the hash cache). */
  hash(entry: ContextEntry): Promise<ContentDigest> {
    if (entry.type !== 'file') {
      return Promise.reject(new BuildImageError('CONTEXT_INTERNAL', `${entry.path} is not a regular file`));
    }
    let d = this.digests.get(entry.path);
    if (d === undefined) {
      d = this.computeHash(entry);
      this.digests.set(entry.path, d);
    }
    return d;
  }

  private async computeHash(entry: ContextEntry): Promise<ContentDigest> {
    const abs = join(this.dir, entry.path);
    const cache = this.hashCache;
    if (cache === undefined) return this.hashLimit(() => sha256File(abs, entry));
    await cache.load();
    // A hit needs no file access: answer it without waiting for a reading slot.
    if (cache.lookup(entry) !== undefined) return cache.digest(abs, entry);
    return this.hashLimit(() => cache.digest(abs, entry));
  }

  /** The cache-key digest of one match: its entries relative to its target (see `selectionDigest`). */
  async digest(match: SourceMatch): Promise<ContentDigest> {
    const files = match.entries.filter((e) => e.type === 'file');
    const digests = await Promise.all(files.map((e) => this.hash(e)));
    return selectionDigest(match.entries, new Map(files.map((e, i) => [e.path, digests[i]!])), match.target);
  }

  /** The cache-key digest of a whole source: every match's name and digest (see `sourceDigest`). */
  async sourceDigest(selected: SelectedSource): Promise<ContentDigest> {
    const digests = await Promise.all(selected.matches.map((m) => this.digest(m)));
    return sourceDigest(selected.matches.map((m, i) => ({ path: m.path, digest: digests[i]! })));
  }
}
