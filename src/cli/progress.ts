/**
 * Progress for people, from the library's events (src/events.ts):
 *
 * - `plain`: one line per event, for CI logs, in BuildKit's `--progress=plain` shape
 *   (`#3 [build 2/4] COPY src ./src`, `#3 CACHED`, `#3 0.412 make: done`, `#3 DONE 1.2s`);
 * - `tty`: a live view redrawn in place — every step with its instruction, a spinner and a
 *   running time while it runs, its time when done, `CACHED` for hits, the last lines of a
 *   running step's output; parallel steps shown together;
 * - `rawjson`: the events themselves, one JSON object per line;
 * - `auto`: tty on a terminal, plain otherwise.
 */
import type { BuildEvent } from '../events.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'quiet';

export interface ProgressOutput {
  write(text: string): void;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
}

export interface Progress {
  event(e: BuildEvent): void;
  /** Draws the final state and stops the timer. */
  close(): void;
}

interface StepView {
  readonly n: number;
  readonly id: string;
  readonly name: string;
  readonly start: number;
  state: 'running' | 'cached' | 'done' | 'error';
  duration: number;
  lines: string[];
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const TAIL_LINES = 6;

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl === -1 ? text : text.slice(0, nl);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** BuildKit's plain progress. */
export class PlainProgress implements Progress {
  private readonly steps = new Map<string, StepView>();
  private next = 1;
  private readonly partial = new Map<string, string>();

  constructor(private readonly out: ProgressOutput) {}

  event(e: BuildEvent): void {
    switch (e.type) {
      case 'step-start':
      case 'step-cached': {
        const v: StepView = { n: this.next++, id: e.id, name: e.name, start: e.time, state: e.type === 'step-cached' ? 'cached' : 'running', duration: 0, lines: [] };
        this.steps.set(e.id, v);
        this.out.write(`#${v.n} ${e.name}\n`);
        if (e.type === 'step-cached') this.out.write(`#${v.n} CACHED\n`);
        return;
      }
      case 'step-output': {
        const v = this.steps.get(e.id);
        if (!v) return;
        const text = (this.partial.get(e.id) ?? '') + e.data;
        const lines = text.split('\n');
        this.partial.set(e.id, lines.pop()!);
        const at = ((e.time - v.start) / 1000).toFixed(3);
        for (const line of lines) this.out.write(`#${v.n} ${at} ${line}\n`);
        return;
      }
      case 'step-done':
      case 'step-error': {
        const v = this.steps.get(e.id);
        if (!v) return;
        const rest = this.partial.get(e.id);
        if (rest) {
          this.out.write(`#${v.n} ${((e.time - v.start) / 1000).toFixed(3)} ${rest}\n`);
          this.partial.delete(e.id);
        }
        // One line, as BuildKit's `#3 ERROR: process … did not complete successfully`: the
        // step's output is already above, so an error's own copy of its tail is left out.
        this.out.write(e.type === 'step-done' ? `#${v.n} DONE ${seconds(e.duration)}\n` : `#${v.n} ERROR: ${firstLine(e.message)}\n`);
        return;
      }
      case 'warning':
        this.out.write(`WARNING: ${e.message} (${e.code})\n`);
        return;
      case 'done':
        this.out.write(`#${this.next++} DONE ${seconds(e.duration)}: ${e.digest}\n`);
        return;
      case 'plan':
        return;
    }
  }

  close(): void {}
}

/** The live view. `render(now)` is pure so it can be tested frame by frame. */
export class TtyProgress implements Progress {
  private readonly steps: StepView[] = [];
  private readonly byId = new Map<string, StepView>();
  private readonly warnings: string[] = [];
  private total = 0;
  private started: number | undefined;
  private finished: number | undefined;
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
    interval = 100,
  ) {
    if (interval > 0) {
      this.timer = setInterval(() => this.draw(), interval);
      this.timer.unref();
    }
  }

