/**
 * zod's English messages, set once (import this module for its effect). The project uses the
 * tree-shakable `zod/mini` — the classic build is ~800 KiB of the CLI bundle, and the CLI's
 * start-up time matters for every build. Import zod as `import * as z from 'zod/mini'` (a
 * namespace used only through static member accesses, so bundles keep only what is used).
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
