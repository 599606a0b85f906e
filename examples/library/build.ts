/**
 * Building an image from TypeScript with build-image's library API: `build()` with progress
 * events printed as they come, and a time limit through an AbortSignal.
 *
 *     npx tsx examples/library/build.ts [CONTEXT] [TAG] [NAME=SOURCE ...]
 *
 * CONTEXT defaults to the current directory and TAG to `example:latest`; the image goes to the
 * local image store ($XDG_CACHE_HOME/build-image, an OCI layout). NAME=SOURCE arguments are
 * build contexts, as the CLI's --build-context (`busybox=oci-layout:///path/to/layout:latest`
 * makes `FROM busybox` use a local layout). BUILD_TIMEOUT_MS (default 300000) limits the build:
 * past it the build stops and this program exits 1.
 */
import { build, BuildImageError, type BuildEvent } from 'build-image';

const context = process.argv[2] ?? '.';
const tag = process.argv[3] ?? 'example:latest';
const buildContexts = Object.fromEntries(process.argv.slice(4).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const timeoutMs = Number(process.env['BUILD_TIMEOUT_MS'] ?? 300_000);

/** Step names by id: `step-done` and `step-error` carry only the id. */
const names = new Map<string, string>();

function show(event: BuildEvent): void {
  switch (event.type) {
    case 'plan':
      console.log(`plan    ${event.stages} stage(s), ${event.steps} step(s)`);
      break;
    case 'step-start':
      names.set(event.id, event.name);
      console.log(`start   ${event.name}`);
      break;
    case 'step-cached':
      console.log(`cached  ${event.name}`);
      break;
    case 'step-output':
      // RUN output, kept apart per step; print it indented under its step.
      for (const line of event.data.split('\n').filter((l) => l !== '')) console.log(`        | ${line}`);
      break;
    case 'step-done':
      console.log(`done    ${names.get(event.id)} (${event.duration} ms)`);
      break;
    case 'step-error':
      console.log(`failed  ${names.get(event.id)}: ${event.message.split('\n')[0]}`);
      break;
    case 'warning':
      console.log(`warning ${event.code}: ${event.message}`);
      break;
    case 'done':
      console.log(`built   ${event.digest} in ${event.duration} ms`);
      break;
  }
}

const signal = AbortSignal.timeout(timeoutMs);
try {
  const result = await build({ context, tags: [tag], buildContexts, onEvent: show, signal });
  console.log(`image   ${result.configDigest} (the image ID)`);
  for (const output of result.outputs) console.log(`output  ${output.type} ${output.location}`);
} catch (err) {
  if (signal.aborted) {
    console.error(`timed out after ${timeoutMs} ms: the build was stopped`);
  } else if (err instanceof BuildImageError) {
    // The same report the CLI prints: code, message, Dockerfile lines, hint.
    console.error(err.format());
  } else {
    throw err;
  }
  process.exitCode = 1;
}
