/**
 * COPY and ADD: the changes one step makes to its destination image, computed without
 * touching a real file system (see overlay.ts), following BuildKit's FileOp copy exactly:
 * frontend/dockerfile/dockerfile2llb/convert_copy.go (what the step asks for),
 * solver/llbsolver/file/backend.go `docopy` and tonistiigi/fsutil copy/copy.go (what a copy
 * does), solver/llbsolver/file/unpack.go + moby/go-archive (ADD of local archives).
 *
 * Per source match (fsutil `Copy`):
 * 1. the destination's directory part is created (`MkdirAll`: mode 0755 — or `--chmod`'s mode,
 *    as fsutil passes `ci.Mode` — owned by `--chown` or root, mtime SOURCE_DATE_EPOCH or 0
 *    where BuildKit uses the wall clock); a trailing `/` makes the whole destination a
 *    directory;
 * 2. the destination is resolved with its symlinks followed inside the image root
 *    (continuity `fs.RootPath`) — `/app -> /etc` leads to `/etc`, `/app -> ../../..` to `/`;
 * 3. a file (or a symlink named as the source, already followed) copied onto an existing
 *    directory lands inside it under the source's base name; a directory's CONTENTS are
 *    copied (the directory itself only gives its mtime to an existing destination, or becomes
 *    a new destination directory with mode 0755/`--chmod` and the `--chown` owner);
 * 4. inside a copied tree: new directories take the source's mode, existing ones take the
 *    source's mode too; files replace files and symlinks (never a directory: "cannot replace
 *    to directory … with file"); a directory never replaces a non-directory ("cannot copy to
 *    non-directory"); symlinks are copied as they are, never followed; files hard-linked in
 *    the source stay hard-linked;
 * 5. metadata: owner = `--chown` or the source's (0:0 for build contexts; an image's own
 *    owners for `--from`), mode = `--chmod` or the source's, mtime = the source's (clamped to
 *    SOURCE_DATE_EPOCH by the layer writer), xattrs copied.
 * `--exclude` patterns (patternmatcher, relative to each match) skip paths below a match, never
 * the match itself; `--parents` copies from the context root (or the `/./` pivot) with the
 * rest of the source as an include pattern, creating the parents with their source metadata.
 * `--link` copies onto an empty tree (nothing of the image is read or followed; names in
 * `--chown` cannot be resolved) unless `--chmod` is given, as BuildKit then ignores `--link`.
 *
 * Where we knowingly differ from BuildKit (each one a case where BuildKit silently does
 * something nobody wants):
 * - several matches (files) onto a destination that is neither an existing directory nor ends
 *   in `/` fail with the classic builder's message; BuildKit copies each over the previous one
 *   (moby/buildkit#1853). Directory matches merging into one destination stay allowed, as in
 *   BuildKit's own tests (`ADD --exclude=… dir* /5`);
 * - `--chown` with a user or group the image does not list fails; BuildKit uses id 0;
 * - times BuildKit takes from the clock (created parents, heredoc files) are SOURCE_DATE_EPOCH,
 *   else 0, and every mtime is clamped to SOURCE_DATE_EPOCH (BuildKit's rewrite-timestamp).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildImageError } from '../errors.js';
import type { BuildContext } from '../context/build-context.js';
import { hasWildcards } from '../context/glob.js';
import { IgnoreMatcher, type IgnoreRule, type IgnoreState } from '../context/ignore.js';
import { clampToRoot, cleanPath, trimSpace } from '../context/paths.js';
import { basePath, confinePath, parentPath } from '../image/paths.js';
import type { TarReadEntry } from '../image/tar.js';
import type { CopySource, CopyStep } from '../plan/types.js';
import { openArchive } from './archive.js';
import { Overlay, baseName, pendingFromBase, type MkdirOptions, type PendingNode } from './overlay.js';
import type { RootView } from './rootfs.js';
import { inlineMatch, selectInContext, selectInView, withRange, type SourceMatch, type SourceNode } from './sources.js';
import { downloadUrl, type UrlFetcher } from './url.js';
import { needsLookup, resolveOwner, type Owner } from './users.js';

/** What a file step needs from the build around it. */
export interface FileStepDeps {
  /** The destination image before the step. */
  readonly parent: () => Promise<RootView>;
  /** A build context: the main one (undefined) or a named one. */
  readonly context: (name: string | undefined) => BuildContext;
  /** The result of another stage. */
  readonly stageView: (stage: number) => Promise<{ readonly view: RootView; readonly name: string }>;
  /** The root filesystem of an image (`COPY --from=<image>`). */
  readonly imageView: (source: Extract<CopySource, { kind: 'image' }>) => Promise<RootView>;
  /** A fresh scratch directory for downloads and archive contents; removed after the step. */
  readonly workDir: () => Promise<string>;
  readonly fetcher?: UrlFetcher | undefined;
  readonly signal?: AbortSignal | undefined;
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Go's `filepath.Split` then the `ensureDstPath` rule of fsutil `Copy`. */
function ensureDirOf(dest: string): string {
  const i = dest.lastIndexOf('/');
  const file = dest.slice(i + 1);
  return file !== '' && file !== '.' ? dest.slice(0, i + 1) : dest;
}

/** patternmatcher.New on `--exclude`/include patterns (trimmed, cleaned, `!` for exceptions). */
function matcherOf(patterns: readonly string[], what: string): { matcher: IgnoreMatcher; exceptions: boolean } | undefined {
  const rules: IgnoreRule[] = [];
  patterns.forEach((raw, i) => {
    let p = trimSpace(raw);
    if (p === '') return;
    p = cleanPath(p);
    const exception = p.startsWith('!');
    if (exception) p = p.slice(1);
    rules.push({ pattern: p, exception, line: i + 1, text: raw, file: what });
  });
  if (rules.length === 0) return undefined;
  return { matcher: new IgnoreMatcher(rules), exceptions: rules.some((r) => r.exception) };
}

interface ParentDir {
  readonly node: SourceNode;
  readonly target: string;
  copied: boolean;
}

/** One fsutil copier: state shared by one match's copy. */
class Copier {
  private readonly inodes = new Map<unknown, { path: string; node: PendingNode }>();
  private readonly parentDirs: ParentDir[] = [];
  private children = new Map<string, SourceNode[]>();

