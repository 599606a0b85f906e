/**
 * The built-in runner: nothing to install beyond util-linux and coreutils.
 *
 *     setpriv --pdeathsig KILL unshare --mount --pid --fork --uts --ipc [--net]
 *         --propagation private --kill-child  sh -c <script>
 *
 * The script (setup.ts, then below) runs as PID 1 of the new PID namespace: it mounts the
 * root, then what runc would — /proc, a minimal /dev (tmpfs with null, zero, full, random,
 * urandom and tty bound from the host, devpts, shm, mqueue and the usual symlinks), /sys
 * read-only, containerd's masked and read-only paths unless `security=insecure`, the
 * generated /etc/hosts and /etc/resolv.conf, then the step's mounts, creating their mount
 * points (the stubs the executor removes afterwards). The hostname is set in the new UTS
 * namespace, `lo` is brought up in a new network namespace (when `ip` is installed).
 *
 * It then moves the root mount onto `/` and chroots into it (runc's `msMoveRoot`, used when
 * pivot_root is not possible; after the move nothing of the host is reachable by path, and
 * `..` of the new root leads back into it), and execs, replacing itself so that the step's
 * command is PID 1:
 *
 *     env -i [-S 'SECRET=${…}'] -- K=V… setpriv --regid G --groups … --bounding-set <caps>
 *         unshare --root=. --wd=<cwd> --setuid=U -- <args…>
 *
 * `setpriv` sets the group, the supplementary groups and the capability bounding set (the
 * containerd defaults, as runc gets them) while still root; `unshare --root` chroots, changes
 * to the working directory and switches to the step's uid last. The environment is exactly
 * the step's, in its order (secret variables, read from this process's environment by `env
 * -S`, come first and never appear in a command line).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { hostPrograms, shq } from './host.js';
import { runTree, type ExitStatus, type OutputChunk } from './process.js';
import { setupScript } from './setup.js';
import { DEFAULT_CAPS, MASKED_PATHS, READONLY_PATHS, type ContainerSpec } from './spec.js';

/** Runs one container. */
export interface Runner {
  readonly name: string;
  run(spec: ContainerSpec, io: { signal?: AbortSignal | undefined; onOutput?: ((chunk: OutputChunk) => void) | undefined }): Promise<ExitStatus>;
}

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

function setprivCaps(): string {
  return ['-all', ...DEFAULT_CAPS.map((c) => '+' + c.slice('CAP_'.length).toLowerCase())].join(',');
}

function envName(kv: string): string {
  const i = kv.indexOf('=');
  return i < 0 ? kv : kv.slice(0, i);
}

