#!/usr/bin/env node
import { run } from './main.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await run(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  readStdin,
  progress: { write: (t: string) => process.stderr.write(t), isTTY: process.stderr.isTTY, columns: process.stderr.columns },
  signals: (onSignal) => {
    let count = 0;
    const handler = () => {
      // The first Ctrl-C cancels the build cleanly; a second one exits at once.
      if (++count > 1) process.exit(130);
      onSignal();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
});
process.exitCode = code;