  constructor(
    private readonly overlay: Overlay,
    private readonly owner: Owner | undefined,
    private readonly chmod: number | undefined,
    private readonly include: ReturnType<typeof matcherOf>,
    private readonly exclude: ReturnType<typeof matcherOf>,
    private readonly signal: AbortSignal | undefined,
  ) {}

  private meta(node: SourceNode): { mode: number; uid: number; gid: number } {
    return {
      mode: this.chmod !== undefined ? this.chmod & 0o7777 : node.mode & 0o7777,
      uid: this.owner?.uid ?? node.uid,
      gid: this.owner?.gid ?? node.gid,
    };
  }

  /** Copies `root` (and, for a directory, what is below it) to the resolved `target`. */
  run(match: SourceMatch, target: string): void {
    this.children = new Map();
    if (match.root.type === 'dir') {
      for (const n of match.below()) {
        const parent = parentPath(n.rel);
        let list = this.children.get(parent);
        if (list === undefined) this.children.set(parent, (list = []));
        list.push(n);
      }
    }
    this.copy(match.root, target, false, undefined, undefined);
  }

  /** The directory-only part of fsutil `copyDirectoryOnly`: returns true when it created it. */
  private directoryOnly(target: string, node: SourceNode, overwrite: boolean): boolean {
    const t = this.overlay.lookup(target);
    if (t === undefined) {
      this.overlay.set(target, { type: 'dir', mode: node.mode & 0o7777, uid: 0, gid: 0, mtime: node.mtime, size: 0, fresh: true });
      return true;
    }
    if (t.node.type !== 'dir') throw new BuildImageError('EXEC_COPY_CONFLICT', `cannot copy to non-directory: /${target}`);
    if (overwrite) {
      const n = t.pending ? t.node : pendingFromBase(t.node);
      this.overlay.set(target, { ...n, mode: node.mode & 0o7777 });
    }
    return false;
  }

