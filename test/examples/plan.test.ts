/**
 * The examples, planned offline with the CLI as a user would (`build-image plan`): public base
 * images are replaced by the busybox-static fixture with `--build-context IMAGE=oci-layout://…`
 * (CI has no internet), so the test pins each example's stages and steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout } from '../../fixtures/busybox.js';
import { runCli } from '../support/cli.js';
import { repoRoot } from '../support/shared.js';

let layout: string;
const cache = mkdtempSync(join(tmpdir(), 'build-image-examples-'));
beforeAll(async () => {
  layout = (await busyboxLayout()).dir;
});
afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** Step lines of `plan` text output, without the keys (they depend on the fixture). */
function steps(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/ {2}\[[0-9a-f]{12}\]$/, '').replace(/@sha256:[0-9a-f]{64} from oci-layout \S+/, '@<busybox>'))
    .filter((l) => !l.startsWith('target:'));
}

const examples: Array<[string, string[], string[]]> = [
  [
    'node-app',
    ['node:20-alpine'],
    [
      'stage 0 "stage-0" (target) FROM node:20-alpine@<busybox>',
      '  s0.1   WORKDIR /app',
      '  s0.2   COPY package.json package-lock.json* ./',
      '  s0.3   RUN npm install --omit=dev',
      '  s0.4   COPY . .',
    ],
  ],
  [
    'java-maven',
    ['maven:3.9-eclipse-temurin-21', 'eclipse-temurin:21-jre'],
    [
      'stage 0 "build" FROM maven:3.9-eclipse-temurin-21@<busybox>',
      '  s0.1   WORKDIR /src',
      '  s0.2   COPY pom.xml .',
      '  s0.3   RUN --mount=type=cache,target=/root/.m2 mvn -q -B dependency:go-offline',
      '  s0.4   COPY src ./src',
      '  s0.5   RUN --mount=type=cache,target=/root/.m2 mvn -q -B package -DskipTests && cp target/app.jar /app.jar',
      'stage 1 "stage-1" (target) FROM eclipse-temurin:21-jre@<busybox>',
      '  s1.1   COPY --from=build /app.jar /opt/app/app.jar  ← stage 0',
    ],
  ],
  [
    'go-static',
    ['golang:1.22'],
    [
      'stage 0 "build" FROM golang:1.22@<busybox>',
      '  s0.1   WORKDIR /src',
      '  s0.2   COPY go.mod ./',
      '  s0.3   COPY main.go ./',
      '  s0.4   RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/app .',
      'stage 1 "stage-1" (target) FROM scratch',
      '  s1.1   COPY --from=build /out/app /app  ← stage 0',
    ],
  ],
  [
    'busybox-offline',
    ['busybox'],
    [
      'stage 0 "build" FROM busybox@<busybox>',
      '  s0.1   WORKDIR /work',
      '  s0.2   COPY greeting.txt .',
      "  s0.3   RUN tr 'a-z' 'A-Z' < greeting.txt > shout.txt && wc -c shout.txt > size.txt",
      'stage 1 "stage-1" (target) FROM busybox@<busybox>',
      '  s1.1   COPY --from=build /work/shout.txt /work/size.txt /srv/  ← stage 0',
    ],
  ],
  ['hello', [], ['stage 0 "stage-0" (target) FROM scratch', '  s0.1   COPY hello.txt /hello.txt', '  s0.2   COPY <<EOF /etc/motd']],
];

describe('examples are planned offline', () => {
  it.each(examples)('%s', async (name, images, expected) => {
    const contexts = images.flatMap((i) => ['--build-context', `${i}=oci-layout://${layout}:latest`]);
    const r = await runCli(['plan', '--cache-dir', cache, ...contexts, join(repoRoot, 'examples', name)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(steps(r.stdout)).toEqual(expected);
  });
});
