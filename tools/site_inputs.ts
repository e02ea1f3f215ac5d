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

import { sha256Hex } from "../lib/store/key.ts";

/** The folders whose files, and the files, of the project's code that every page depends on. */
export const CODE_INPUTS: readonly string[] = [
  "lib",
  "native",
  "deno.json",
  "deno.lock",
  "tools/execute_notebook.py",
];

/** Every file under `path` (itself when it is a file), sorted, as paths relative to `root`. */
async function filesUnder(root: string, path: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(`${root}/${path}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  if (info.isFile) return [path];
  if (!info.isDirectory) return [];
  const out: string[] = [];
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${path}`)) names.push(entry.name);
  for (const name of names.sort()) out.push(...await filesUnder(root, `${path}/${name}`));
  return out;
}

/**
 * The fingerprint of the project's code under `root` (the files and folders of {@linkcode CODE_INPUTS}):
 * the SHA-256 over each file's relative path and contents, in a fixed order.
 */
export async function codeFingerprint(
  root: string,
  inputs: readonly string[] = CODE_INPUTS,
): Promise<string> {
  const files: string[] = [];
  for (const input of inputs) files.push(...await filesUnder(root, input));
  return await digestFiles(files.map((rel) => ({ name: rel, path: `${root}/${rel}` })));
}

/** SHA-256 over the names and contents of `files`, in order (a missing file counts as absent, not empty). */
async function digestFiles(files: readonly { name: string; path: string }[]): Promise<string> {
  const parts: string[] = [];
  for (const { name, path } of files) {
    let contents: Uint8Array | undefined;
    try {
      contents = await Deno.readFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    parts.push(`${name}\0${contents ? await sha256Hex(contents) : "absent"}`);
  }
  return await sha256Hex(parts.join("\n"));
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
