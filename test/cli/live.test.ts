/**
 * The live view on a real terminal, and --jobs. RUN steps that must be seen *while* they run
 * wait on an HTTP "gate" the test serves on 127.0.0.1 (busybox wget, host network): the test
 * opens the gate only after it has seen what it looks for — no sleeps, no timing assertions.
 *
 * The terminal is a pty from util-linux `script` (stderr is a TTY there, so `--progress auto`
 * must pick the live view).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../support/cli.js';
import { hasTool } from '../support/tools.js';
import { busybox, buildWith, storedImage, tempDir, writeContext } from './helpers.js';
import { imageTree, sha } from '../support/tree.js';

const tmp = tempDir('cli-live');
afterAll(() => tmp.cleanup());

let bb: Awaited<ReturnType<typeof busybox>>;
beforeAll(async () => {
  bb = await busybox();
});

interface Gate {
  readonly url: string;
  /** Most requests waiting at the same time. */
  readonly maxWaiting: number;
  /** Paths in the order they arrived. */
  readonly arrivals: readonly string[];
  /** Requests whose client went away before an answer (its process was killed). */
  readonly abandoned: number;
  /** Answers every waiting request (and every later one at once). */
  open(): void;
  close(): Promise<void>;
}

/**
 * An HTTP server that holds requests. `openAt`: opens by itself once that many wait together;
 * `idleMs`: answers the ones waiting when nothing new arrived for that long (so a build that
 * can never have `openAt` requests at once still finishes); `onRequest` sees each arrival.
 */
