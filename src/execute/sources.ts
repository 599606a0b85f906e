/**
 * Where COPY/ADD read from, as one shape: a list of matches, each a tree of source nodes (the
 * matched path — symlinks followed — and, for a directory, everything below it).
 *
 * - build contexts (main or named): `BuildContext.select` does the matching (wildcards,
 *   symlinks followed inside the context, .dockerignore, `CONTEXT_SOURCE_NOT_FOUND` with its
 *   hints); owners are what the context reports (0:0 by default, as the docker CLI sends them);
 * - stage results and images: the same rules on a `RootView` (`selectInView`), owners kept as
 *   in the image — BuildKit copies them as they are unless `--chown`;
 * - heredocs: one file, mode 0644, root, mtime SOURCE_DATE_EPOCH or 0 (BuildKit's Mkfile gets
 *   the wall clock);
 * - URLs: downloaded to a temp file first (see url.ts).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BuildImageError, type SourceRange } from '../errors.js';
import { ContextSourceError, type BuildContext } from '../context/build-context.js';
import { BadPatternError, hasWildcards, matchGlob, splitWildcards, validateGlob } from '../context/glob.js';
import { clampToRoot, isWithin } from '../context/paths.js';
import type { ContextEntry } from '../context/walk.js';
import { closest } from '../suggest.js';
import { openNode, type FileMetadata, type FsEntry, type FsType, type RootView } from './rootfs.js';

/** One node of a source tree. */
export interface SourceNode extends FileMetadata {
  /** Path relative to the match root (`''` for the root itself). */
  readonly rel: string;
  /** Nodes with the same key are hard links of one file. */
  readonly linkKey?: unknown;
  /** Files: opens the content. */
  readonly open?: Opener | undefined;
}

/** Opens some content anew (a stream or any async iterable of bytes). */
export type Opener = () => Promise<AsyncIterable<Uint8Array>>;

/** What one source matched. */
export interface SourceMatch {
  /** The matched path as named (its last component names a file copied into a directory). */
  readonly named: string;
  /** The match itself, symlinks followed. */
  readonly root: SourceNode;
  /** Everything below a directory match, parents first, siblings in byte order. */
  readonly below: () => Iterable<SourceNode>;
  /** True for local files ADD may unpack (build contexts only). */
  readonly local: boolean;
}

function relTo(path: string, root: string): string {
  return root === '' ? path : path === root ? '' : path.slice(root.length + 1);
}

function nodeFromContext(ctx: BuildContext, e: ContextEntry & { type: FsType }, root: string): SourceNode {
  return {
    rel: relTo(e.path, root),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: Number(e.mtimeNs) / 1e9,
    size: e.type === 'file' ? e.size : 0,
    linkTarget: e.linkTarget,
    devMajor: e.devMajor,
    devMinor: e.devMinor,
    linkKey: e.type === 'file' && e.nlink > 1 ? `${e.dev}:${e.ino}` : undefined,
    open: e.type === 'file' ? async () => openFile(join(ctx.dir, e.path), e.size) : undefined,
  };
}

/** Files up to this size are read in one synchronous call (see `openFile`). */
export const SMALL_FILE = 256 * 1024;

/**
 * A file's content as a stream. Small files are read with one synchronous call: a stream costs
 * several thread-pool round trips (open, read, read, close) per file, which dominates copying
 * many small files (20,000 files: 7 s with streams, a fraction with sync reads).
 */
export function openFile(path: string, size: number): AsyncIterable<Uint8Array> {
  if (size > SMALL_FILE) return createReadStream(path);
  const bytes = readFileSync(path);
  return (async function* () {
    yield bytes;
  })();
}

/** Matches of context sources (each string a source as written). */
export async function selectInContext(ctx: BuildContext, source: string, range?: SourceRange): Promise<SourceMatch[]> {
  let selected;
  try {
    [selected] = await ctx.select([source]);
  } catch (err) {
    throw withRange(err, range);
  }
  // Sockets are never copied (containerd's differ leaves them out of layers).
  const copyable = (e: ContextEntry): e is ContextEntry & { type: FsType } => e.type !== 'socket';
  return selected!.matches.filter((m) => copyable(m.entry)).map((m) => {
    const entries = m.entries;
    return {
      named: m.path,
      root: nodeFromContext(ctx, m.entry as ContextEntry & { type: FsType }, m.target),
      below: () => entries.slice(1).filter(copyable).map((e) => nodeFromContext(ctx, e, m.target)),
      local: true,
    };
  });
}

