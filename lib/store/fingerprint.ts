/**
 * Fingerprints of source files: a SHA-256 over the relative paths and contents of every file under some
 * folders, so that a result computed by one version of the code is not taken for another's. The site build
 * keys each page by it (tools/site_inputs.ts) and the evaluation cache each result (lib/eval/cached.ts).
 * @module
 */

import { sha256Hex } from "./key.ts";

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
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${path}`)) names.push(entry.name);
  const out: string[] = [];
  for (const name of names.sort()) out.push(...await filesUnder(root, `${path}/${name}`));
  return out;
}

/** SHA-256 over the names and contents of `files`, in order (a missing file counts as absent, not empty). */
export async function digestFiles(files: readonly { name: string; path: string }[]): Promise<string> {
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
 * The fingerprint of the files and folders `inputs` (paths relative to `root`): the SHA-256 over each file's
 * relative path and contents, in a fixed order. A file added, removed, renamed or edited changes it; files
 * outside `inputs` do not.
 */
export async function filesFingerprint(root: string, inputs: readonly string[]): Promise<string> {
  const files: string[] = [];
  for (const input of inputs) files.push(...await filesUnder(root, input));
  return await digestFiles(files.map((rel) => ({ name: rel, path: `${root}/${rel}` })));
}

let library: Promise<string> | undefined;

/**
 * The fingerprint of this library's code: every file under `lib/` and `native/` (the C kernels), once per
 * process. Where the library is not read from files (imported over the network), the text "not-files".
 */
export function libraryFingerprint(): Promise<string> {
  library ??= (async () => {
    const here = new URL("../../", import.meta.url);
    if (here.protocol !== "file:") return "not-files";
    const root = decodeURIComponent(here.pathname).replace(/\/$/, "");
    return await filesFingerprint(root, ["lib", "native"]);
  })();
  return library;
}
