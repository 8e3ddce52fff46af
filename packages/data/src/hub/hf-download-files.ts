import { dirname } from "node:path";
import { type HfDownloadOptions, hfDownload } from "./hf-download.js";
import { parseHfUri } from "./hf-uri.js";

/**
 * Downloads several files of one Hub repository (`owner/name` for a model, `datasets/owner/name` for a
 * data set) at one revision, the way `hfDownload` downloads one, and returns the local snapshot folder
 * that holds them (`{cache}/models--owner--name/snapshots/{commit}`), ready for loaders that take a
 * folder (tokenizers, checkpoints). Files in subfolders keep their relative paths there.
 * @throws HubError from `hfDownload` for the first file that fails (not found, access denied, offline...).
 */
export async function hfDownloadFiles(
  repo: string,
  files: readonly string[],
  options: HfDownloadOptions & { revision?: string } = {},
): Promise<string> {
  if (files.length === 0) throw new RangeError(`hfDownloadFiles(${repo}): no files asked for`);
  const { revision, ...downloadOptions } = options;
  const at = revision ? `@${revision}` : "";
  let folder: string | undefined;
  for (const file of files) {
    const uri = `hf://${repo}${at}/${file}`;
    parseHfUri(uri); // Refuses a malformed repo or path before any request.
    const local = await hfDownload(uri, downloadOptions);
    const depth = file.split("/").length;
    let snapshot = local;
    for (let level = 0; level < depth; level++) snapshot = dirname(snapshot);
    folder ??= snapshot;
  }
  return folder as string;
}