/** The script of the built-in runner (exported for tests). */
export function unshareScript(spec: ContainerSpec): string {
  const p = hostPrograms();
  const { lines, paths } = setupScript(spec, p);
  const R = paths.rootfs;
  // -n: no utab update, which fails in a user namespace.
  const m = `${shq(p.mount)} -n`;
  const at = (path: string) => shq(join(R, path));
  lines.push(p.hostname !== undefined ? `${shq(p.hostname)} ${shq(spec.hostname)}` : `echo ${shq(spec.hostname)} > /proc/sys/kernel/hostname`);
  lines.push(`${shq(p.mkdir)} -p ${at('/proc')} ${at('/dev')} ${at('/sys')}`);
  lines.push(`${m} -t proc -o nosuid,noexec,nodev proc ${at('/proc')}`);
  lines.push(`${m} -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs ${at('/dev')}`);
  for (const d of DEVICES) {
    lines.push(`${shq(p.touch)} ${at(`/dev/${d}`)}`, `${m} --bind ${shq(`/dev/${d}`)} ${at(`/dev/${d}`)}`);
  }
  lines.push(`${shq(p.mkdir)} -p ${at('/dev/pts')} ${at('/dev/shm')} ${at('/dev/mqueue')}`);
  lines.push(`${m} -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620${spec.rootless ? '' : ',gid=5'} devpts ${at('/dev/pts')}`);
  lines.push(`${m} -t tmpfs -o nosuid,noexec,nodev,mode=1777,size=65536k shm ${at('/dev/shm')}`);
  lines.push(`${m} -t mqueue -o nosuid,noexec,nodev mqueue ${at('/dev/mqueue')}`);
  for (const [name, target] of [
    ['fd', '/proc/self/fd'],
    ['stdin', '/proc/self/fd/0'],
    ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'],
    ['ptmx', 'pts/ptmx'],
  ] as const) {
    lines.push(`${shq(p.ln)} -s ${shq(target)} ${at(`/dev/${name}`)}`);
  }
  lines.push(`if [ -e /proc/kcore ]; then ${shq(p.ln)} -s /proc/kcore ${at('/dev/core')}; fi`);
  // /sys: only the owner of the network namespace may mount sysfs; rootless with the host's
  // network gets the host's, read-only (as runc's rootless spec).
  if (spec.rootless && spec.network === 'host') {
    lines.push(`${m} --rbind /sys ${at('/sys')} && ${m} -o remount,bind,ro,nosuid,noexec,nodev ${at('/sys')}`);
  } else {
    lines.push(`${m} -t sysfs -o nosuid,noexec,nodev,${spec.security === 'sandbox' ? 'ro' : 'rw'} sysfs ${at('/sys')}`);
  }
  if (spec.security === 'sandbox') {
    for (const path of MASKED_PATHS) {
      const t = at(path);
      lines.push(`if [ -d ${t} ]; then ${m} -t tmpfs -o ro,nosuid,nodev,noexec tmpfs ${t}; elif [ -e ${t} ]; then ${m} --bind /dev/null ${t}; fi`);
    }
    for (const path of READONLY_PATHS) {
      const t = at(path);
      lines.push(`if [ -e ${t} ]; then ${m} --bind ${t} ${t} && ${m} -o remount,bind,ro ${t}; fi`);
    }
  }
  // /etc/hosts, /etc/resolv.conf and the step's mounts, with their mount points.
  const bindFile = (src: string, dest: string, readonly: boolean) => {
    const t = at(dest);
    lines.push(`if [ ! -e ${t} ]; then ${shq(p.mkdir)} -p ${at(parent(dest))} && ${shq(p.touch)} ${t}; fi`);
    lines.push(`${m} --bind ${shq(src)} ${t}` + (readonly ? ` && ${m} -o remount,bind,ro ${t}` : ''));
  };
  const bindDir = (src: string, dest: string, readonly: boolean) => {
    const t = at(dest);
    lines.push(`${shq(p.mkdir)} -p ${t}`);
    lines.push(`${m} --rbind ${shq(src)} ${t}` + (readonly ? ` && ${m} -o remount,bind,ro ${t}` : ''));
  };
  bindFile(spec.resolvConf, '/etc/resolv.conf', true);
  bindFile(spec.hostsFile, '/etc/hosts', true);
  spec.mounts.forEach((mount, i) => {
    const src = paths.sources[i]!;
    switch (mount.type) {
      case 'tmpfs': {
        const t = at(mount.destination);
        lines.push(`${shq(p.mkdir)} -p ${t}`);
        lines.push(`${m} -t tmpfs -o nosuid${mount.size > 0 ? `,size=${mount.size}` : ''} tmpfs ${t}`);
        break;
      }
      case 'input':
        if (mount.files.length === 1 && mount.files[0]!.name === '') bindFile(src, mount.destination, true);
        else bindDir(src, mount.destination, true);
        break;
      case 'bind':
        // A file source needs a file mount point: decided when the script runs.
        lines.push(
          `if [ -d ${shq(src)} ]; then ${shq(p.mkdir)} -p ${at(mount.destination)}; ` +
            `elif [ ! -e ${at(mount.destination)} ]; then ${shq(p.mkdir)} -p ${at(parent(mount.destination))} && ${shq(p.touch)} ${at(mount.destination)}; fi`,
        );
        lines.push(`${m} --rbind ${shq(src)} ${at(mount.destination)}` + (mount.readonly ? ` && ${m} -o remount,bind,ro ${at(mount.destination)}` : ''));
        break;
    }
  });
  if (spec.network === 'none' && p.ip !== undefined) lines.push(`${shq(p.ip)} link set lo up`);
  lines.push(`cd ${shq(R)}`, `${m} --move . /`);
  // The final exec chain.
  const env: string[] = [shq(p.env), '-i'];
  spec.secretEnv.forEach((s, i) => env.push('-S', shq(`${s.name}=\${__BUILD_IMAGE_SECRET_${i}}`)));
  // No `--`: env stops at its first operand (its option string starts with "+"), and `--`
  // after -S would be taken for the command. Names starting with "-" cannot be passed.
  for (const kv of spec.env) if (envName(kv) !== '' && !kv.startsWith('-')) env.push(shq(kv));
  const setpriv = [shq(p.setpriv), `--regid=${spec.gid}`];
  setpriv.push(spec.additionalGids.length > 0 ? `--groups=${spec.additionalGids.join(',')}` : '--clear-groups');
  if (spec.security === 'sandbox') setpriv.push(`--bounding-set=${setprivCaps()}`);
  const unshare = [shq(p.unshare), '--root=.', `--wd=${shq(spec.cwd)}`, `--setuid=${spec.uid}`, '--'];
  lines.push('echo ready >&3');
  lines.push(['exec', ...env, ...setpriv, '--', ...unshare, ...spec.args.map(shq), '3>&-', '4<&-'].join(' '));
  return lines.join('\n') + '\n';
}

function parent(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The built-in runner (see the module comment). */
export class UnshareRunner implements Runner {
  readonly name = 'unshare';

  async run(spec: ContainerSpec, io: { signal?: AbortSignal | undefined; onOutput?: ((chunk: OutputChunk) => void) | undefined }): Promise<ExitStatus> {
    const p = hostPrograms();
    await mkdir(join(spec.stateDir, 'rootfs'), { recursive: true });
    const script = unshareScript(spec);
    const ns = ['--mount', '--pid', '--fork', '--uts', '--ipc', ...(spec.network === 'none' ? ['--net'] : []), '--propagation', 'private', '--kill-child'];
    const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    // Secret variables reach `env -S` through the environment, never a command line.
    const inputs = [...spec.inputs];
    spec.secretEnv.forEach((s, i) => {
      const value = inputs[s.input]!.toString('utf8');
      if (value.includes('\0')) throw new BuildImageError('RUN_SECRET_INVALID', `secret for ${s.name} contains a NUL byte and cannot be an environment variable`);
      env[`__BUILD_IMAGE_SECRET_${i}`] = value;
    });
    return runTree(p.setpriv, ['--pdeathsig', 'KILL', '--', p.unshare, ...ns, '--', p.sh, '-c', script], {
      env,
      inputs,
      signal: io.signal,
      onOutput: io.onOutput,
    });
  }
}
