/**
 * Platforms (`linux/amd64`, `linux/arm/v7` …) as containerd's `platforms` package reads,
 * normalises and matches them — BuildKit picks a base image's manifest from an index with
 * `platforms.Only(p)`: the exact platform first, then the ones it can also run (amd64 → 386,
 * arm64 → arm/v8…v5, arm/v7 → v6, v5, amd64/v3 → v2, v1).
 *
 * Pure, apart from `hostPlatform()` which reads `process.arch`.
 */
import { BuildImageError } from '../errors.js';
import type { Descriptor, Platform } from '../image/schema.js';

export type { Platform } from '../image/schema.js';

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl',
  'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips',
  'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x',
  'sparc', 'sparc64', 'wasm',
]);

const COMPONENT_RE = /^[A-Za-z0-9_.-]+$/;
const OS_RE = /^[A-Za-z0-9_-]+$/;

/** The platform images are built for by default: Linux on the host's CPU architecture. */
export function hostPlatform(arch: string = process.arch): Platform {
  switch (arch) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64' };
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'ppc64':
      // Node reports little-endian POWER as ppc64 on Linux.
      return { os: 'linux', architecture: 'ppc64le' };
    case 'loong64':
    case 'riscv64':
    case 's390x':
    case 'mips':
    case 'mipsel':
      return { os: 'linux', architecture: arch === 'mipsel' ? 'mipsle' : arch };
    default:
      return { os: 'linux', architecture: arch };
  }
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch: `x86_64` → amd64, `aarch64` → arm64, arm64/v8 → arm64, arm → arm/v7 … */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  let a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      break;
  }
  return { architecture: a, variant: v };
}

function make(os: string, architecture: string, variant: string, rest: Partial<Platform> = {}): Platform {
  const p: Platform = { ...rest, os, architecture };
  if (variant !== '') p.variant = variant;
  else delete p.variant;
  return p;
}

/** The normal form used for matching (containerd's Normalize). */
export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? '');
  return make(normalizeOs(p.os), architecture, variant, p);
}

/**
 * Parses `os[/arch[/variant]]`, or a bare architecture or OS, as containerd's platforms.Parse
 * (a bare OS takes the host's architecture, a bare architecture the OS `linux`). Throws
 * `REGISTRY_BAD_PLATFORM`.
 */
export function parsePlatform(specifier: string, host: Platform = hostPlatform()): Platform {
  const bad = (why: string): never => {
    throw new BuildImageError('REGISTRY_BAD_PLATFORM', `invalid platform "${specifier}": ${why}`, {
      suggestion: 'write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8',
    });
  };
  if (specifier.includes('*')) bad('wildcards not yet supported');
  const parts = specifier.split('/');
  if (parts.length > 3) bad('cannot parse platform specifier');
  const [first, second, third] = parts as [string, string?, string?];
  if (!OS_RE.test(first)) bad(`"${first}" is an invalid OS component`);
  for (const part of parts.slice(1)) if (!COMPONENT_RE.test(part)) bad(`"${part}" is an invalid component`);
  const os = normalizeOs(first);
  if (second === undefined) {
    if (KNOWN_OS.has(os)) return make(os, host.architecture, host.architecture === 'arm' && host.variant !== 'v7' ? (host.variant ?? '') : '');
    const { architecture, variant } = normalizeArch(first, '');
    if (KNOWN_ARCH.has(architecture)) return make(host.os, architecture, architecture === 'arm' && variant === 'v7' ? '' : variant);
    return bad('unknown operating system or architecture');
  }
  if (third === undefined) {
    const { architecture, variant } = normalizeArch(second, '');
    return make(os, architecture, architecture === 'arm' && variant === 'v7' ? '' : variant);
  }
  const { architecture, variant } = normalizeArch(second, third);
  return make(os, architecture, architecture === 'arm64' && variant === '' ? 'v8' : variant);
}

