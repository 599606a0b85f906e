/**
 * The shell script both runners start with, run as root inside the step's own mount
 * namespace (so every mount it makes disappears with the namespace, whatever happens to this
 * process): it mounts the root filesystem, the sources of bind mounts and a private tmpfs
 * holding the in-memory inputs, and creates the working directory. Every program is called by
 * absolute path; every value is single-quoted.
 */
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { shq, type HostPrograms } from './host.js';
import type { FsSpec } from './snapshotter.js';
import type { ContainerSpec } from './spec.js';

export interface SetupPaths {
  /** Where the root filesystem is mounted. */
  readonly rootfs: string;
  /** Host path (inside the namespace) of each bind mount's source, subpath applied; '' for other mounts. */
  readonly sources: readonly string[];
  /** Host path of input i (in the private tmpfs). */
  readonly inputs: readonly string[];
}

/** `mount` arguments for a filesystem spec at `target`. */
export function mountCommand(p: HostPrograms, fs: FsSpec, target: string, readonly = false): string {
  if (fs.kind === 'dir') {
    const bind = `${shq(p.mount)} -n --bind ${shq(fs.path)} ${shq(target)}`;
    return readonly ? `${bind} && ${shq(p.mount)} -n -o remount,bind,ro ${shq(target)}` : bind;
  }
  const opts = [`lowerdir=${fs.lower.join(':')}`];
  if (fs.upper !== undefined && fs.work !== undefined) opts.push(`upperdir=${fs.upper}`, `workdir=${fs.work}`);
  opts.push(...fs.options);
  const all = opts.join(',');
  if (/[,]/.test(fs.lower.join(':')) || (fs.upper ?? '').includes(',') || (fs.work ?? '').includes(',')) {
    throw new BuildImageError('RUN_INVALID_PATH', `overlay directories cannot contain ",": ${all}`);
  }
  const ro = readonly || fs.upper === undefined ? ',ro' : '';
  return `(cd ${shq(fs.cwd)} && ${shq(p.mount)} -n -t overlay overlay -o ${shq(all + ro)} ${shq(target)})`;
}

/** Lines that read the inputs from fd 4 into files under `dir` (a tmpfs). */
function readInputs(inputs: readonly Buffer[], dir: string): string[] {
  return inputs.map((b, i) => {
    const file = shq(join(dir, String(i)));
    return b.length === 0 ? `: > ${file}` : `dd bs=${b.length} count=1 iflag=fullblock status=none of=${file} <&4`;
  });
}

/**
 * The script's common part. `rootfsTarget` must exist; `stateDir` is private to the step.
 */
export function setupScript(spec: ContainerSpec, p: HostPrograms): { lines: string[]; paths: SetupPaths } {
  const T = spec.stateDir;
  const rootfs = join(T, 'rootfs');
  const lines: string[] = ['set -eu', 'umask 022'];
  lines.push(mountCommand(p, spec.rootfs, rootfs));
  // Inputs: a private tmpfs, filled from fd 4.
  const inDir = join(T, 'in');
  const inputs = spec.inputs.map((_, i) => join(inDir, String(i)));
  if (spec.inputs.length > 0) {
    lines.push(`${shq(p.mkdir)} -p ${shq(inDir)}`);
    lines.push(`${shq(p.mount)} -n -t tmpfs -o ${spec.rootless ? 'mode=0700' : 'mode=0700,nosuid,nodev'} tmpfs ${shq(inDir)}`);
    lines.push(...readInputs(spec.inputs, inDir));
  }
  // Sources of bind mounts.
  const sources: string[] = [];
  const mounted = new Map<string, string>();
  spec.mounts.forEach((m, i) => {
    if (m.type === 'input') {
      if (m.files.length === 1 && m.files[0]!.name === '') {
        const f = m.files[0]!;
        lines.push(`${shq(p.chown)} ${f.uid}:${f.gid} ${shq(inputs[f.input]!)}`, `${shq(p.chmod)} ${(f.mode & 0o7777).toString(8)} ${shq(inputs[f.input]!)}`);
        sources.push(inputs[f.input]!);
        return;
      }
      const dir = join(inDir, `dir-${i}`);
      lines.push(`${shq(p.mkdir)} -m 0755 ${shq(dir)}`);
      for (const f of m.files) {
        const target = join(dir, f.name);
        lines.push(`${shq(p.cat)} ${shq(inputs[f.input]!)} > ${shq(target)}`);
        lines.push(`${shq(p.chown)} ${f.uid}:${f.gid} ${shq(target)}`, `${shq(p.chmod)} ${(f.mode & 0o7777).toString(8)} ${shq(target)}`);
      }
      sources.push(dir);
      return;
    }
    if (m.type !== 'bind') {
      sources.push('');
      return;
    }
    const key = JSON.stringify(m.source);
    let at = mounted.get(key);
    if (at === undefined) {
      if (m.source.kind === 'dir') at = m.source.path;
      else {
        at = join(T, 'src', String(i));
        lines.push(`${shq(p.mkdir)} -p ${shq(at)}`, mountCommand(p, m.source, at));
      }
      mounted.set(key, at);
    }
    sources.push(m.subpath === '' ? at : join(at, m.subpath));
  });
  // The working directory (and missing parents), owned by the step's user.
  for (const op of spec.mkdirs) {
    const target = join(rootfs, op.path);
    lines.push(`${shq(p.mkdir)} -m ${(op.mode & 0o7777).toString(8)} ${shq(target)}`, `${shq(p.chown)} ${op.uid}:${op.gid} ${shq(target)}`);
  }
  return { lines, paths: { rootfs, sources, inputs } };
}
