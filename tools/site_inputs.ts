/**
 * What a chapter page of the site was built from, as one SHA-256: the scale, the notebook, the configs it
 * reads (with those they name) and the project's code (everything under `lib/` and `native/`, the import map
 * and lock file, and the notebook executor). `tools/site.ts` keeps it in `site.json` beside each page and
 * executes a notebook again only when it differs, so that a build that was interrupted, or run a second
 * time, resumes at the first notebook whose page is missing or out of date instead of starting over.
 *
 * The models and datasets a notebook trains are cached on their own (keyed by their whole specification);
 * this covers what the cache does not: the evaluations, which at `full` are most of a chapter's time.
 *
 * @module
 */

import { digestFiles, filesFingerprint } from "../lib/store/fingerprint.ts";
import { sha256Hex } from "../lib/store/key.ts";

/** The folders whose files, and the files, of the project's code that every page depends on. */
export const CODE_INPUTS: readonly string[] = [
  "lib",
  "native",
  "deno.json",
  "deno.lock",
  "tools/execute_notebook.py",
];

/**
 * The fingerprint of the project's code under `root` (the files and folders of {@linkcode CODE_INPUTS}):
 * the SHA-256 over each file's relative path and contents, in a fixed order.
 */
export function codeFingerprint(root: string, inputs: readonly string[] = CODE_INPUTS): Promise<string> {
  return filesFingerprint(root, inputs);
}

/**
 * The fingerprint of one page's inputs: the scale, the notebook at `notebookPath`, the config files it
 * reads (absolute paths, in the order found), and `code`, the {@linkcode codeFingerprint} of the project.
 */
export async function pageInputs(
  scale: string,
  notebookPath: string,
  configPaths: readonly string[],
  code: string,
): Promise<string> {
  const files = await digestFiles([
    { name: "notebook", path: notebookPath },
    ...configPaths.map((path) => ({ name: `config ${path.slice(path.lastIndexOf("/") + 1)}`, path })),
  ]);
  return await sha256Hex(`scale ${scale}\nfiles ${files}\ncode ${code}`);
}
