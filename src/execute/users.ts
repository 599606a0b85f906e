/**
 * `--chown` and WORKDIR owners: a `user[:group]` spec resolved against an image's /etc/passwd
 * and /etc/group, as BuildKit does (client/llb/fileop.go `WithUser`, solver/llbsolver/ops/
 * user_linux.go `readUser`):
 * - each part is an id when it parses as a 32-bit decimal integer or is `root` (0), else a name;
 * - a user id alone also sets the group to that id; a user name takes uid AND gid from its
 *   passwd entry; a group part then replaces the gid (a name through /etc/group);
 * - an empty group (`user:`) means gid 0 — BuildKit marshals the empty name as id 0;
 * - the files are read from the DESTINATION image (symlinks followed inside its root, at most
 *   10 MiB, first matching line wins).
 *
 * BuildKit silently uses 0 for a name it cannot find. For `COPY --chown` we fail instead
 * (`onUnknown: 'error'`), naming the file that was searched; WORKDIR keeps BuildKit's
 * behaviour (`onUnknown: 'root'`), since a USER that only exists later is legal there.
 */
import { BuildImageError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { RootView } from './rootfs.js';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

type IdOrName = { readonly id: number } | { readonly name: string };

export interface OwnerSpec {
  readonly user?: IdOrName | undefined;
  readonly group?: IdOrName | undefined;
}

const MAX_USER_FILE = 10 << 20;
const MAX_ID = 2 ** 31 - 1;

/** BuildKit's `parseUID`: `root` is 0, else a base-10 int32; anything else is a name. */
function idOrName(text: string): IdOrName {
  if (text === 'root') return { id: 0 };
  if (/^[+-]?\d+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n) && n >= -(2 ** 31) && n <= MAX_ID) {
      if (n < 0) throw new BuildImageError('EXEC_CHOWN_INVALID', `invalid id "${text}": user and group ids cannot be negative`);
      return { id: n };
    }
  }
  // BuildKit: an empty name is marshalled as id 0.
  return text === '' ? { id: 0 } : { name: text };
}

/** Splits `user[:group]` like BuildKit's `WithUser` (`strings.SplitN(name, ":", 2)`). */
export function parseOwnerSpec(spec: string): OwnerSpec {
  if (spec === '') return {};
  const i = spec.indexOf(':');
  if (i < 0) return { user: idOrName(spec) };
  return { user: idOrName(spec.slice(0, i)), group: idOrName(spec.slice(i + 1)) };
}

/** True when resolving `spec` needs the image's /etc/passwd or /etc/group. */
export function needsLookup(spec: string): boolean {
  const s = parseOwnerSpec(spec);
  return (s.user !== undefined && 'name' in s.user) || (s.group !== undefined && 'name' in s.group);
}

interface PasswdLine {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** moby/sys/user ParsePasswd/ParseGroup: `name:x:id[:gid]…`, blank lines skipped. */
function parseIdFile(text: string, idFields: number): PasswdLine[] {
  const out: PasswdLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const id = Number(f[2]);
    const gid = idFields === 2 ? Number(f[3]) : id;
    if (f.length < 3 || !/^\d+$/.test(f[2] ?? '') || (idFields === 2 && !/^\d+$/.test(f[3] ?? ''))) continue;
    out.push({ name: f[0]!, uid: id, gid });
  }
  return out;
}

async function readIdFile(view: RootView | undefined, path: string): Promise<string | undefined> {
  if (view === undefined) return undefined;
  const e = view.stat(path);
  if (e === undefined || e.type !== 'file') return undefined;
  if (e.size > MAX_USER_FILE) {
    throw new BuildImageError('EXEC_USER_FILE_TOO_LARGE', `"${path}" exceeds ${MAX_USER_FILE} bytes`);
  }
  return (await view.readFile(path, MAX_USER_FILE)).toString('utf8');
}

export interface ResolveOwnerOptions {
  /** What to do with a name the files do not list: fail (COPY --chown) or use 0 (BuildKit). */
  readonly onUnknown: 'error' | 'root';
  /** For messages: `--chown=app` or `USER app`. */
  readonly what: string;
}

/**
 * The numeric owner `spec` means in the image `view` (undefined when `spec` is empty: no
 * chown). Names are looked up in the view's /etc/passwd and /etc/group.
 */
export async function resolveOwner(spec: string, view: RootView | undefined, options: ResolveOwnerOptions): Promise<Owner | undefined> {
  const parsed = parseOwnerSpec(spec);
  if (parsed.user === undefined) return undefined;
  let uid = 0;
  let gid = 0;
  if ('id' in parsed.user) {
    uid = parsed.user.id;
    gid = parsed.user.id;
  } else {
    const text = await readIdFile(view, '/etc/passwd');
    const users = text === undefined ? [] : parseIdFile(text, 2);
    const name = parsed.user.name;
    const found = users.find((u) => u.name === name);
    if (found !== undefined) {
      uid = found.uid;
      gid = found.gid;
    } else if (options.onUnknown === 'error') {
      throw new BuildImageError(
        'EXEC_CHOWN_UNKNOWN_USER',
        `${options.what}: unable to find user ${name}: no matching entries in passwd file` +
          (text === undefined ? ' (the image has no /etc/passwd)' : ''),
        { suggestion: didYouMean(name, users.map((u) => u.name)) ?? 'use a numeric id, or create the user in an earlier step' },
      );
    }
  }
  if (parsed.group !== undefined) {
    if ('id' in parsed.group) gid = parsed.group.id;
    else {
      const text = await readIdFile(view, '/etc/group');
      const groups = text === undefined ? [] : parseIdFile(text, 1);
      const name = parsed.group.name;
      const found = groups.find((g) => g.name === name);
      if (found !== undefined) gid = found.uid;
      else if (options.onUnknown === 'error') {
        throw new BuildImageError(
          'EXEC_CHOWN_UNKNOWN_GROUP',
          `${options.what}: unable to find group ${name}: no matching entries in group file` +
            (text === undefined ? ' (the image has no /etc/group)' : ''),
          { suggestion: didYouMean(name, groups.map((g) => g.name)) ?? 'use a numeric id, or create the group in an earlier step' },
        );
      }
    }
  }
  return { uid, gid };
}
