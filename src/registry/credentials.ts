/**
 * Registry credentials from the Docker config, as the docker CLI finds them
 * (cli/config/configfile): `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
 * `credHelpers[<registry>]` first, then `credsStore`, then the `auths` entry (its base64
 * `auth`, or `username`/`password`, `identitytoken`, `registrytoken`). Docker Hub's key is
 * `https://index.docker.io/v1/`; other entries match by host name, with any scheme or path
 * stripped (ConvertToHostname).
 *
 * Credential helpers follow the docker-credential-helpers protocol: run
 * `docker-credential-<name> get`, write the server URL to stdin, read
 * `{"ServerURL","Username","Secret"}` from stdout; "credentials not found" means anonymous;
 * the user name `<token>` means the secret is an identity (refresh) token.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BuildImageError } from '../errors.js';
import { DEFAULT_REGISTRY } from './reference.js';

/** What a registry is authenticated with. All fields absent = anonymous. */
export interface Credentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** An OAuth2 refresh token (docker login with a token-based registry). */
  readonly identityToken?: string | undefined;
  /** A bearer token sent to the registry as is. */
  readonly registryToken?: string | undefined;
}

/** Finds the credentials of a registry (`docker.io`, `ghcr.io`, `localhost:5000` …). */
export interface CredentialStore {
  get(registry: string): Promise<Credentials | undefined>;
}

/** Docker Hub's key in config.json and for credential helpers. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** Runs a credential helper: `docker-credential-<helper> get` with `serverUrl` on stdin. */
export type HelperRunner = (helper: string, serverUrl: string) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface DockerConfigOptions {
  /** The directory holding config.json; default `$DOCKER_CONFIG`, else `~/.docker`. */
  readonly configDir?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** How helpers are run (tests); default spawns `docker-credential-<helper>`. */
  readonly runHelper?: HelperRunner;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The config directory Docker uses. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'];
  return dir ? dir : join(env['HOME'] || homedir(), '.docker');
}

/** docker CLI's ConvertToHostname: `https://host:5000/v1/` → `host:5000`. */
export function convertToHostname(key: string): string {
  const stripped = key.replace(/^https?:\/\//, '');
  return stripped.split('/')[0] ?? stripped;
}

/** The key under which the docker CLI stores a registry's credentials. */
export function authKey(registry: string): string {
  return registry === DEFAULT_REGISTRY || registry === 'index.docker.io' ? DOCKER_HUB_AUTH_KEY : registry;
}

function decodeEntry(path: string, key: string, entry: AuthEntry): Credentials {
  let { username, password } = entry;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) {
      throw new BuildImageError(
        'REGISTRY_BAD_DOCKER_CONFIG',
        `invalid auth configuration file ${path}: the "auth" of "${key}" is not base64 of user:password`,
      );
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1).replace(/\0+$/, '');
  }
  return clean({ username, password, identityToken: entry.identitytoken, registryToken: entry.registrytoken });
}

function clean(c: Credentials): Credentials {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined && v !== '')) as Credentials;
}

function isEmpty(c: Credentials | undefined): boolean {
  return c === undefined || Object.keys(clean(c)).length === 0;
}

/** Spawns `docker-credential-<helper> get` (found on `env.PATH`). */
export function spawnHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
  });
}

const NOT_FOUND = 'credentials not found in native keychain';

async function fromHelper(run: HelperRunner, helper: string, serverUrl: string): Promise<Credentials | undefined> {
  let result;
  try {
    result = await run(helper, serverUrl);
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new BuildImageError(
      'REGISTRY_CREDENTIAL_HELPER',
      `error getting credentials for ${serverUrl} from docker-credential-${helper}: ${missing ? `executable file not found in $PATH` : (cause as Error).message}`,
      {
        cause,
        suggestion: missing
          ? `install docker-credential-${helper}, or remove "${helper}" from credsStore/credHelpers in your docker config`
          : undefined,
      },
    );
  }
  const stdout = result.stdout.trim();
  if (result.code !== 0) {
    if (stdout.includes(NOT_FOUND) || result.stderr.includes(NOT_FOUND)) return undefined;
    throw new BuildImageError(
      'REGISTRY_CREDENTIAL_HELPER',
      `error getting credentials for ${serverUrl} from docker-credential-${helper}: exit status ${result.code}: ${stdout || result.stderr.trim()}`,
    );
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch (cause) {
    throw new BuildImageError(
      'REGISTRY_CREDENTIAL_HELPER',
      `docker-credential-${helper} answered something that is not JSON for ${serverUrl}`,
      { cause },
    );
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : undefined;
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : undefined;
  if (username === '<token>') return clean({ identityToken: secret });
  return clean({ username, password: secret });
}

/** Credentials from the Docker config (read on every call, so `docker login` is seen). */
export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialStore {
  const env = options.env ?? process.env;
  const run: HelperRunner = options.runHelper ?? ((helper, url) => spawnHelper(helper, url, env));
  const path = join(options.configDir ?? dockerConfigDir(env), 'config.json');
  return {
    async get(registry: string): Promise<Credentials | undefined> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new BuildImageError('REGISTRY_BAD_DOCKER_CONFIG', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
      }
      let config: DockerConfigFile;
      try {
        config = (text.trim() === '' ? {} : JSON.parse(text)) as DockerConfigFile;
      } catch (cause) {
        throw new BuildImageError('REGISTRY_BAD_DOCKER_CONFIG', `invalid docker config ${path}: ${(cause as Error).message}`, { cause });
      }
      const key = authKey(registry);
      const auths = config.auths ?? {};
      let fileEntry: Credentials | undefined;
      const exact = auths[key];
      if (exact !== undefined) fileEntry = decodeEntry(path, key, exact);
      else {
        for (const [k, entry] of Object.entries(auths)) {
          if (convertToHostname(k) === key) {
            fileEntry = decodeEntry(path, k, entry);
            break;
          }
        }
      }
      const helper = config.credHelpers?.[key] ?? config.credsStore;
      // With a helper, docker CLI's native store answers alone: its credentials replace the
      // file entry's, and "not found" means anonymous even when auths has an entry.
      if (helper) {
        const fromStore = await fromHelper(run, helper, key);
        return isEmpty(fromStore) ? undefined : fromStore;
      }
      return isEmpty(fileEntry) ? undefined : fileEntry;
    },
  };
}

/** Fixed credentials per registry (the first store consulted, e.g. from `--creds`). */
export function staticCredentials(map: Readonly<Record<string, Credentials>>): CredentialStore {
  return {
    async get(registry) {
      return map[registry] ?? map[authKey(registry)];
    },
  };
}

/** The first store that has credentials for a registry wins. */
export function chainCredentials(...stores: CredentialStore[]): CredentialStore {
  return {
    async get(registry) {
      for (const s of stores) {
        const c = await s.get(registry);
        if (!isEmpty(c)) return c;
      }
      return undefined;
    },
  };
}

/** No credentials anywhere. */
export const anonymousCredentials: CredentialStore = { get: async () => undefined };
