/**
 * Build secrets (`--secret id=ID,src=FILE` / `--secret id=ID,env=VAR`, as docker buildx reads
 * them) and how RUN gets them. A secret's value is read only when a step mounts it, kept in
 * memory, handed to the runner through a pipe, and never written to the store, a layer, the
 * image config, the history or a cache key (the plan's key holds only the mount spec).
 */
import { readFile } from 'node:fs/promises';
import { BuildImageError } from '../../errors.js';

export interface SecretProvider {
  /** The secret's bytes, or undefined when there is no secret of that id. */
  get(id: string): Promise<Uint8Array | undefined>;
}

export interface SecretSpec {
  readonly id: string;
  /** Read from this file … */
  readonly src?: string | undefined;
  /** … or from this environment variable. */
  readonly env?: string | undefined;
}

/**
 * Reads one `--secret` value (buildx `parseSecret`): `id=…` with `src=`/`source=` (a file) or
 * `env=` (a variable), `type=file|env`; with neither, the variable named like the id if it is
 * set, else the file named like the id.
 */
export function parseSecretSpec(value: string): SecretSpec {
  let id = '';
  let src: string | undefined;
  let env: string | undefined;
  let type: string | undefined;
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new BuildImageError('RUN_SECRET_SPEC', `invalid secret "${value}": field "${field}" must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const v = field.slice(eq + 1);
    switch (key) {
      case 'type':
        if (v !== 'file' && v !== 'env') throw new BuildImageError('RUN_SECRET_SPEC', `invalid secret "${value}": unsupported type "${v}" (file or env)`);
        type = v;
        break;
      case 'id':
        id = v;
        break;
      case 'source':
      case 'src':
        src = v;
        break;
      case 'env':
        env = v;
        break;
      default:
        throw new BuildImageError('RUN_SECRET_SPEC', `invalid secret "${value}": unexpected key "${key}"`, {
          suggestion: 'use id=ID,src=FILE or id=ID,env=VARIABLE',
        });
    }
  }
  if (type === 'env' && env === undefined) {
    env = src;
    src = undefined;
  }
  if (id === '') {
    const name = env ?? src;
    if (name === undefined) throw new BuildImageError('RUN_SECRET_SPEC', `invalid secret "${value}": an id is required`);
    id = name.split('/').pop()!;
  }
  return { id, ...(src !== undefined ? { src } : {}), ...(env !== undefined ? { env } : {}) };
}

/** Secrets from specs; files and variables are read when asked for. */
export function secretsFrom(specs: readonly (SecretSpec | string)[], environment: NodeJS.ProcessEnv = process.env): SecretProvider {
  const byId = new Map<string, SecretSpec>();
  for (const s of specs) {
    const spec = typeof s === 'string' ? parseSecretSpec(s) : s;
    byId.set(spec.id, spec);
  }
  return {
    async get(id: string): Promise<Uint8Array | undefined> {
      const spec = byId.get(id);
      if (spec === undefined) return undefined;
      if (spec.env !== undefined) {
        const v = environment[spec.env];
        if (v === undefined) {
          throw new BuildImageError('RUN_SECRET_UNAVAILABLE', `secret ${id}: environment variable ${spec.env} is not set`);
        }
        return Buffer.from(v, 'utf8');
      }
      const file = spec.src ?? (environment[id] !== undefined ? undefined : id);
      if (file === undefined) return Buffer.from(environment[id]!, 'utf8');
      try {
        return await readFile(file);
      } catch (err) {
        throw new BuildImageError('RUN_SECRET_UNAVAILABLE', `secret ${id}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** Secrets held in memory (library use and tests). */
export function secretsFromValues(values: Readonly<Record<string, string | Uint8Array>>): SecretProvider {
  return {
    async get(id) {
      const v = Object.hasOwn(values, id) ? values[id] : undefined;
      return v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    },
  };
}

export const noSecrets: SecretProvider = { get: async () => undefined };
