import { describe, expect, it } from 'vitest';
import { JsonProgress, PlainProgress, TtyProgress, createProgress } from '../../src/cli/progress.js';
import type { BuildEvent } from '../../src/events.js';

const events: BuildEvent[] = [
  { type: 'plan', stages: 2, steps: 3 },
  { type: 'step-start', id: 's0.1', name: '[build 1/2] WORKDIR /app', time: 1000 },
  { type: 'step-done', id: 's0.1', time: 1010, duration: 10 },
  { type: 'step-cached', id: 's0.2', name: '[build 2/2] COPY src ./src', time: 1020 },
  { type: 'step-start', id: 's1.1', name: '[stage-1 1/1] RUN make', time: 1030 },
  { type: 'step-output', id: 's1.1', stream: 'stdout', data: 'compiling\nlinking', time: 1530 },
  { type: 'step-output', id: 's1.1', stream: 'stdout', data: ' done\n', time: 1730 },
  { type: 'step-done', id: 's1.1', time: 2230, duration: 1200 },
  { type: 'done', digest: 'sha256:abc', outputs: ['out.tar'], time: 2300, duration: 1300 },
];

describe('progress', () => {
  it('plain: one line per event, BuildKit style, CACHED for hits, output kept per step', () => {
    let text = '';
    const p = new PlainProgress({ write: (t) => (text += t) });
    for (const e of events) p.event(e);
    p.close();
    expect(text).toBe(
      [
        '#1 [build 1/2] WORKDIR /app',
        '#1 DONE 0.0s',
        '#2 [build 2/2] COPY src ./src',
        '#2 CACHED',
        '#3 [stage-1 1/1] RUN make',
        '#3 0.500 compiling',
        '#3 0.700 linking done',
        '#3 DONE 1.2s',
        '#4 DONE 1.3s: sha256:abc',
        '',
      ].join('\n'),
    );
  });

  it('tty: a frame with running step, spinner, times, CACHED and the output tail', () => {
    const p = new TtyProgress({ write: () => undefined, columns: 60 }, () => 0, 0);
    for (const e of events.slice(0, 6)) p.event(e);
    expect(p.render(1630)).toBe(
      [
        '[+] Building 0.6s (2/3)',
        ' => [build 1/2] WORKDIR /app                           0.0s',
        ' => CACHED [build 2/2] COPY src ./src                  0.0s',
        ' ⠋  [stage-1 1/1] RUN make                             0.6s',
        ' => => # compiling',
        ' => => # linking',
        '',
      ].join('\n'),
    );
    for (const e of events.slice(6)) p.event(e);
    expect(p.render(2400)).toBe(
      [
        '[+] Building 1.3s (3/3) FINISHED',
        ' => [build 1/2] WORKDIR /app                           0.0s',
        ' => CACHED [build 2/2] COPY src ./src                  0.0s',
        ' => [stage-1 1/1] RUN make                             1.2s',
        '',
      ].join('\n'),
    );
  });

  it('rawjson: the events as JSON lines', () => {
    let text = '';
    const p = new JsonProgress({ write: (t) => (text += t) });
    p.event(events[3]!);
    expect(text).toBe('{"type":"step-cached","id":"s0.2","name":"[build 2/2] COPY src ./src","time":1020}\n');
  });

  it('auto picks tty on a terminal and plain otherwise', () => {
    const tty = createProgress('auto', { write: () => undefined, isTTY: true });
    expect(tty).toBeInstanceOf(TtyProgress);
    tty.close();
    expect(createProgress('auto', { write: () => undefined, isTTY: false })).toBeInstanceOf(PlainProgress);
  });
});
