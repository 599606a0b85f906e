/**
 * ADD's archive detection (BuildKit solver/llbsolver/file/unpack.go `isArchivePath`): a local
 * regular file is an archive when, once decompressed by content (gzip, bzip2, xz, zstd or
 * none — go-archive's `DecompressStream`), a first tar header can be read from it. Anything
 * else is copied as a plain file.
 *
 * gzip is decompressed with node:zlib (and zstd where Node has it); bzip2, xz — and zstd on
 * older Node — by the `bzip2 -dc`, `xz -dc` and `zstd -dc` programs (Debian packages bzip2,
 * xz-utils, zstd), since no decoder for them ships with Node. A missing program is an error
 * naming its package, not a silent "not an archive".
 */
import { spawn } from 'node:child_process';
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { BuildImageError } from '../errors.js';
import { detectCompression, peekStream, type SniffedCompression } from '../image/gzip.js';
import { readTar, type TarReadEntry } from '../image/tar.js';

const PROGRAMS: Record<'bzip2' | 'xz' | 'zstd', { cmd: string; pkg: string }> = {
  bzip2: { cmd: 'bzip2', pkg: 'bzip2' },
  xz: { cmd: 'xz', pkg: 'xz-utils' },
  zstd: { cmd: 'zstd', pkg: 'zstd' },
};

/** Decompresses through a child process (`<cmd> -dc`). */
function childDecompress(input: Readable, kind: 'bzip2' | 'xz' | 'zstd', what: string): Readable {
  const { cmd, pkg } = PROGRAMS[kind];
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = child.stdout;
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString('utf8');
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    const e =
      err.code === 'ENOENT'
        ? new BuildImageError('EXEC_UNSUPPORTED_COMPRESSION', `${what} is ${kind}-compressed, and unpacking it needs the program ${cmd}`, {
            suggestion: `install the Debian package ${pkg}`,
            cause: err,
          })
        : err;
    out.destroy(e);
    input.destroy();
  });
  child.on('close', (code) => {
    if (code !== 0 && code !== null) {
      out.destroy(new BuildImageError('EXEC_ARCHIVE_INVALID', `${cmd} -dc failed on ${what}: ${stderr.trim() || `exit status ${code}`}`));
    }
  });
  child.stdin.on('error', () => {
    // EPIPE when the decompressor stops early: its exit status tells what happened.
  });
  input.on('error', (err) => out.destroy(err));
  input.pipe(child.stdin);
  // Stop the child when the reader gives up early.
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
    input.destroy();
  });
  return out;
}

function zstdTransform(): NodeJS.ReadWriteStream | undefined {
  const create = (zlib as unknown as Record<string, unknown>)['createZstdDecompress'];
  return typeof create === 'function' ? (create as () => NodeJS.ReadWriteStream)() : undefined;
}

/** `input` decompressed according to `compression`. */
export function decompressAny(input: Readable, compression: SniffedCompression, what: string): Readable {
  switch (compression) {
    case 'none':
      return input;
    case 'gzip':
      return pipeline(input, zlib.createGunzip(), () => {}) as unknown as Readable;
    case 'zstd': {
      const t = zstdTransform();
      if (t !== undefined) return pipeline(input, t, () => {}) as unknown as Readable;
      return childDecompress(input, 'zstd', what);
    }
    case 'bzip2':
    case 'xz':
      return childDecompress(input, compression, what);
  }
}

/**
 * The entries of the archive `open` gives, or undefined when it is not one (see the module
 * comment). The returned generator must be read to its end (or returned) to release the file.
 */
export async function openArchive(open: () => Promise<AsyncIterable<Uint8Array>>, what: string): Promise<AsyncGenerator<TarReadEntry> | undefined> {
  const opened = await open();
  const raw = opened instanceof Readable ? opened : Readable.from(opened, { objectMode: false });
  const peeked = await peekStream(raw, 6);
  const compression = detectCompression(peeked.head);
  const stream = decompressAny(peeked.stream, compression, what);
  const entries = readTar(stream);
  let first: IteratorResult<TarReadEntry>;
  try {
    first = await entries.next();
  } catch (err) {
    stream.destroy();
    raw.destroy();
    if (err instanceof BuildImageError && err.code === 'EXEC_UNSUPPORTED_COMPRESSION') throw err;
    return undefined;
  }
  if (first.done) {
    stream.destroy();
    raw.destroy();
    return undefined;
  }
  const head = first.value;
  return (async function* () {
    try {
      yield head;
      yield* entries;
    } finally {
      stream.destroy();
      raw.destroy();
    }
  })();
}