/** `os/arch[/variant]` as containerd's Format writes it. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

const ARM64_VERSIONS: Record<string, { major: number[]; minor: number[] }> = {
  v8: { major: [8], minor: [0] },
  'v8.0': { major: [8], minor: [0] },
  ...Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [`v8.${n}`, { major: [8], minor: [n] }])),
  v9: { major: [9, 8], minor: [0, 5] },
  'v9.0': { major: [9, 8], minor: [0, 5] },
  ...Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((n) => [`v9.${n}`, { major: [9, 8], minor: [n, Math.min(5 + n, 9)] }])),
};

/** containerd's platformVector: the platform and those it can also run, best first. */
function platformVector(p: Platform): Platform[] {
  const vector: Platform[] = [p];
  const base = { os: p.os, 'os.version': p['os.version'], 'os.features': p['os.features'] };
  switch (p.architecture) {
    case 'amd64': {
      const n = Number.parseInt((p.variant ?? '').replace(/^v/, ''), 10);
      if (Number.isInteger(n) && n > 1) for (let v = n - 1; v >= 1; v--) vector.push({ ...base, architecture: 'amd64', variant: `v${v}` });
      vector.push({ ...base, architecture: '386' });
      break;
    }
    case 'arm': {
      const n = Number.parseInt((p.variant ?? '').replace(/^v/, ''), 10);
      if (Number.isInteger(n) && n > 5) for (let v = n - 1; v >= 5; v--) vector.push({ ...base, architecture: 'arm', variant: `v${v}` });
      break;
    }
    case 'arm64': {
      let variant = p.variant ?? 'v8';
      vector.length = 0;
      const versions = ARM64_VERSIONS[variant];
      if (versions !== undefined) {
        versions.major.forEach((major, i) => {
          for (let minor = versions.minor[i]!; minor >= 0; minor--) {
            vector.push({ ...base, architecture: 'arm64', variant: minor === 0 ? `v${major}` : `v${major}.${minor}` });
          }
        });
      }
      if (variant.startsWith('v8') || variant.startsWith('v9')) variant = 'v8';
      vector.push(...platformVector({ ...base, architecture: 'arm', variant }));
      break;
    }
  }
  return vector;
}

function sameFeatures(want: readonly string[] | undefined, have: readonly string[] | undefined): boolean {
  // containerd: every feature the candidate requires must be among the wanted platform's.
  if (have === undefined || have.length === 0) return true;
  const set = new Set(want ?? []);
  return have.every((f) => set.has(f));
}

function exactMatch(want: Platform, candidate: Platform): boolean {
  const w = normalizePlatform(want);
  const c = normalizePlatform(candidate);
  return (
    w.os === c.os &&
    w.architecture === c.architecture &&
    (w.variant ?? '') === (c.variant ?? '') &&
    sameFeatures(w['os.features'], c['os.features'])
  );
}

/**
 * How well `candidate` fits `want`: 0 for the exact platform, higher for compatible ones it
 * can also run, `undefined` when it does not fit at all.
 */
export function platformRank(want: Platform, candidate: Platform): number | undefined {
  const vector = platformVector(normalizePlatform(want));
  const i = vector.findIndex((p) => exactMatch(p, candidate));
  return i === -1 ? undefined : i;
}

/** True when an image for `candidate` runs on `want` (containerd's Only(want).Match). */
export function platformMatches(want: Platform, candidate: Platform): boolean {
  return platformRank(want, candidate) !== undefined;
}

/**
 * The index entry to use for `want`, as BuildKit picks it (images.LimitManifests with
 * platforms.Only): the best-ranked match, the first in index order among equals; entries with
 * no platform match anything but come last. `undefined` when nothing fits.
 */
export function selectPlatformManifest(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of manifests) {
    const rank = d.platform === undefined ? Number.MAX_SAFE_INTEGER : platformRank(want, d.platform);
    if (rank === undefined) continue;
    if (best === undefined || rank < best.rank) best = { d, rank };
  }
  return best?.d;
}