  event(e: BuildEvent): void {
    if (e.type !== 'plan') this.started ??= e.time;
    switch (e.type) {
      case 'plan':
        this.total = e.steps;
        break;
      case 'step-start':
      case 'step-cached': {
        const v: StepView = { n: this.steps.length + 1, id: e.id, name: e.name, start: e.time, state: e.type === 'step-cached' ? 'cached' : 'running', duration: 0, lines: [] };
        this.steps.push(v);
        this.byId.set(e.id, v);
        break;
      }
      case 'step-output': {
        const v = this.byId.get(e.id);
        if (!v) break;
        const lines = (v.lines.length > 0 ? v.lines.pop()! : '') + e.data;
        v.lines.push(...lines.split('\n'));
        if (v.lines.length > TAIL_LINES + 1) v.lines.splice(0, v.lines.length - TAIL_LINES - 1);
        break;
      }
      case 'step-done':
      case 'step-error': {
        const v = this.byId.get(e.id);
        if (!v) break;
        v.state = e.type === 'step-done' ? 'done' : 'error';
        v.duration = e.duration;
        if (e.type === 'step-error') v.lines.push(`ERROR: ${firstLine(e.message)}`);
        break;
      }
      case 'warning':
        this.warnings.push(`WARNING: ${e.message}`);
        break;
      case 'done':
        this.finished = e.time;
        break;
    }
  }

  /** The frame at time `now`. */
  render(now: number): string {
    // A terminal of unknown size (a pty nobody set the size of) reports 0 columns.
    const width = Math.max(40, (this.out.columns || 100) - 1);
    const elapsed = (this.finished ?? now) - (this.started ?? now);
    const finished = this.steps.filter((s) => s.state !== 'running').length;
    const total = Math.max(this.total, this.steps.length);
    const lines = [`[+] Building ${seconds(elapsed)} (${finished}/${total})${this.finished !== undefined ? ' FINISHED' : ''}`];
    for (const s of this.steps) {
      const time = s.state === 'running' ? now - s.start : s.duration;
      const mark = s.state === 'running' ? SPINNER[this.frame % SPINNER.length]! : s.state === 'error' ? '✗' : '=>';
      const label = `${mark === '=>' ? ' =>' : ` ${mark} `} ${s.state === 'cached' ? 'CACHED ' : ''}${s.name}`;
      const right = s.state === 'cached' ? '0.0s' : seconds(time);
      lines.push(fit(label, right, width));
      if (s.state === 'running' || s.state === 'error') {
        const tail = s.lines.filter((l, i) => l !== '' || i < s.lines.length - 1).slice(-TAIL_LINES);
        for (const l of tail) lines.push(truncate(` => => # ${l}`, width));
      }
    }
    lines.push(...this.warnings);
    return lines.join('\n') + '\n';
  }

  private draw(): void {
    this.frame++;
    const text = this.render(this.now());
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : '';
    this.out.write(clear + text);
    this.drawn = text.split('\n').length - 1;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
  }
}

function truncate(s: string, width: number): string {
  return s.length <= width ? s : s.slice(0, width - 1) + '…';
}

function fit(left: string, right: string, width: number): string {
  const room = width - right.length - 1;
  const l = left.length > room ? left.slice(0, room - 1) + '…' : left;
  return l + ' '.repeat(Math.max(1, width - l.length - right.length)) + right;
}

export class JsonProgress implements Progress {
  constructor(private readonly out: ProgressOutput) {}
  event(e: BuildEvent): void {
    this.out.write(JSON.stringify(e) + '\n');
  }
  close(): void {}
}

export function createProgress(mode: ProgressMode, out: ProgressOutput): Progress {
  const m = mode === 'auto' ? (out.isTTY ? 'tty' : 'plain') : mode;
  if (m === 'tty') return new TtyProgress(out);
  if (m === 'rawjson') return new JsonProgress(out);
  if (m === 'quiet') return { event: () => undefined, close: () => undefined };
  return new PlainProgress(out);
}
