// The Hugging Face Hub client: hf:// URIs, a huggingface_hub-compatible cache, resumable verified
// downloads, and the short names of the data sets pqm uses.

export type { HfDownloadProgress } from "./download-progress.js";
export type { DownloadSaved, HfDownloadOptions, HfFileMetadata } from "./hf-download.js";
export { hfDownload, hfFileExists, hfFileMetadata } from "./hf-download.js";
export { hfDownloadFiles } from "./hf-download-files.js";
export type { HfFileRef, HfRepoType } from "./hf-uri.js";
export { formatHfUri, parseHfUri, resolveHfUrl } from "./hf-uri.js";
export { hfCachedPath } from "./hub-cache.js";
export type { HubErrorCode, HubErrorDetails } from "./hub-error.js";
export { HubError } from "./hub-error.js";
export type { HubSettingsOptions } from "./hub-settings.js";
export {
  DEFAULT_HF_ENDPOINT,
  isHfOffline,
  resolveHfCacheDir,
  resolveHfEndpoint,
  resolveHfHome,
  resolveHfToken,
} from "./hub-settings.js";
export type {
  DatasetFileFormat,
  FetchedDataset,
  KnownDataset,
  ResolveDatasetOptions,
  ResolvedDataset,
} from "./known-datasets.js";
export {
  fetchDataset,
  knownDatasets,
  PQM_BON_POLICIES,
  PQM_BON_TESTS,
  resolveDatasetName,
} from "./known-datasets.js";
