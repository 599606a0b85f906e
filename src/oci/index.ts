/** OCI layouts, OCI archives and docker archives. Re-exports only. */
export * from './archive.js';
export * from './docker.js';
export * from './layout.js';
