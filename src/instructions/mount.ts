/**
 * `RUN --mount=…` and `RUN --device=…` values, as BuildKit's commands_runmount.go and
 * commands_rundevice.go read them. Mount values are expanded (ARG/ENV) before they are read,
 * so the planner calls parseMount with the expansion of the moment.
 */
import { closest } from '../suggest.js';
import { csvFields, parseGoBool, parseGoUint32, parseRamInBytes } from './go.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface Mount {
  readonly type: MountType;
  readonly from: string;
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** tmpfs size in bytes (0: no limit). */
  readonly sizeLimit: number;
  readonly cacheId: string;
  /** '' when not given (cache mounts default to shared). */
  readonly cacheSharing: CacheSharing | '';
  readonly required: boolean;
  /** Secret as an environment variable: its name ('' = the default name). */
  readonly env: string | undefined;
  readonly mode: number | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const KEYS = [
  'type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid',
  'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env',
];

/** A mount or device value that cannot be read; `suggestion` is "did you mean …?" when close. */
export class MountSyntaxError extends Error {
  constructor(
    message: string,
    readonly suggestion?: string,
  ) {
    super(message);
  }
}

function fail(message: string, value?: string, options?: readonly string[]): never {
  const match = value !== undefined && options !== undefined ? closest(value, options, true) : undefined;
  throw new MountSyntaxError(message + (match !== undefined ? ` (did you mean ${match}?)` : ''), match && `did you mean ${match}?`);
}

function bool(key: string, value: string): boolean {
  const b = parseGoBool(value);
  if (b === undefined) fail(`invalid value for ${key}: ${value}`);
  return b;
}

/** Reads a `--mount` value; `expand` applies variable expansion to each value. */
export function parseMount(value: string, expand: (word: string) => string = (w) => w): Mount {
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (err) {
    fail(`failed to parse csv mounts: ${(err as Error).message}`);
  }
  const m = {
    type: 'bind' as MountType,
    from: '',
    source: '',
    target: '',
    readOnly: false,
    sizeLimit: 0,
    cacheId: '',
    cacheSharing: '' as CacheSharing | '',
    required: false,
    env: undefined as string | undefined,
    mode: undefined as number | undefined,
    uid: undefined as number | undefined,
    gid: undefined as number | undefined,
  };
  let roAuto = true;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    if (eq === -1) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readOnly = true;
          roAuto = false;
          continue;
        case 'readwrite':
        case 'rw':
          m.readOnly = false;
          roAuto = false;
          continue;
        case 'required':
          if (m.type === 'secret' || m.type === 'ssh') {
            m.required = true;
            continue;
          }
          fail(`unexpected key '${key}' for mount type '${m.type}'`);
        // falls through (fail never returns)
        default:
          fail(`invalid field '${field}' must be a key=value pair`);
      }
    }
    const v = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const t = v.toLowerCase() as MountType;
        if (!MOUNT_TYPES.includes(t)) fail(`unsupported mount type ${JSON.stringify(v)}`, v, MOUNT_TYPES);
        m.type = t;
        break;
      }
      case 'from':
        m.from = v;
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = bool(key, v);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !bool(key, v);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') fail(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = bool(key, v);
        break;
      case 'size': {
        if (m.type !== 'tmpfs') fail(`unexpected key '${key}' for mount type '${m.type}'`);
        const n = parseRamInBytes(v);
        if (n === undefined) fail(`invalid value for ${key}: ${v}`);
        m.sizeLimit = n;
        break;
      }
      case 'id':
        m.cacheId = v;
        break;
      case 'sharing': {
        const s = v.toLowerCase() as CacheSharing;
        if (!SHARING.includes(s)) fail(`unsupported sharing value ${JSON.stringify(v)}`, v, SHARING);
        m.cacheSharing = s;
        break;
      }
      case 'mode': {
        const n = parseGoUint32(v, 8);
        if (n === undefined) fail(`invalid value ${v} for mode`);
        m.mode = n;
        break;
      }
      case 'uid':
      case 'gid': {
        const n = parseGoUint32(v, 10);
        if (n === undefined) fail(`invalid value ${v} for ${key}`);
        m[key] = n;
        break;
      }
      case 'env':
        m.env = v;
        break;
      default:
        fail(`unexpected key '${key}' in '${field}'`, key, KEYS);
    }
  }
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) fail(`mode not allowed for "${m.type}" type mounts`);
    if (m.uid !== undefined) fail(`uid not allowed for "${m.type}" type mounts`);
    if (m.gid !== undefined) fail(`gid not allowed for "${m.type}" type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== '') fail('secret mount should not have a from');
    if (m.cacheSharing !== '') fail('secret mount should not define sharing');
    if (m.source === '' && m.target === '' && m.cacheId === '') fail('invalid secret mount. one of source, target required');
    if (m.source !== '' && m.cacheId !== '') fail("both source and id can't be set");
  }
  if (m.cacheSharing !== '' && m.type !== 'cache') fail(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

/**
 * The checks BuildKit makes on a `--mount` value before variables are expanded (parseMount
 * with no expander): the CSV must parse, and `from` may hold no variable (a `$` is allowed
 * only as its last character). Everything else waits for the expansion.
 */
export function checkUnexpandedMount(value: string): void {
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (err) {
    fail(`failed to parse csv mounts: ${(err as Error).message}`);
  }
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq === -1 || field.slice(0, eq).toLowerCase() !== 'from') continue;
    const v = field.slice(eq + 1);
    const dollar = v.indexOf('$');
    if (dollar !== -1 && dollar !== v.length - 1) {
      fail(`'from' doesn't support variable expansion, define alias stage instead`);
    }
  }
}

export interface Device {
  readonly name: string;
  readonly required: boolean;
}

/** Reads a `--device` value (`name[,required[=bool]]` or `name=…,required=…`). */
export function parseDevice(value: string): Device {
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (err) {
    fail(`failed to parse csv devices: ${(err as Error).message}`);
  }
  let name = '';
  let required = false;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    if (eq === -1) {
      if (key === 'required') {
        required = true;
        continue;
      }
      if (name === '') {
        name = field;
        continue;
      }
      fail(`invalid field '${field}' must be a key=value pair`);
    }
    const v = field.slice(eq + 1);
    switch (key) {
      case 'name':
        if (name !== '') fail(`device name already set to ${name}`);
        name = v;
        break;
      case 'required':
        required = bool(key, v);
        break;
      default:
        if (name === '') {
          name = field;
          continue;
        }
        fail(`unexpected key '${key}' in '${field}'`, key, ['name', 'required']);
    }
  }
  return { name, required };
}
