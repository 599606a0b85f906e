/**
 * Build progress events: what the library reports through `onEvent`, what the CLI draws
 * (`--progress tty|plain`) and prints as JSON lines (`--progress rawjson`). One union, shared by
 * the executor (which emits) and the CLI (which renders).
 */

export type BuildEvent =
  /** Planning is done: how many steps will run (cached or not). */
  | { readonly type: 'plan'; readonly stages: number; readonly steps: number }
  /** A step (or an implicit one: `FROM …` resolution, exporting) started. */
  | { readonly type: 'step-start'; readonly id: string; readonly name: string; readonly stage?: string | undefined; readonly time: number }
  /** A step's result came from the cache: nothing ran. */
  | { readonly type: 'step-cached'; readonly id: string; readonly name: string; readonly stage?: string | undefined; readonly time: number }
  /** A step finished. */
  | { readonly type: 'step-done'; readonly id: string; readonly time: number; readonly duration: number }
  /** A step failed (the build stops). */
  | { readonly type: 'step-error'; readonly id: string; readonly time: number; readonly duration: number; readonly message: string }
  /** Output of a running step (RUN's stdout/stderr), kept apart per step. */
  | { readonly type: 'step-output'; readonly id: string; readonly stream: 'stdout' | 'stderr'; readonly data: string; readonly time: number }
  /** Something a person should know that does not stop the build. */
  | { readonly type: 'warning'; readonly code: string; readonly message: string; readonly time: number }
  /** The build finished: the image's digest and where it went. */
  | { readonly type: 'done'; readonly digest: string; readonly outputs: readonly string[]; readonly time: number; readonly duration: number };

export type EventSink = (event: BuildEvent) => void;
