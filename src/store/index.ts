/** The content-addressed store, atomic writes and locks. Re-exports only. */
export * from './atomic.js';
export * from './lock.js';
export * from './store.js';
