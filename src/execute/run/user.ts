/**
 * The user a RUN step runs as: BuildKit's executor/oci/user.go `GetUser`, which reads the
 * step's own root filesystem with moby/sys/user `GetExecUser`:
 *
 * - `uid:gid` with both parts numeric (or `root`) is taken as is, no files read;
 * - otherwise /etc/passwd is searched (numeric user → by uid, else by name; first match wins)
 *   and gives uid, gid and the name; a name that is not there fails ("unable to find user x:
 *   no matching entries in passwd file"); a number that is not there is used with gid 0;
 * - with a group part, /etc/group gives the gid (numeric → by gid, else by name); a name that
 *   is not there fails; no supplementary groups then;
 * - without a group part, a matched user gets the groups that list it as a member as its
 *   supplementary groups;
 * - the empty USER is root (0:0) even when /etc/passwd is missing.
 * The primary gid is then put first in the additional gids (containerd `ensureAdditionalGids`).
 */
import { BuildImageError } from '../../errors.js';
import type { FsView } from './fsview.js';
import { readViewFile } from './fsview.js';

export interface ExecUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups, the primary gid first. */
  readonly additionalGids: readonly number[];
  /**
   * The home directory runc sets as HOME when the environment has none: the /etc/passwd entry
   * of the uid, else `/` (runc libcontainer `setupUser`).
   */
  readonly home: string;
}

const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | undefined {
  if (s === 'root') return 0;
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : undefined;
}

/** Go's strconv.Atoi on the user/group argument. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function lines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => l.split(':'));
}

function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((f) => ({ name: f[0] ?? '', uid: atoi(f[2] ?? '') ?? 0, gid: atoi(f[3] ?? '') ?? 0, home: f[5] ?? '' }));
}

function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((f) => ({
    name: f[0] ?? '',
    gid: atoi(f[2] ?? '') ?? 0,
    members: (f[3] ?? '').split(',').filter((m) => m !== ''),
  }));
}

function withPrimary(gid: number, sgids: readonly number[]): number[] {
  return sgids.includes(gid) ? [...sgids] : [gid, ...sgids];
}

function rangeError(what: string): BuildImageError {
  return new BuildImageError('RUN_USER_INVALID', `${what}: user and group ids must be between 0 and ${MAX_ID}`);
}

/** Resolves a USER value in the step's root filesystem (see the module comment). */
export async function resolveExecUser(spec: string, view: FsView): Promise<ExecUser> {
  const isDefault = spec === '';
  const name = isDefault ? '0' : spec;
  const passwd = (await readViewFile(view, '/etc/passwd').catch(() => undefined))?.toString('utf8');
  const homeOf = (uid: number) => (passwd === undefined ? undefined : parsePasswd(passwd).find((u) => u.uid === uid)?.home) || '/';
  // Fast path: both parts given and numeric.
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const u = parseId(name.slice(0, colon));
    const g = parseId(name.slice(colon + 1));
    if (u !== undefined && g !== undefined) return { uid: u, gid: g, additionalGids: [g], home: homeOf(u) };
  }
  const userArg = colon >= 0 ? name.slice(0, colon) : name;
  const groupArg = colon >= 0 ? name.slice(colon + 1) : '';
  const groupText = await readViewFile(view, '/etc/group');
  let ids: Omit<ExecUser, 'home'>;
  try {
    ids = execUser(userArg, groupArg, passwd, groupText?.toString('utf8'));
  } catch (err) {
    if (!isDefault) throw err;
    ids = { uid: 0, gid: 0, additionalGids: [0] };
  }
  return { ...ids, home: homeOf(ids.uid) };
}

function execUser(userArg: string, groupArg: string, passwd: string | undefined, group: string | undefined): Omit<ExecUser, 'home'> {
  let uid = 0;
  let gid = 0;
  let sgids: number[] = [];
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);
  const users = passwd === undefined ? [] : parsePasswd(passwd).filter((u) => (uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  let matched = '';
  if (users.length > 0) {
    matched = users[0]!.name;
    uid = users[0]!.uid;
    gid = users[0]!.gid;
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      throw new BuildImageError('RUN_USER_NOT_FOUND', `unable to find user ${userArg}: no matching entries in passwd file`, {
        suggestion: passwd === undefined ? 'the image has no /etc/passwd: use a numeric uid[:gid]' : 'create the user in an earlier step, or use a numeric uid[:gid]',
      });
    }
    if (uidArg < 0 || uidArg > MAX_ID) throw rangeError(`USER ${userArg}`);
    uid = uidArg;
  }
  if (groupArg !== '' || matched !== '') {
    const groups =
      group === undefined
        ? []
        : parseGroup(group).filter((g) => {
            if (groupArg === '') return g.members.includes(matched);
            if (gidArg !== undefined) return g.gid === gidArg;
            return g.name === groupArg;
          });
    if (groupArg !== '') {
      if (groups.length > 0) gid = groups[0]!.gid;
      else {
        if (gidArg === undefined) {
          throw new BuildImageError('RUN_GROUP_NOT_FOUND', `unable to find group ${groupArg}: no matching entries in group file`, {
            suggestion: group === undefined ? 'the image has no /etc/group: use a numeric gid' : 'create the group in an earlier step, or use a numeric gid',
          });
        }
        if (gidArg < 0 || gidArg > MAX_ID) throw rangeError(`group ${groupArg}`);
        gid = gidArg;
      }
    } else if (groups.length > 0) {
      sgids = groups.map((g) => g.gid);
    }
  }
  return { uid, gid, additionalGids: withPrimary(gid, sgids) };
}
