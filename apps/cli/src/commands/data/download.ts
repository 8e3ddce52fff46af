import { fetchDataset, hfDownload } from "@pqm/data";
import { progressStyle, withDownloadProgress } from "../../shared/progress-views.js";

/** Options of `pqm data download`. */
export interface DownloadOptions {
  /** Cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Show progress and warnings on standard error: a bar on a terminal, else occasional lines. */
  progress: boolean;
  /** Stops the download; the partial file stays in the cache and a rerun resumes it (see @pqm/data). */
  signal?: AbortSignal;
}

/** What `pqm data download` fetched. */
export interface DownloadReport {
  name: string;
  path: string;
  source: string;
}

/**
 * Downloads a known data set by short name (`math500`, `gsm8k`, `pqm-bon/math500-...`) or any
 * `hf://` file into the Hugging Face cache, resuming and verifying; returns the local path.
 */
export async function downloadData(name: string, options: DownloadOptions): Promise<DownloadReport> {
  return withDownloadProgress(progressStyle(options.progress), async (hub) => {
    const common = {
      ...hub,
      ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    if (name.startsWith("hf://")) {
      return { name, path: await hfDownload(name, common), source: name };
    }
    const fetched = await fetchDataset(name, common);
    return { name, path: fetched.path, source: fetched.source === "local" ? "local data folder" : "hub" };
  });
}