/** The same error with the Dockerfile range attached (when it has none). */
export function withRange(err: unknown, range: SourceRange | undefined): unknown {
  if (!(err instanceof BuildImageError) || range === undefined || err.range !== undefined) return err;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as BuildImageError;
  Object.assign(copy, err, { range });
  copy.message = err.message;
  copy.stack = err.stack;
  return copy;
}

function nodeFromView(e: FsEntry, root: string): SourceNode {
  return {
    rel: relTo(e.path, root),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: e.mtime,
    size: e.size,
    linkTarget: e.linkTarget,
    devMajor: e.devMajor,
    devMinor: e.devMinor,
    xattrs: e.xattrs,
    // Hardlinked paths share one node object in a view.
    linkKey: e.type === 'file' ? e.content : undefined,
    open: e.type === 'file' ? () => openNode(e, e.path) : undefined,
  };
}

function viewMatch(view: RootView, named: string, target: string): SourceMatch {
  const e = view.lstat(target)!;
  return {
    named,
    root: nodeFromView(e, e.path),
    below: () => {
      const it = view.walk(e.path);
      it.next(); // the root itself
      return [...it].map((x) => nodeFromView(x, e.path));
    },
    local: false,
  };
}

function notFoundInView(view: RootView, what: string, source: string, path: string, missing: string, range?: SourceRange): ContextSourceError {
  let head = `"/${path}": not found`;
  if (!isWithin(missing, path)) head += ` (it leads to "/${missing}" through a symlink)`;
  // Suggest a sibling of the missing path.
  const i = missing.lastIndexOf('/');
  const dir = i < 0 ? '' : missing.slice(0, i);
  let suggestion: string | undefined;
  try {
    const guess = closest(missing.slice(i + 1), view.readdir(dir), true);
    if (guess !== undefined) suggestion = `did you mean /${dir === '' ? guess : `${dir}/${guess}`}?`;
  } catch {
    suggestion = undefined;
  }
  return new ContextSourceError(`${head} in ${what} (source ${JSON.stringify(source)})`, missing, undefined, { range, suggestion });
}

/** The first missing component of `path` (resolved step by step), for messages. */
function firstMissing(view: RootView, path: string): string {
  const parts = path.split('/').filter(Boolean);
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).join('/');
    const r = view.resolve(prefix);
    if (view.raw(r) === undefined) return r;
  }
  return view.resolve(path);
}

/**
 * Matches a source in an image view with the rules `BuildContext.select` applies to a context:
 * the path is clamped to the root; a literal path must exist (symlinks followed); a wildcard is
 * split at its first wildcard component and matched with `filepath.Match` below the literal
 * part, a matched directory taken whole; matching nothing is fine.
 */
export function selectInView(view: RootView, source: string, what: string, range?: SourceRange): SourceMatch[] {
  const path = clampToRoot(source);
  if (!hasWildcards(path)) {
    const target = view.resolve(path);
    if (view.raw(target) === undefined) throw notFoundInView(view, what, source, path, firstMissing(view, path), range);
    return [viewMatch(view, path, target)];
  }
  try {
    validateGlob(path);
  } catch (err) {
    if (err instanceof BadPatternError) {
      throw new BuildImageError('CONTEXT_BAD_SOURCE_PATTERN', `invalid source ${JSON.stringify(source)}: ${err.message}`, { range });
    }
    throw err;
  }
  const [literal, pattern] = splitWildcards(path);
  const base = view.resolve(literal);
  const baseNode = view.raw(base);
  if (baseNode === undefined) throw notFoundInView(view, what, source, literal, firstMissing(view, literal), range);
  if (baseNode.type !== 'dir') return [];
  const out: SourceMatch[] = [];
  let skip: string | undefined;
  const it = view.walk(base);
  it.next();
  for (const e of it) {
    const rel = relTo(e.path, base);
    if (skip !== undefined && isWithin(rel, skip)) continue;
    skip = undefined;
    if (!matchGlob(pattern, rel)) continue;
    const named = literal === '' ? rel : `${literal}/${rel}`;
    let target = e.path;
    if (e.type === 'symlink') {
      target = view.resolve(e.path);
      if (view.raw(target) === undefined) throw notFoundInView(view, what, source, named, target, range);
    }
    out.push(viewMatch(view, named, target));
    if (e.type === 'dir') skip = rel;
  }
  return out;
}

/** A single in-memory file (heredoc sources). */
export function inlineMatch(name: string, data: string, mtime: number): SourceMatch {
  const bytes = Buffer.from(data, 'utf8');
  return {
    named: name,
    root: {
      rel: '',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime,
      size: bytes.length,
      open: async () => Readable.from([bytes]),
    },
    below: () => [],
    local: false,
  };
}
