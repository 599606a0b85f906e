/**
 * Runs one long RUN step and prints its output: `node --import tsx killed-child.ts <store>
 * <runtime> <marker>`. killed by execute.test.ts with SIGKILL mid-step.
 */
import { openStore } from '../../../src/store/store.js';
import { execute, runStep } from './support.js';

const [storeDir, runtime, marker] = process.argv.slice(2);
const store = await openStore({ root: storeDir! });
await execute({ name: runtime!, runtime: runtime!, snapshotter: 'overlay' }, runStep(`echo started; sleep ${marker}`), {
  store,
  executor: { onOutput: (_id, c) => process.stdout.write(c.data) },
});
