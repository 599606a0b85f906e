/** The image content layer: digests, schemas, JSON, tar, gzip, layers, images. Re-exports only. */
export * from './digest.js';
export * from './extract.js';
export * from './gzip.js';
export * from './image.js';
export * from './json.js';
export * from './layer.js';
export * from './paths.js';
export * from './schema.js';
export * from './stream.js';
export * from './tar.js';
export * from './time.js';
