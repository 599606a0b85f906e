/**
 * Extended attributes through `getfattr`/`setfattr` (Debian `attr`): Node has no xattr API.
 * One process reads a whole tree (`getfattr -R`) and one writes any number of files
 * (`setfattr --restore`), so the cost does not grow with a process per file.
 *
 * The dump format (getfattr(1)): blocks of `# file: <path>` followed by `name=0x<hex>` lines,
 * separated by blank lines; in paths, bytes that are not printable and `\` itself are written
 * as `\ooo` octal escapes.
 */
import { BuildImageError } from '../../errors.js';
import { findProgram, mustRun, requireProgram } from './host.js';

/** Attributes by path. */
export type XattrMap = Map<string, Map<string, Buffer>>;

/** `\ooo` escapes of getfattr/setfattr paths, both ways. */
export function escapeAttrPath(path: string): string {
  const bytes = Buffer.from(path, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c || b <= 0x20 || b >= 0x7f || b === 0x3d) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

export function unescapeAttrPath(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c === 0x5c && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else {
      for (const b of Buffer.from(text[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parses `getfattr -d -e hex` output. */
export function parseXattrDump(text: string): XattrMap {
  const out: XattrMap = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      out.set(unescapeAttrPath(line.slice('# file: '.length)), current);
      continue;
    }
    if (line === '' || current === undefined) continue;
    const eq = line.indexOf('=');
    if (eq < 0) {
      current.set(line, Buffer.alloc(0));
      continue;
    }
    const name = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (value.startsWith('0x')) current.set(name, Buffer.from(value.slice(2), 'hex'));
    else if (value.startsWith('0s')) current.set(name, Buffer.from(value.slice(2), 'base64'));
    else current.set(name, Buffer.from(value.replace(/^"|"$/g, ''), 'utf8'));
  }
  return out;
}

/** True when both attr programs are installed. */
export function haveXattrTools(): boolean {
  return findProgram('getfattr') !== undefined && findProgram('setfattr') !== undefined;
}

/**
 * The attributes matching `pattern` (a regular expression over names, as getfattr -m takes)
 * of `root` and everything below it, symlinks not followed. Paths are absolute.
 */
export async function readXattrsRecursive(root: string, pattern: string): Promise<XattrMap> {
  const getfattr = requireProgram('getfattr', 'reading extended attributes');
  const out = await mustRun('RUN_XATTR_FAILED', `getfattr on ${root}`, getfattr, [
    '--absolute-names',
    '--recursive',
    '--physical',
    '--no-dereference',
    '--dump',
    '--encoding=hex',
    `--match=${pattern}`,
    '--',
    root,
  ]);
  return parseXattrDump(out.toString('utf8'));
}

/** Sets attributes on many files in one `setfattr --restore` (paths absolute). */
export async function writeXattrs(attrs: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>): Promise<void> {
  if (attrs.size === 0) return;
  const setfattr = requireProgram('setfattr', 'setting extended attributes');
  let dump = '';
  for (const [path, values] of attrs) {
    if (!path.startsWith('/')) throw new BuildImageError('RUN_INTERNAL', `xattr path must be absolute: ${path}`);
    dump += `# file: ${escapeAttrPath(path)}\n`;
    for (const [name, value] of values) dump += `${name}=0x${Buffer.from(value).toString('hex')}\n`;
    dump += '\n';
  }
  await mustRun('RUN_XATTR_FAILED', 'setfattr --restore', setfattr, ['--no-dereference', '--restore=-'], { input: dump });
}
