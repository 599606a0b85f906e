/**
 * What a runner is asked to run: one container, described without reference to how it is run
 * (built-in namespaces or an OCI runtime), and the OCI runtime spec (config.json) for the
 * latter, generated as BuildKit's executor/oci/spec.go does on containerd's defaults.
 */
import { readFileSync } from 'node:fs';
import type { FsSpec } from './snapshotter.js';

/** BuildKit's default hostname (executor/oci/hosts.go). */
export const DEFAULT_HOSTNAME = 'buildkitsandbox';

/** containerd's default capabilities (oci/spec.go `defaultUnixCaps`). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

/** containerd's masked and read-only paths (oci/spec.go `populateDefaultUnixSpec`). */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/scsi',
] as const;
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** A mount of the container (destinations are absolute container paths). */
export type SpecMount =
  /** `source` (a directory, a file with `file`, or a filesystem to mount first) at `destination`. */
  | {
      readonly type: 'bind';
      readonly destination: string;
      readonly source: FsSpec;
      /** A path inside `source` (`''` = all of it). */
      readonly subpath: string;
      readonly readonly: boolean;
    }
  | { readonly type: 'tmpfs'; readonly destination: string; readonly size: number }
  /** Files held in memory (secrets, heredocs), put in a private tmpfs and bound read-only. */
  | {
      readonly type: 'input';
      readonly destination: string;
      /** One file (`name` '') bound at `destination`, or a directory of files. */
      readonly files: readonly { readonly name: string; readonly input: number; readonly mode: number; readonly uid: number; readonly gid: number }[];
    };

/** Something to create in the root before the mounts (the working directory). */
export interface MkdirOp {
  /** Absolute container path (resolved). */
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface ContainerSpec {
  readonly id: string;
  /** A directory the runner may use for its own files (removed by the caller afterwards). */
  readonly stateDir: string;
  readonly rootfs: FsSpec;
  readonly args: readonly string[];
  readonly env: readonly string[];
  /** Variables whose values must not be written anywhere (RUN --mount=type=secret,env=…). */
  readonly secretEnv: readonly { readonly name: string; readonly input: number }[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  readonly hostname: string;
  readonly network: 'host' | 'none';
  readonly security: 'sandbox' | 'insecure';
  readonly mkdirs: readonly MkdirOp[];
  /** In order; parents before children. */
  readonly mounts: readonly SpecMount[];
  /** Bytes of the `input` mounts and secret variables, delivered through pipes. */
  readonly inputs: readonly Buffer[];
  /** Paths of the generated /etc/hosts and /etc/resolv.conf (bound read-only). */
  readonly hostsFile: string;
  readonly resolvConf: string;
  /** True when running inside a user namespace (rootless). */
  readonly rootless: boolean;
  /** The overlay xattr namespace the rootfs and sources use. */
  readonly userxattr: boolean;
}

/** BuildKit's `initHostsFile`. */
export function hostsFileContent(hostname: string): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

/**
 * The container's resolv.conf: the host's for host networking (BuildKit reads /etc/resolv.conf
 * then); otherwise the host's without loopback name servers, which cannot answer from another
 * network namespace (moby's resolvconf `TransformForLegacyNw`), with Google's servers when
 * none is left.
 */
export function resolvConfContent(network: 'host' | 'none', host?: string): string {
  let text = host;
  if (text === undefined) {
    try {
      text = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      text = '';
    }
  }
  const lines = text.split('\n');
  const isNs = (l: string) => /^\s*nameserver\s/.test(l);
  const addr = (l: string) => l.trim().split(/\s+/)[1] ?? '';
  const loopback = (a: string) => a.startsWith('127.') || a === '::1';
  let out = network === 'host' ? lines : lines.filter((l) => !(isNs(l) && loopback(addr(l))));
  if (!out.some(isNs)) {
    out = out.filter((l) => l.trim() !== '');
    out.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4', 'nameserver 2001:4860:4860::8888', 'nameserver 2001:4860:4860::8844');
  }
  let s = out.join('\n');
  if (!s.endsWith('\n')) s += '\n';
  return s;
}

/** One mount of an OCI runtime spec. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/**
 * The OCI runtime spec for `spec`, with mount sources already turned into host paths
 * (`sources[i]` for `spec.mounts[i]`; input mounts point at the files the runner wrote).
 */
export function ociConfig(spec: ContainerSpec, rootfsPath: string, mounts: readonly OciMount[]): Record<string, unknown> {
  const sandbox = spec.security === 'sandbox';
  const caps = sandbox ? [...DEFAULT_CAPS] : ALL_CAPS;
  const namespaces: { type: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (spec.network === 'none') namespaces.push({ type: 'network' });
  const base: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: spec.rootless ? ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] : ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    spec.rootless && spec.network === 'host'
      ? // Only the owner of the network namespace may mount sysfs: the host's, read-only (runc's
        // rootless spec; BuildKit's ToRootless drops /sys, and then the layer would differ).
        { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sandbox ? 'ro' : 'rw'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: spec.resolvConf, options: ['rbind', 'ro'] },
    { destination: '/etc/hosts', type: 'bind', source: spec.hostsFile, options: ['rbind', 'ro'] },
  ];
  const linux: Record<string, unknown> = {
    namespaces,
    ...(sandbox ? { maskedPaths: [...MASKED_PATHS], readonlyPaths: [...READONLY_PATHS] } : {}),
  };
  if (!spec.rootless) linux['resources'] = { devices: [{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES] };
  // Rootless (BuildKit util/rootless/specconv `ToRootless`): the runtime already runs in the
  // user namespace, and cgroups are not ours to configure.
  const all = [...base, ...mounts];
  const env = [...spec.env];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.uid, gid: spec.gid, additionalGids: [...spec.additionalGids] },
      args: [...spec.args],
      env,
      cwd: spec.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false,
    },
    root: { path: rootfsPath, readonly: false },
    hostname: spec.hostname,
    mounts: all,
    linux,
  };
}

/** runc's default device cgroup rules for the default devices (null, zero, full, tty, random, urandom, pts, ptmx). */
const DEFAULT_DEVICE_RULES = [
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];

/** Every capability Linux 6 knows (security=insecure). */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];
