/**
 * EXPOSE values, as BuildKit's convert_expose.go reads them: `port[/proto]`, ranges
 * `8000-8002/udp`, an optional `ip:hostPort:` prefix (ignored, the linter warns about it);
 * the protocol defaults to tcp and is lowercased. Returns `port/proto` strings.
 */
export function parsePorts(ports: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of ports) out.push(...parsePort(raw));
  return out;
}

function parsePort(raw: string): string[] {
  const { ip, hostPort, containerPort } = splitParts(raw);
  const slash = containerPort.indexOf('/');
  const port = slash === -1 ? containerPort : containerPort.slice(0, slash);
  let proto = slash === -1 ? '' : containerPort.slice(slash + 1);
  if (port === '') throw new Error(`invalid port: ${JSON.stringify(raw)}: no port specified: ${containerPort}<empty>`);
  if (proto === '') proto = 'tcp';
  const p = proto.toLowerCase();
  if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new Error(`invalid port: ${JSON.stringify(raw)}: invalid proto: ${proto}`);
  let address = ip;
  if (address !== '' && address.startsWith('[')) address = address.replace(/^\[|\]$/g, '');
  if (address !== '' && !isIp(address)) throw new Error(`invalid IP address: ${address}`);
  const [start, end] = portRange(port, 'containerPort');
  if (hostPort !== '') {
    const [hs, he] = portRange(hostPort, 'hostPort');
    if (end - start !== he - hs && end !== start) {
      throw new Error(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const out: string[] = [];
  for (let i = start; i <= end; i++) out.push(`${i}/${p}`);
  return out;
}

function splitParts(raw: string): { ip: string; hostPort: string; containerPort: string } {
  const parts = raw.split(':');
  if (parts.length === 1) return { ip: '', hostPort: '', containerPort: raw };
  if (parts.length === 2) return { ip: '', hostPort: parts[0]!, containerPort: parts[1]! };
  if (parts.length === 3) return { ip: parts[0]!, hostPort: parts[1]!, containerPort: parts[2]! };
  const last = parts.length - 1;
  return { ip: parts.slice(0, last - 1).join(':'), hostPort: parts[last - 1]!, containerPort: parts[last]! };
}

function portRange(ports: string, what: string): [number, number] {
  const fail = () => new Error(`invalid ${what}: ${ports}`);
  if (ports === '') throw fail();
  const dash = ports.indexOf('-');
  const startText = dash === -1 ? ports : ports.slice(0, dash);
  const endText = dash === -1 ? undefined : ports.slice(dash + 1);
  const start = portNumber(startText);
  if (start === undefined) throw fail();
  if (endText === undefined || endText === startText) return [start, start];
  const end = portNumber(endText);
  if (end === undefined || end < start) throw fail();
  return [start, end];
}

function portNumber(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 0 && n <= 65535 ? n : undefined;
}

function isIp(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split('.').every((x) => Number(x) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':');
}
