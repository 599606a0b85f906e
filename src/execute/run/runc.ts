/**
 * The OCI runtime runner: `runc` (or `crun`, or any runtime with runc's command line) runs the
 * step from a generated runtime spec, as BuildKit's runcexecutor does:
 *
 *     setpriv --pdeathsig KILL unshare --mount --pid --fork --mount-proc
 *         --propagation private --kill-child
 *         sh -c '<setup>; exec runc --root <state> run --bundle <bundle> <id>'
 *
 * runc itself runs as PID 1 of a PID namespace of ours, so the container (in a namespace
 * nested in it) dies with runc — even when this process is killed and runc with it. A
 * container left by a killed process is deleted by the next step (`deleteStaleContainers`).
 * The setup (setup.ts) mounts the root filesystem and the mount sources inside a private
 * mount namespace, so they vanish with it; the bundle's config.json is one of the in-memory
 * inputs (it holds secret variables) and lives in that namespace's tmpfs. The runtime creates
 * /proc, /dev and /sys and the mount points itself. After the run — and always after an
 * abort — `runc delete --force` removes the container and its cgroups.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildImageError } from '../../errors.js';
import { findProgram, hostPrograms, runProgram, shq } from './host.js';
import { runTree, type ExitStatus, type OutputChunk } from './process.js';
import { setupScript } from './setup.js';
import { ociConfig, type ContainerSpec, type OciMount } from './spec.js';
import type { Runner } from './unshare.js';

export class OciRuntimeRunner implements Runner {
  readonly name: string;
  readonly runtime: string;

  /** `runtime`: a program name on PATH (`runc`, `crun`) or a path. */
  constructor(runtime = 'runc') {
    const found = findProgram(runtime);
    if (found === undefined) {
      throw new BuildImageError('RUN_RUNTIME_MISSING', `the OCI runtime "${runtime}" is not installed`, {
        suggestion: runtime === 'runc' || runtime === 'crun' ? `install the Debian package ${runtime} (apt-get install ${runtime})` : 'give the path of an OCI runtime with --runtime',
      });
    }
    this.runtime = found;
    this.name = runtime;
  }

  async run(spec: ContainerSpec, io: { signal?: AbortSignal | undefined; onOutput?: ((chunk: OutputChunk) => void) | undefined }): Promise<ExitStatus> {
    const p = hostPrograms();
    await mkdir(join(spec.stateDir, 'rootfs'), { recursive: true });
    const state = join(spec.stateDir, 'runc');
    await mkdir(state, { recursive: true, mode: 0o700 });
    // The config goes last among the inputs; its sources are the setup's paths.
    const configInput = spec.inputs.length;
    const withConfig: ContainerSpec = { ...spec, inputs: [...spec.inputs, Buffer.alloc(0)] };
    const { paths } = setupScript(withConfig, p);
    const mounts: OciMount[] = [];
    spec.mounts.forEach((m, i) => {
      const src = paths.sources[i]!;
      if (m.type === 'tmpfs') {
        mounts.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', ...(m.size > 0 ? [`size=${m.size}`] : [])] });
      } else {
        const ro = m.type === 'input' || m.readonly;
        mounts.push({ destination: m.destination, type: 'bind', source: src, options: ['rbind', ro ? 'ro' : 'rw'] });
      }
    });
    const config = ociConfig(spec, paths.rootfs, mounts);
    const proc = config['process'] as { env: string[] };
    for (const s of spec.secretEnv) proc.env.push(`${s.name}=${spec.inputs[s.input]!.toString('utf8')}`);
    const configBytes = Buffer.from(JSON.stringify(config));
    const inputs = [...spec.inputs, configBytes];
    // Re-run the setup with the real config length (the input lengths are in the script).
    const final = setupScript({ ...spec, inputs }, p);
    const bundle = join(spec.stateDir, 'in', 'bundle');
    final.lines.push(
      `${shq(p.mkdir)} -p ${shq(bundle)}`,
      `${shq(p.cat)} ${shq(final.paths.inputs[configInput]!)} > ${shq(join(bundle, 'config.json'))}`,
      'echo ready >&3',
      ['exec', shq(this.runtime), '--root', shq(state), 'run', ...(spec.rootless ? ['--no-new-keyring'] : []), '--bundle', shq(bundle), shq(spec.id), '3>&-', '4<&-'].join(' '),
    );
    const script = final.lines.join('\n') + '\n';
    try {
      return await runTree(p.setpriv, ['--pdeathsig', 'KILL', '--', p.unshare, '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--kill-child', '--', p.sh, '-c', script], {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        inputs,
        signal: io.signal,
        onOutput: io.onOutput,
      });
    } finally {
      // The container may outlive runc when runc is killed: remove it for sure.
      await runProgram(this.runtime, ['--root', state, 'delete', '--force', spec.id]).catch(() => undefined);
    }
  }
}

/**
 * Deletes the containers whose runc state lies in a stale work directory (`<dir>/state/runc`),
 * which also removes their cgroups.
 */
export async function deleteStaleContainers(workDir: string): Promise<void> {
  const state = join(workDir, 'state', 'runc');
  let ids: string[];
  try {
    ids = await readdir(state);
  } catch {
    return;
  }
  const runtimes = [...new Set(['runc', 'crun'].map((r) => findProgram(r)).filter((r): r is string => r !== undefined))];
  for (const id of ids) {
    for (const rt of runtimes) await runProgram(rt, ['--root', state, 'delete', '--force', id]).catch(() => undefined);
  }
}
