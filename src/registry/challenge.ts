/**
 * `WWW-Authenticate` challenges (RFC 7235), as registries send them:
 *
 *     Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"
 *     Basic realm="Registry Realm"
 *
 * Pure.
 */

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic` … */
  readonly scheme: string;
  /** Lower-case parameter names → values. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses one or more `WWW-Authenticate` header values into challenges. Several challenges may
 * share a header, separated by commas; a new one starts where a token is followed by a space
 * instead of `=`.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipSpace();
    while (s[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= s.length) break;
    const word = token();
    if (word === '') {
      i++; // skip a character that cannot start anything
      continue;
    }
    skipSpace();
    if (s[i] === '=' && out.length > 0) {
      // a parameter of the current challenge
      i++;
      skipSpace();
      out[out.length - 1]!.params[word.toLowerCase()] = value();
      skipSpace();
      continue;
    }
    out.push({ scheme: word.toLowerCase(), params: {} });
  }
  return out;

  function value(): string {
    if (s[i] !== '"') return token();
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  }
}

/** The scopes a token must grant for pulling from / pushing to a repository. */
export function repositoryScope(repository: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}
