/**
 * RUN: steps executed in Linux namespaces (built in, or through an OCI runtime), on overlay or
 * copied root filesystems, with BuildKit's mounts, stubs and layer diffs. Re-exports only.
 */
export { RunExecutor, createRunExecutor, makeRunner, overlayProblem, type RunExecutorOptions, type RunStepContext } from './executor.js';
export { executeStep, planSources, RunStepError, DEFAULT_PATH_ENV, type MountSource, type MountSourceResolver, type StepJob, type StepOutcome } from './execute.js';
export { parseSecretSpec, secretsFrom, secretsFromValues, noSecrets, type SecretProvider, type SecretSpec } from './secrets.js';
export { UnshareRunner, unshareScript, type Runner } from './unshare.js';
export { OciRuntimeRunner } from './runc.js';
export { OverlaySnapshotter, CopySnapshotter, type Snapshotter, type PreparedRoot, type FsSpec } from './snapshotter.js';
export { LayerDirs, chainIDs, type LayerDir, type XattrNamespace } from './layerdirs.js';
export { DirView, StackView, resolvePath, type FsView } from './fsview.js';
export { overlayChanges, walkChanges, collapseOpaque, changeEntries, sameEntry, type Change } from './differ.js';
export { resolveExecUser, type ExecUser } from './user.js';
export { CacheMounts, cacheKey } from './cache.js';
export { findStubs, removeStubs } from './stubs.js';
export { DEFAULT_HOSTNAME, DEFAULT_CAPS, ociConfig, type ContainerSpec, type SpecMount } from './spec.js';
export { idMapping, userNamespaceProblem } from './rootless.js';
