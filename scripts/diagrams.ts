// Writes grammar/diagrams.html (railroad diagrams of the Dockerfile grammar).
import { writeFileSync } from 'node:fs';
import { diagramsHtml } from '../grammar/diagrams.js';

const out = new URL('../grammar/diagrams.html', import.meta.url);
writeFileSync(out, diagramsHtml());
console.log(`wrote ${out.pathname}`);