  /** fsutil `copyFileInfo`: owner, mode (not for symlinks), times and xattrs of `node` onto `target`. */
  private fileInfo(node: SourceNode, target: string): void {
    const t = this.overlay.lookup(target);
    if (t === undefined) return;
    const base = t.pending ? t.node : pendingFromBase(t.node);
    const m = this.meta(node);
    this.overlay.set(target, {
      ...base,
      uid: m.uid,
      gid: m.gid,
      mode: base.type === 'symlink' ? base.mode : m.mode,
      mtime: node.mtime,
      xattrs: node.xattrs ?? base.xattrs,
    } as PendingNode);
  }

  private createParentDirs(overwrite: boolean): void {
    for (const p of this.parentDirs) {
      if (p.copied) continue;
      if (this.directoryOnly(p.target, p.node, overwrite)) this.fileInfo(p.node, p.target);
      p.copied = true;
    }
  }

  private copy(node: SourceNode, target: string, overwrite: boolean, incParent: IgnoreState | undefined, excParent: IgnoreState | undefined): void {
    this.signal?.throwIfAborted();
    let include = true;
    let excluded = false;
    let incState: IgnoreState | undefined;
    let excState: IgnoreState | undefined;
    const isDir = node.type === 'dir';
    if (node.rel !== '') {
      if (this.include !== undefined) {
        incState = this.include.matcher.child(incParent, node.rel, isDir);
        include = incState.excluded; // "excluded" by an include pattern = matched by it
      }
      if (this.exclude !== undefined) {
        excState = this.exclude.matcher.child(excParent, node.rel, isDir);
        if (excState.excluded) {
          include = false;
          excluded = true;
        }
      }
      if (!include && this.include === undefined && !(this.exclude?.exceptions ?? false)) return;
    }
    if (!include && !isDir) return;
    const before = this.overlay.lookup(target);
    if (include) this.createParentDirs(overwrite);
    if (!isDir && before !== undefined && before.node.type === 'dir') {
      throw new BuildImageError('EXEC_COPY_CONFLICT', `cannot replace to directory /${target} with file`);
    }
    let copyInfo = include;
    let restoreTime = false;
    switch (node.type) {
      case 'dir': {
        let created = false;
        if (include) created = this.directoryOnly(target, node, overwrite);
        this.parentDirs.push({ node, target, copied: include });
        try {
          if (!(excluded && !(this.exclude?.exceptions ?? false))) {
            for (const child of this.children.get(node.rel) ?? []) {
              this.copy(child, joinRel(target, basePath(child.rel)), true, incState, excState);
            }
          } else {
            return;
          }
        } finally {
          this.parentDirs.pop();
        }
        if (!overwrite) {
          copyInfo = created;
          restoreTime = !created;
        }
        break;
      }
      case 'file': {
        const seen = node.linkKey !== undefined ? this.inodes.get(node.linkKey) : undefined;
        if (seen !== undefined && this.overlay.lookup(seen.path)?.node === seen.node) {
          this.overlay.set(target, { ...seen.node, type: 'hardlink', linkNode: seen.node, linkPath: seen.path, fresh: true });
          // A hard link shares the metadata of its target: nothing more to set.
          return;
        }
        const pending: PendingNode = { type: 'file', mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime, size: node.size, open: node.open, fresh: true };
        this.overlay.set(target, pending);
        if (node.linkKey !== undefined) {
          // Remember the node after its metadata is final (set below).
          this.fileInfo(node, target);
          this.inodes.set(node.linkKey, { path: target, node: this.overlay.lookup(target)!.node as PendingNode });
          return;
        }
        break;
      }
      case 'symlink':
        this.overlay.set(target, { type: 'symlink', mode: 0o777, uid: node.uid, gid: node.gid, mtime: node.mtime, size: 0, linkTarget: node.linkTarget, fresh: true });
        break;
      default:
        this.overlay.set(target, {
          type: node.type,
          mode: node.mode,
          uid: node.uid,
          gid: node.gid,
          mtime: node.mtime,
          size: 0,
          devMajor: node.devMajor,
          devMinor: node.devMinor,
          fresh: true,
        });
    }
    if (copyInfo) this.fileInfo(node, target);
    else if (restoreTime && before !== undefined) this.overlay.touch(target, node.mtime);
  }
}

/** One COPY/ADD source resolved to its matches (and what it needs afterwards). */
interface Gathered {
  readonly source: CopySource;
  readonly matches: readonly SourceMatch[];
  readonly include?: ReturnType<typeof matcherOf>;
  /** `--parents` without wildcards: this path must have been included. */
  readonly required?: { readonly pattern: string; readonly check: () => Promise<void> } | undefined;
}

function sourceLabel(step: CopyStep): string {
  return step.instruction;
}

/** Splits a `--parents` source at its `/./` pivot (BuildKit: the part before is the copy root). */
function splitPivot(path: string): { root: string; pattern: string } {
  const i = path.indexOf('/./');
  if (i < 0) return { root: '/', pattern: clampToRoot(path) };
  return { root: path.slice(0, i) || '/', pattern: clampToRoot(path.slice(i + 3)) };
}

async function gather(step: CopyStep, deps: FileStepDeps, inlineTime: number, downloads: { file: string }[]): Promise<Gathered[]> {
  const out: Gathered[] = [];
  for (const source of step.sources) {
    deps.signal?.throwIfAborted();
    switch (source.kind) {
      case 'context':
      case 'stage':
      case 'image': {
        let select: (path: string) => Promise<SourceMatch[]>;
        if (source.kind === 'context') {
          const ctx = deps.context(source.name);
          select = (p) => selectInContext(ctx, p, step.range);
        } else if (source.kind === 'stage') {
          const { view, name } = await deps.stageView(source.stage);
          select = async (p) => selectInView(view, p, `stage "${name}"`, step.range);
        } else {
          const view = await deps.imageView(source);
          select = async (p) => selectInView(view, p, `image ${source.ref}`, step.range);
        }
        if (!step.parents) {
          out.push({ source, matches: await select(source.path) });
          break;
        }
        const { root, pattern } = splitPivot(source.path);
        const include = matcherOf([pattern], '--parents');
        const matches = await select(root);
        const literal = !hasWildcards(root) && !hasWildcards(pattern);
        out.push({
          source,
          matches,
          include,
          required:
            literal && pattern !== ''
              ? {
                  pattern,
                  // Raises the not-found error of the selection (with its hints) for the full path.
                  check: async () => {
                    await select(joinRel(clampToRoot(root), pattern));
                  },
                }
              : undefined,
        });
        break;
      }
      case 'inline':
        out.push({ source, matches: [inlineMatch(source.name, source.data, inlineTime)] });
        break;
      case 'url': {
        const dir = await deps.workDir();
        const d = await downloadUrl(source.url, dir, { fetcher: deps.fetcher, checksum: source.checksum, signal: deps.signal }).catch((err: unknown) => {
          throw withRange(err, step.range);
        });
        downloads.push({ file: d.file });
        const file = d.file;
        out.push({
          source,
          matches: [
            {
              named: d.name,
              root: { rel: '', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: d.mtime, size: d.size, open: async () => createReadStream(file) },
              below: () => [],
              local: false,
            },
          ],
        });
        break;
      }
    }
  }
  return out;
}

/** The changes of a COPY/ADD step (an Overlay holding them). */
export async function copyChanges(step: CopyStep, deps: FileStepDeps): Promise<Overlay> {
  const link = step.link && step.chmod === undefined; // BuildKit ignores --link with --chmod
  if (link && step.chown !== '' && needsLookup(step.chown)) {
    throw new BuildImageError(
      'EXEC_CHOWN_LINK',
      `--chown=${step.chown} with --link: user and group names cannot be resolved, because a --link layer is made without reading the image`,
      { range: step.range, suggestion: 'use numeric ids (e.g. --chown=1000:1000), or drop --link' },
    );
  }
  const base = link ? undefined : await deps.parent();
  const overlay = new Overlay(base);
  const now = step.epoch ?? 0;
  let owner: Owner | undefined;
  try {
    owner = await resolveOwner(step.chown, base, { onUnknown: 'error', what: `--chown=${step.chown}` });
  } catch (err) {
    throw withRange(err, step.range);
  }
  const mk: MkdirOptions = { mode: step.chmod ?? 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: now };
  const exclude = matcherOf(step.exclude, '--exclude');
  const downloads: { file: string }[] = [];
  const groups = await gather(step, deps, now, downloads);

  // Several things to one destination need it to be a directory (see the module comment).
  const all = groups.flatMap((g) => g.matches);
  if (all.length > 1 && !step.dest.endsWith('/') && all.some((m) => m.root.type !== 'dir')) {
    if (overlay.statType(step.dest) !== 'dir') {
      throw new BuildImageError(
        'EXEC_COPY_DEST_NOT_DIR',
        `When using ${sourceLabel(step)} with more than one source file, the destination must be a directory and end with a /`,
        { range: step.range, suggestion: `write the destination as "${step.dest}/"` },
      );
    }
  }

  try {
    for (const g of groups) {
      for (const match of g.matches) {
        deps.signal?.throwIfAborted();
        if (step.unpack && match.local && match.root.type === 'file' && match.root.open !== undefined) {
          const entries = await openArchive(match.root.open, `/${match.named}`);
          if (entries !== undefined) {
            await extractArchive(overlay, entries, step, owner, now, deps);
            continue;
          }
        }
        copyMatch(overlay, match, step, owner, mk, g.include, exclude, deps.signal);
      }
      if (g.required !== undefined) {
        const want = g.required.pattern;
        const found = g.matches.some((m) => [...m.below()].some((n) => n.rel.startsWith(want)));
        if (!found) await g.required.check();
        if (!found) {
          throw new BuildImageError('CONTEXT_SOURCE_NOT_FOUND', `"/${want}": not found`, { range: step.range });
        }
      }
    }
  } catch (err) {
    throw withRange(err, step.range);
  }
  return overlay;
}

/** fsutil `Copy` of one match (see the module comment). */
function copyMatch(
  overlay: Overlay,
  match: SourceMatch,
  step: CopyStep,
  owner: Owner | undefined,
  mk: MkdirOptions,
  include: ReturnType<typeof matcherOf>,
  exclude: ReturnType<typeof matcherOf>,
  signal: AbortSignal | undefined,
): void {
  const dest = step.dest;
  overlay.mkdirAll(overlay.resolve(ensureDirOf(dest)), mk, 'mkdir');
  const dst = overlay.resolve(confinePath(dest));
  // prepareTargetDir (CopyDirContents: a directory's contents are copied)
  const srcIsDir = match.root.type === 'dir';
  const destType = overlay.statType(dst);
  let destPath = dst;
  if (!srcIsDir && destType === 'dir') destPath = joinRel(dst, baseName(match.named));
  let target = parentPath(destPath);
  if (srcIsDir && destType === undefined) target = destPath;
  overlay.mkdirAll(target, mk, 'mkdir');
  if (destPath === '' && !srcIsDir) throw new BuildImageError('EXEC_COPY_CONFLICT', 'cannot replace to directory / with file');
  new Copier(overlay, owner, step.chmod, include, exclude, signal).run(match, destPath);
}

/**
 * ADD of a local archive (go-archive `Unpack` in a chroot at the destination, which is created
 * 0755 with the `--chown` owner): entry names are cleaned and confined to the destination,
 * parents resolve through symlinks as if the destination were `/`, missing parents are made
 * 0755 root-owned, an existing entry is replaced unless both are directories, owners come from
 * the archive unless `--chown`, modes and mtimes from the archive; hard links point inside the
 * destination. Contents are spooled to the step's work directory until the layer is written.
 */
async function extractArchive(
  overlay: Overlay,
  entries: AsyncGenerator<TarReadEntry>,
  step: CopyStep,
  owner: Owner | undefined,
  now: number,
  deps: FileStepDeps,
): Promise<void> {
  const root = overlay.resolve(step.dest);
  overlay.mkdirAll(root, { mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: now }, 'mkdir');
  if (overlay.typeAt(root) !== 'dir') {
    throw new BuildImageError('EXEC_NOT_A_DIRECTORY', `cannot unpack into /${root}: it is not a directory`);
  }
  const implied: MkdirOptions = { mode: 0o755, uid: 0, gid: 0, mtime: now };
  let spool: string | undefined;
  let n = 0;
  try {
    for await (const e of entries) {
      deps.signal?.throwIfAborted();
      const name = confinePath(e.path);
      if (name === '') continue;
      const parent = overlay.resolve(parentPath(name), { root });
      overlay.mkdirAll(parent, implied, 'mkdir');
      const path = joinRel(parent, basePath(name));
      const uid = owner?.uid ?? e.uid;
      const gid = owner?.gid ?? e.gid;
      const xattrs = Object.keys(e.xattrs).length > 0 ? e.xattrs : undefined;
      const common = { mode: e.mode & 0o7777, uid, gid, mtime: e.mtime, xattrs, fresh: true };
      switch (e.type) {
        case 'dir': {
          const existing = overlay.lookup(path);
          let fresh = true;
          if (existing !== undefined && existing.node.type === 'dir') fresh = existing.pending ? existing.node.fresh : false;
          overlay.set(path, { ...common, type: 'dir', size: 0, fresh });
          break;
        }
        case 'file': {
          spool ??= await deps.workDir();
          const file = join(spool, `f${n++}`);
          await pipeline(e.body(), createWriteStream(file, { mode: 0o600 }));
          overlay.set(path, { ...common, type: 'file', size: e.size, open: async (): Promise<Readable> => createReadStream(file) });
          break;
        }
        case 'symlink':
          overlay.set(path, { ...common, type: 'symlink', mode: 0o777, size: 0, linkTarget: e.linkname });
          break;
        case 'hardlink': {
          const targetPath = overlay.resolve(confinePath(e.linkname), { root, followFinal: false });
          const t = overlay.lookup(targetPath);
          if (t === undefined || t.node.type === 'dir' || targetPath === '') {
            throw new BuildImageError('EXEC_ARCHIVE_INVALID', `invalid hardlink "${e.path}" -> "${e.linkname}" in the archive: no such file in the destination`);
          }
          if (t.pending && t.node.type !== 'hardlink') {
            const target = t.node;
            overlay.set(path, { ...target, type: 'hardlink', linkNode: target, linkPath: targetPath, fresh: true });
          } else {
            // A link to a file of the image below (or to a link): the layer gets a copy.
            const size = t.pending ? (t.node.linkNode?.size ?? 0) : t.node.size;
            overlay.set(path, { ...common, type: 'file', size, open: () => overlay.openAt(targetPath) });
          }
          break;
        }
        default:
          overlay.set(path, { ...common, type: e.type, size: 0, devMajor: e.devmajor, devMinor: e.devminor });
      }
    }
  } catch (err) {
    await entries.return(undefined);
    throw err;
  }
}