async function startGate(options: { openAt?: number; idleMs?: number } = {}): Promise<Gate> {
  const waiting: http.ServerResponse[] = [];
  const arrivals: string[] = [];
  let maxWaiting = 0;
  let abandoned = 0;
  let opened = false;
  let idle: NodeJS.Timeout | undefined;
  const answer = (res: http.ServerResponse) => res.end(`${(res.req.url ?? '').slice(1)}\n`);
  const release = () => {
    for (const res of waiting.splice(0)) answer(res);
  };
  const server = http.createServer((req, res) => {
    arrivals.push(req.url ?? '');
    res.on('close', () => {
      if (!res.writableEnded) abandoned++;
    });
    if (opened) return answer(res);
    waiting.push(res);
    maxWaiting = Math.max(maxWaiting, waiting.length);
    if (options.openAt !== undefined && waiting.length >= options.openAt) return release();
    if (options.idleMs !== undefined) {
      clearTimeout(idle);
      idle = setTimeout(release, options.idleMs);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get maxWaiting() {
      return maxWaiting;
    },
    get abandoned() {
      return abandoned;
    },
    arrivals,
    open() {
      opened = true;
      release();
    },
    close: () => {
      clearTimeout(idle);
      release();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Two stages whose RUN steps wait on the gate, and a final stage that needs both. */
const PARALLEL = {
  Dockerfile: [
    'FROM busybox AS a',
    'ARG GATE',
    'RUN echo a-started && wget -q -O /a.txt $GATE/a && echo a-finished',
    'FROM busybox AS b',
    'ARG GATE',
    'RUN echo b-started && wget -q -O /b.txt $GATE/b && echo b-finished',
    'FROM scratch',
    'COPY --from=a /a.txt /',
    'COPY --from=b /b.txt /',
    '',
  ].join('\n'),
};

const SPINNER = /^ [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]  /;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe.runIf(hasTool('script', 'bsdutils'))('the live view on a terminal', () => {
  it('shows parallel steps together, each with a spinner and the tail of its output, then the final frame', async () => {
    const gate = await startGate();
    const safety = setTimeout(() => gate.open(), 60_000); // never hang: a missed frame fails below instead
    try {
      const ctx = writeContext(tmp.path, 'live', PARALLEL);
      const cache = `${tmp.path}/cache-live`;
      // --jobs 2: both RUN steps at once even on a one-CPU machine.
      const cmd = [process.execPath, cliPath, 'build', '--cache-dir', cache, '--jobs', '2', '--build-arg', `GATE=${gate.url}`, '-t', 'live:1', ...bb.flags, ctx].map(shellQuote).join(' ');
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let seen: string[] | undefined;
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
        if (seen) return;
        // Each frame starts after the escape that moves the cursor up and clears the rest.
        const frames = out.replace(/\r/g, '').split(/\x1b\[\d+A\x1b\[J/);
        for (const frame of frames.slice(0, -1)) {
          const lines = frame.split('\n');
          const running = (stage: string) => {
            const i = lines.findIndex((l) => SPINNER.test(l) && l.includes(`[${stage} 2/2] RUN echo ${stage}-started`));
            return i !== -1 && lines[i + 1] === ` => => # ${stage}-started`;
          };
          if (running('a') && running('b')) {
            seen = lines;
            gate.open();
            return;
          }
        }
      });
      const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
      expect(code).toBe(0);
      expect(seen, `no frame showed both RUN steps running:\n${out}`).toBeDefined();
      expect(seen![0]).toMatch(/^\[\+\] Building \d+\.\ds \(\d+\/\d+\)$/);
      // The final frame: every step done, with its time; the same width rules.
      const frames = out.replace(/\r/g, '').split(/\x1b\[\d+A\x1b\[J/);
      const last = frames.at(-1)!.split('\n');
      const frame = last.slice(0, last.findIndex((l) => l.startsWith('built ')));
      const norm = (l: string) => l.replace(/ +\d+\.\ds$/, ' #s').replace(/Building \d+\.\ds/, 'Building #s').replace(/sha256:[0-9a-f]+(…|$)/, '<digest>');
      expect(frame.map(norm).sort()).toEqual(
        [
          '[+] Building #s (6/6) FINISHED',
          ' => [a 1/2] FROM busybox@<digest> #s',
          ' => [b 1/2] FROM busybox@<digest> #s',
          ` => [a 2/2] RUN echo a-started && wget -q -O /a.txt $GATE/a && echo a-finished #s`,
          ` => [b 2/2] RUN echo b-started && wget -q -O /b.txt $GATE/b && echo b-finished #s`,
          ' => [stage-2 1/2] COPY --from=a /a.txt / #s',
          ' => [stage-2 2/2] COPY --from=b /b.txt / #s',
        ].sort(),
      );
      // A terminal of unknown size (0 columns): the default width, 100 columns.
      for (const l of [...seen!, ...frame]) expect(l.length).toBeLessThanOrEqual(99);
      expect(await imageTree(await storedImage(cache, 'live:1'))).toEqual([`f 0644 0:0 a.txt ${sha('a\n')}`, `f 0644 0:0 b.txt ${sha('b\n')}`]);
    } finally {
      clearTimeout(safety);
      await gate.close();
    }
  });
});

describe('--jobs', () => {
  it('--jobs 2: both RUN steps wait at the gate together', async () => {
    const gate = await startGate({ openAt: 2, idleMs: 5_000 });
    try {
      const ctx = writeContext(tmp.path, 'jobs2', PARALLEL);
      const r = await buildWith(`${tmp.path}/cache-j2`, ['--progress', 'plain', '--jobs', '2', '--build-arg', `GATE=${gate.url}`, ...bb.flags, ctx]);
      expect(r.code).toBe(0);
      expect(gate.maxWaiting).toBe(2);
      expect([...gate.arrivals].sort()).toEqual(['/a', '/b']);
      // Plain progress interleaves the two steps: b starts before a is done (or the reverse).
      const lines = r.stderr.split('\n');
      const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
      const aStart = at(/^#\d+ \[a 2\/2\] RUN/);
      const bStart = at(/^#\d+ \[b 2\/2\] RUN/);
      const num = (i: number) => lines[i]!.split(' ')[0]!;
      const aDone = at(new RegExp(`^${num(aStart)} DONE`));
      const bDone = at(new RegExp(`^${num(bStart)} DONE`));
      expect(Math.max(aStart, bStart)).toBeLessThan(Math.min(aDone, bDone));
    } finally {
      await gate.close();
    }
  });

  /** Builds PARALLEL with --jobs 1 behind a gate that answers after a second of quiet. */
  async function jobs1(name: string): Promise<{ stderr: string; maxWaiting: number; arrivals: number }> {
    const gate = await startGate({ openAt: 2, idleMs: 1_000 });
    try {
      const ctx = writeContext(tmp.path, name, PARALLEL);
      const r = await buildWith(`${tmp.path}/cache-${name}`, ['--progress', 'plain', '--jobs', '1', '--build-arg', `GATE=${gate.url}`, ...bb.flags, ctx]);
      expect(r.code).toBe(0);
      return { stderr: r.stderr, maxWaiting: gate.maxWaiting, arrivals: gate.arrivals.length };
    } finally {
      await gate.close();
    }
  }

  it('--jobs 1: one step at a time — the gate never sees both RUN steps together', async () => {
    const r = await jobs1('jobs1');
    expect(r.maxWaiting).toBe(1);
    expect(r.arrivals).toBe(2);
  });

  // A step starts when it gets a job slot (as a BuildKit vertex starts when it runs).
  it('--jobs 1: the log shows one RUN at a time (a step starts when it gets a slot)', async () => {
    const r = await jobs1('jobs1-log');
    const open = new Set<string>();
    let most = 0;
    for (const l of r.stderr.split('\n')) {
      const start = /^(#\d+) \[[ab] 2\/2\] RUN /.exec(l);
      if (start) open.add(start[1]!);
      most = Math.max(most, open.size);
      const end = /^(#\d+) (DONE|CACHED|ERROR)/.exec(l);
      if (end) open.delete(end[1]!);
    }
    expect(most).toBe(1);
  });
});

describe('Ctrl-C', () => {
  it.each([['SIGINT'], ['SIGTERM']] as const)('%s during a RUN step: the step is stopped, BUILD_CANCELLED, exit 1, nothing stored', async (signal) => {
    const gate = await startGate();
    try {
      const ctx = writeContext(tmp.path, `cancel-${signal}`, PARALLEL);
      const cache = `${tmp.path}/cache-cancel-${signal}`;
      const args = [cliPath, 'build', '--cache-dir', cache, '--progress', 'plain', '--jobs', '2', '-t', 'cancelled:1', '--build-arg', `GATE=${gate.url}`, ...bb.flags, ctx];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      // Both RUN steps wait at the gate (it never opens): then the signal comes.
      while (gate.arrivals.length < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      child.kill(signal);
      expect(await closed).toBe(1);
      // The running steps' processes were killed: their requests were abandoned.
      while (gate.abandoned < 2) await new Promise((r) => setTimeout(r, 20));
      expect(stderr.split('\n').filter((l) => l.startsWith('error '))).toEqual(['error BUILD_CANCELLED: build cancelled']);
      const { existsSync, readFileSync } = await import('node:fs');
      const index = `${cache}/index.json`;
      expect(existsSync(index) ? readFileSync(index, 'utf8') : '').not.toContain('cancelled:1');
    } finally {
      await gate.close();
    }
  });
});
