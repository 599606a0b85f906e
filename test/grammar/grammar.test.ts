import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diagramsHtml } from '../../grammar/diagrams.js';
import { createDockerfileParser, dockerfileParser } from '../../grammar/parser.js';
import { repoRoot } from '../support/shared.js';

describe('grammar', () => {
  it('passes chevrotain\'s grammar validations (no ambiguity, no left recursion)', () => {
    expect(() => createDockerfileParser(true)).not.toThrow();
    expect(createDockerfileParser(true).definitionErrors).toEqual([]);
  });

  it('has one parser instance per process', () => {
    expect(dockerfileParser()).toBe(dockerfileParser());
  });

  it('has up-to-date railroad diagrams in grammar/diagrams.html (run `npm run diagrams`)', () => {
    const committed = readFileSync(join(repoRoot, 'grammar/diagrams.html'), 'utf8');
    expect(committed === diagramsHtml(), 'grammar/diagrams.html is stale: run `npm run diagrams`').toBe(true);
  });

  it('draws every instruction', () => {
    const html = diagramsHtml();
    for (const rule of ['fromInstruction', 'runInstruction', 'copyInstruction', 'healthcheckInstruction', 'onbuildInstruction', 'execForm', 'shellForm', 'flags']) {
      expect(html).toContain(`<h2 class="diagramHeader">${rule}</h2>`);
    }
  });
});
