/** The executor: runs a Plan (COPY/ADD/WORKDIR here, RUN through a Runner) and writes outputs. */
export {
  defaultImageProvider,
  executePlan,
  executeStages,
  normalizeHistory,
  stageImage,
  writeLayer,
  type BuildContexts,
  type ExecuteDeps,
  type ExecuteResult,
  type ImageProvider,
  type ImagePuller,
  type ImageSource,
  type StageResult,
} from './build.js';
export { copyChanges, type FileStepDeps } from './copy.js';
export { workdirChanges } from './workdir.js';
export { Overlay, type PendingNode } from './overlay.js';
export {
  DEFAULT_ROOT,
  RootView,
  directorySource,
  openNode,
  resolveWith,
  type ContentSource,
  type FsEntry,
  type FsNode,
  type FsType,
  type IndexEntry,
  type ResolveOptions,
} from './rootfs.js';
export { LAYER_INDEX_VERSION, LayerSnapshots, indexEntryFromHeader, type LayerIndex } from './snapshots.js';
export { parseOwnerSpec, resolveOwner, type Owner, type OwnerSpec } from './users.js';
export { downloadUrl, httpFetcher, urlFileName, type UrlFetcher, type UrlResponse } from './url.js';
export { openArchive } from './archive.js';
export { unsupportedRunner, type RunContext, type RunResult, type Runner } from './runner.js';
export { csvFields, parseOutput, writeOutput, writeOutputs, type ImagePusher, type OutputDeps, type OutputResult, type OutputSpec } from './output.js';
