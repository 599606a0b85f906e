/**
 * Talking to container registries over the OCI distribution API: parse references, resolve
 * and pull base images into the store, push built images — with Docker's credentials and the
 * registries' token/Basic authentication. No daemon, no skopeo.
 *
 *     const session = createRegistrySession({ insecureRegistries, onEvent });
 *     const base = await pullImage('node:20-alpine', { session, store, platform, pull });
 *     // base.digest goes into cache keys; base.image is an Image whose layers are in the store
 *     const pushed = await pushImage(image, 'ghcr.io/org/app:1', { session, store });
 *     session.close();
 */
export {
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  DOCKER_HUB_API_HOST,
  familiarReference,
  formatReference,
  isImageReference,
  isInsecureRegistry,
  manifestReference,
  parseImageReference,
  referenceName,
  registryApiHost,
  registryHostname,
  withDigest,
  withTag,
  type ImageReference,
} from './reference.js';
export {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  platformRank,
  selectPlatformManifest,
  type Platform,
} from './platform.js';
export {
  anonymousCredentials,
  authKey,
  chainCredentials,
  dockerConfigCredentials,
  dockerConfigDir,
  staticCredentials,
  type CredentialStore,
  type Credentials,
  type DockerConfigOptions,
} from './credentials.js';
export { parseChallenges, repositoryScope, type Challenge } from './challenge.js';
export { createTransport, type HttpTransport, type RetryPolicy, type TransportOptions } from './http.js';
export { RegistryClient, type RegistryRequest } from './client.js';
export { createRegistrySession, RegistrySession, type RegistryEvent, type SessionOptions } from './session.js';
export { fetchBlob, type BlobTarget } from './blobs.js';
export {
  fetchLayers,
  indexPlatforms,
  MANIFEST_ACCEPT,
  platformFits,
  pullImage,
  resolveImage,
  type ResolvedImage,
  type ResolveOptions,
} from './pull.js';
export {
  imageBlobs,
  pushBlob,
  pushImage,
  pushIndex,
  pushMetadata,
  putManifest,
  type PushBlob,
  type PushOptions,
  type PushResult,
} from './push.js';
