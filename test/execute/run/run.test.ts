/**
 * RUN on a real busybox-static base, through every runner × snapshotter: exact layer entries,
 * and the same layer bytes whichever runs it (steps are clamped to SOURCE_DATE_EPOCH).
 * After each test: no mount, process or work directory is left.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/store.js';
import { hasTool, isRoot } from '../../support/tools.js';
import { CASES, type CaseEnv } from './cases.js';
import { busyboxLayers, entries, execute, mountPoints, processesMentioning, tempDir, workDirs, type Mode } from './support.js';


const MODES: Mode[] = [
  { name: 'unshare + overlay', runtime: 'unshare', snapshotter: 'overlay' },
  { name: 'unshare + copy', runtime: 'unshare', snapshotter: 'copy' },
  { name: 'runc + overlay', runtime: 'runc', snapshotter: 'overlay' },
];

const canRun = isRoot && hasTool('busybox', 'busybox-static') && hasTool('runc', 'runc') && hasTool('getfattr', 'attr');

describe.runIf(canRun)('RUN cases', () => {
  let store: Store;
  let mountsBefore: string[];
  const diffIDs = new Map<string, Map<string, string>>();

  beforeAll(async () => {
    store = await openStore({ root: await tempDir('store') });
    await busyboxLayers();
  });

  afterEach(() => {
    expect(mountPoints()).toEqual(mountsBefore);
    expect(processesMentioning(store.root)).toEqual([]);
    expect(workDirs(store)).toEqual([]);
  });

  describe.each(MODES)('$name', (mode) => {
    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      mountsBefore = mountPoints();
      const tmp = await tempDir('case');
      const env: CaseEnv = {
        store,
        tmp,
        run: (step, more = {}) => execute(mode, step, { store, ...more }),
      };
      const r = await c.run(env);
      expect(await entries(r.layer)).toEqual(r.expected);
      if (r.expectOutput !== undefined) expect(r.output).toBe(r.expectOutput);
      let m = diffIDs.get(c.name);
      if (m === undefined) diffIDs.set(c.name, (m = new Map()));
      m.set(mode.name, r.layer.diffID);
    });
  });

  it('every mode made the same layer bytes for every case', () => {
    mountsBefore = mountPoints();
    for (const c of CASES) {
      const ids = diffIDs.get(c.name);
      expect(ids?.size, c.name).toBe(MODES.length);
      expect(new Set(ids!.values()).size, `${c.name}: ${JSON.stringify([...ids!])}`).toBe(1);
    }
  });
});
