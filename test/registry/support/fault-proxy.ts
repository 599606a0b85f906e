/**
 * A fault-injecting HTTP reverse proxy to put in front of a registry: it forwards requests
 * unchanged (the Host header too, so the registry's Location URLs point back at the proxy) and,
 * for requests a rule matches, drops the connection after N bytes of the response body,
 * answers with an error status instead, or hides the Range header (a server without Range).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRule {
  readonly match: (req: { method: string; path: string; headers: http.IncomingHttpHeaders }) => boolean;
  /** Send the status line, headers and this many body bytes, then destroy the socket. */
  readonly dropAfterBytes?: number;
  /** Answer with this status (and a JSON error body) without forwarding. */
  readonly status?: number;
  /** Remove the request's Range header before forwarding. */
  readonly stripRange?: boolean;
  /** Flip the bits of the first body byte (content that does not match its digest). */
  readonly corrupt?: boolean;
  /**
   * Hold matching requests until this many are waiting at once (or 10 s pass), then let them
   * all through: shows whether a client sends them in parallel (see `gateTimedOut`).
   */
  readonly gate?: number;
  /** How many matching requests the rule applies to (default 1). */
  readonly times?: number;
}

export interface ProxyLogEntry {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly status: number;
  readonly fault: 'drop' | 'status' | 'strip-range' | 'corrupt' | 'gate' | undefined;
}

export interface FaultProxy {
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  readonly log: ProxyLogEntry[];
  /** True when a gate opened because its wait ran out rather than because enough requests came. */
  gateTimedOut(): boolean;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string, rules: readonly FaultRule[]): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const remaining = rules.map((r) => r.times ?? 1);
  const log: ProxyLogEntry[] = [];
  const gates = new Map<number, { waiting: (() => void)[]; timer?: NodeJS.Timeout }>();
  let timedOut = false;

  function passGate(index: number, size: number): Promise<void> {
    let g = gates.get(index);
    if (g === undefined) gates.set(index, (g = { waiting: [] }));
    const gate = g;
    return new Promise((resolve) => {
      gate.waiting.push(resolve);
      const open = () => {
        clearTimeout(gate.timer);
        for (const w of gate.waiting.splice(0)) w();
      };
      if (gate.waiting.length >= size) open();
      else if (gate.timer === undefined) {
        gate.timer = setTimeout(() => {
          timedOut = true;
          open();
        }, 10_000);
      }
    });
  }

  const server = http.createServer(async (req, res) => {
    const info = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
    const index = rules.findIndex((r, i) => remaining[i]! > 0 && r.match(info));
    const rule = index === -1 ? undefined : rules[index]!;
    if (rule) remaining[index]! -= 1;
    const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;

    if (rule?.status !== undefined) {
      req.resume();
      log.push({ method: info.method, path: info.path, range, status: rule.status, fault: 'status' });
      res.writeHead(rule.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected fault' }] }));
      return;
    }
    if (rule?.gate !== undefined) await passGate(index, rule.gate);
    const headers = { ...req.headers };
    if (rule?.stripRange) delete headers.range;
    const upstream = http.request(
      { host: targetHost, port: Number(targetPort), method: info.method, path: info.path, headers },
      (up) => {
        const status = up.statusCode ?? 502;
        const fault =
          rule?.dropAfterBytes !== undefined
            ? 'drop'
            : rule?.stripRange
              ? 'strip-range'
              : rule?.corrupt
                ? 'corrupt'
                : rule?.gate !== undefined
                  ? 'gate'
                  : undefined;
        log.push({ method: info.method, path: info.path, range, status, fault });
        res.writeHead(status, up.statusMessage, up.headers);
        if (rule?.corrupt) {
          let first = true;
          up.on('data', (chunk: Buffer) => {
            if (first && chunk.length > 0) {
              chunk = Buffer.from(chunk);
              chunk[0] = chunk[0]! ^ 0xff;
              first = false;
            }
            res.write(chunk);
          });
          up.on('end', () => res.end());
          return;
        }
        if (rule?.dropAfterBytes === undefined) {
          up.pipe(res);
          return;
        }
        let left = rule.dropAfterBytes;
        up.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          const part = chunk.subarray(0, left);
          left -= part.length;
          res.write(part);
          if (left <= 0) {
            up.destroy();
            // Let the bytes leave, then cut the connection mid-body.
            setImmediate(() => res.socket?.destroy());
          }
        });
        up.on('end', () => res.end());
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end(String(err));
      } else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    gateTimedOut: () => timedOut,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
