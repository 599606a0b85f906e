/** Runs the compiled CLI (dist/bin/build-image.mjs, built by the pretest step) as users do. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './shared.js';

export const cliPath = join(repoRoot, 'dist/bin/build-image.mjs');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}
