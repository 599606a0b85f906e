/** The build context: .dockerignore, walking, COPY source selection, content digests. */
export { cleanPath, clampToRoot, comparePaths, trimSpace } from './paths.js';
export { BadPatternError, hasWildcards, matchGlob, splitWildcards, validateGlob } from './glob.js';
export {
  IgnoreMatcher,
  findIgnoreFile,
  parseIgnoreFile,
  type IgnoreDecision,
  type IgnoreFile,
  type IgnoreRule,
  type IgnoreState,
} from './ignore.js';
export { entryFromStats, walkContext, type ContextEntry, type EntryType, type WalkOptions } from './walk.js';
export {
  HASH_CACHE_FILE,
  HashCache,
  sha256File,
  type ContentDigest,
  type FileHasher,
  type FileIdentity,
  type HashCacheOptions,
} from './hash.js';
export { selectionDigest, sourceDigest } from './digest.js';
export {
  BuildContext,
  ContextSourceError,
  describeRule,
  type BuildContextOptions,
  type SelectedSource,
  type SourceMatch,
} from './build-context.js';
