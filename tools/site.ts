/**
 * Builds the HTML course site: executes every notebook headless on the project's Deno kernel (with
 * `tools/execute_notebook.py`), collapses each cell's progress displays into one summary line
 * (tools/site_export.ts), exports it to HTML with `jupyter nbconvert`, and puts every page into the site's
 * frame (tools/site_index.ts: sidebar of chapters and sections, previous/next, in-page contents,
 * downloads, search built with MiniSearch in tools/site_search.ts).
 *
 * ```
 * deno task site [--scale smoke|course|full|paper] [--only TEXT] [--out DIR] [--notebooks DIR]
 *                [--export-only] [--force] [--timeout SECONDS]
 * ```
 *
 * Output, in `--out` (default `site/`): `<name>.html` and the executed `<name>.ipynb` per notebook,
 * `configs/*.yaml` (the configs the notebooks read), `index.html`, `search-index.js`, `site.json` and
 * `assets/` (MathJax, require.js, MiniSearch, the site's stylesheet and script). Everything works offline
 * from `file://`. The scale reaches the notebooks as the environment variable `ADVEX_SCALE`. The kernel is
 * the one `scripts/install.sh` writes to `.cache/jupyter/kernels/advex`. `--export-only` skips the
 * execution and exports the executed notebooks already in `--out` again (to iterate on the export). A page
 * already in `--out` built at the same scale from the same notebook, configs and code (tools/site_inputs.ts)
 * is kept without executing its notebook, so an interrupted build resumes; `--force` executes it anyway.
 *
 * @module
 */

import { type Scale, SCALES } from "../lib/config/load.ts";
import { exists, writeFileAtomic } from "../lib/util/fs.ts";
import {
  type ChapterEntry,
  decoratePage,
  formatSeconds,
  MINISEARCH_PATH,
  type NavPage,
  renderIndex,
  renderShell,
  SEARCH_INDEX_PATH,
  SITE_CSS,
  SITE_CSS_PATH,
  SITE_JS,
  SITE_JS_PATH,
  type SiteManifest,
  type SiteNav,
} from "./site_index.ts";
import { describeTimeLeft, expectedSeconds, timeLeft } from "./site_eta.ts";
import { codeFingerprint, pageInputs } from "./site_inputs.ts";
import { collapseProgress, type Notebook } from "./site_export.ts";
import { buildPlayground, type PageParts, PLAYGROUND_PAGE } from "./site_playground.ts";
import {
  pageSections,
  type SearchDocument,
  searchDocuments,
  searchIndexScript,
  wrapUmd,
} from "./site_search.ts";

export type { ChapterEntry, NavPage, SiteManifest } from "./site_index.ts";

/** Workload sizes a notebook can run at (the configs' scales), read by the notebooks from `ADVEX_SCALE`. */
export { type Scale, SCALES };

/** Absolute path of the project root (the folder holding `deno.json`). */
export const PROJECT_ROOT: string = dirName(import.meta.dirname!);

/** Folder that holds the generated kernelspec (`kernels/advex/kernel.json`); goes on `JUPYTER_PATH`. */
export const KERNEL_PATH: string = `${PROJECT_ROOT}/.cache/jupyter`;

/** Name of the project's Jupyter kernel. */
export const KERNEL_NAME = "advex";

/** MathJax as upstream nbconvert loads it, used when no local copy can be bundled into the site. */
const MATHJAX_URL =
  "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe";
const REQUIRE_JS_URL = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js";

/** The notebook executor (see its docstring for why nbconvert does not execute). */
const EXECUTE_SCRIPT = `${PROJECT_ROOT}/tools/execute_notebook.py`;

/** Where Debian's libjs-mathjax and libjs-requirejs (installed with Jupyter) keep their files. */
const LOCAL_MATHJAX = "/usr/share/javascript/mathjax";
const LOCAL_REQUIRE_JS = "/usr/share/javascript/requirejs/require.min.js";

/** The parts of MathJax 2 that the TeX-AMS_CHTML-full configuration loads (about 1.5 MB of 54). */
const MATHJAX_PARTS = [
  "MathJax.js",
  "config/TeX-AMS_CHTML-full.js",
  // The ",Safe" in the config parameter loads config/Safe.js (and with it extensions/Safe.js).
  "config/Safe.js",
  "extensions",
  "jax/input/TeX",
  "jax/element",
  "jax/output/CommonHTML",
  "fonts/HTML-CSS/TeX/woff",
  "localization/en",
];

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (info.isFile) {
    await Deno.mkdir(dirName(to), { recursive: true });
    await Deno.copyFile(from, to);
    return;
  }
  for await (const entry of Deno.readDir(from)) {
    await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/**
 * Copies MathJax and require.js into `<outDir>/assets/` when Debian's packages provide them, so the site
 * typesets its mathematics offline; returns the URLs the pages should load (the public copies otherwise).
 */
export async function bundleScripts(outDir: string): Promise<{ mathjax: string; requireJs: string }> {
  let mathjax = MATHJAX_URL;
  let requireJs = REQUIRE_JS_URL;
  if (await exists(`${LOCAL_MATHJAX}/MathJax.js`)) {
    for (const part of MATHJAX_PARTS) {
      if (await exists(`${LOCAL_MATHJAX}/${part}`)) {
        await copyTree(`${LOCAL_MATHJAX}/${part}`, `${outDir}/assets/mathjax/${part}`);
      }
    }
    mathjax = "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe";
  }
  if (await exists(LOCAL_REQUIRE_JS)) {
    await copyTree(LOCAL_REQUIRE_JS, `${outDir}/assets/require.min.js`);
    requireJs = "assets/require.min.js";
  }
  await writeSiteAssets(outDir);
  return { mathjax, requireJs };
}

/** MiniSearch's browser build (UMD), from the project's node_modules (`deno install` puts it there). */
const MINISEARCH_UMD = `${PROJECT_ROOT}/node_modules/minisearch/dist/umd/index.js`;

/** Writes the site's stylesheet, script and MiniSearch's browser build into `<outDir>/assets/`. */
export async function writeSiteAssets(outDir: string): Promise<void> {
  await Deno.mkdir(`${outDir}/assets`, { recursive: true });
  await writeFileAtomic(`${outDir}/${SITE_CSS_PATH}`, SITE_CSS);
  await writeFileAtomic(`${outDir}/${SITE_JS_PATH}`, SITE_JS);
  let umd: string;
  try {
    umd = await Deno.readTextFile(MINISEARCH_UMD);
  } catch {
    throw new UsageError(`MiniSearch's browser build is missing (${MINISEARCH_UMD}); run: deno install`);
  }
  await writeFileAtomic(`${outDir}/${MINISEARCH_PATH}`, wrapUmd(umd));
}

/** Settings of one site build. */
export interface BuildOptions {
  /** Folder with the `*.ipynb` files (only its top level is searched). */
  notebooksDir: string;
  /** Folder the site is written to; created when missing. */
  outDir: string;
  /** Workload size passed to the notebooks as `ADVEX_SCALE`. */
  scale: Scale;
  /** Only notebooks whose file name contains this text are executed. */
  only?: string;
  /** Do not execute: export the executed `<name>.ipynb` files already in `outDir` again. */
  exportOnly?: boolean;
  /**
   * Execute every selected notebook, also those whose page in `outDir` is up to date (built at this scale
   * from the same notebook, configs and code: tools/site_inputs.ts). Default false: those are kept.
   */
  force?: boolean;
  /**
   * Pages other than chapters (e.g. a playground) that the caller has written into `outDir`: they join
   * the sidebar, the index and the previous/next links after the chapters.
   */
  extraPages?: NavPage[];
  /** Per-cell execution timeout in seconds. */
  cellTimeoutSeconds?: number;
  /** The `jupyter` executable. */
  jupyter?: string;
  /** The Python that has Jupyter's modules (runs tools/execute_notebook.py). */
  python?: string;
  /** Receives progress lines; defaults to `console.log`. */
  log?: (line: string) => void;
}

/** Raised when a notebook fails to execute or export; carries the notebook and Jupyter's error text. */
export class NotebookError extends Error {
  /** Path of the notebook that failed. */
  readonly notebook: string;
  /** The error as Jupyter reported it (cell source and kernel traceback where available). */
  readonly details: string;

  /** Creates the error for `notebook` with Jupyter's error text `details`. */
  constructor(notebook: string, details: string) {
    super(`notebook ${notebook} failed:\n${details}`);
    this.name = "NotebookError";
    this.notebook = notebook;
    this.details = details;
  }
}

/** Raised for problems with the command line or the environment, before any notebook runs. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Command-line options of `tools/site.ts`. */
export interface CliOptions {
  scale: Scale;
  only?: string;
  out: string;
  notebooks: string;
  exportOnly: boolean;
  force: boolean;
  timeout: number;
  help: boolean;
}

const USAGE = `usage: deno task site [options]

  --scale smoke|course|full|paper  workload size passed to the notebooks as ADVEX_SCALE (default: course)
  --only TEXT                 execute only notebooks whose file name contains TEXT
  --out DIR                   output folder (default: site/ in the project)
  --notebooks DIR             folder with the notebooks (default: notebooks/ in the project)
  --export-only               do not execute; export the executed notebooks already in --out again
  --force                     execute every notebook, also those whose page is up to date (by default a
                              page built at this scale from the same notebook, configs and code is kept)
  --keep-ipynb                accepted for older scripts (the executed notebooks are always written)
  --timeout SECONDS           per-cell execution timeout (default: 3600)
  --help                      show this text`;

/** Parses the command line of `tools/site.ts`; relative paths are resolved against `cwd`. */
export function parseArgs(args: string[], cwd: string = Deno.cwd()): CliOptions {
  const options: CliOptions = {
    scale: "course",
    out: `${PROJECT_ROOT}/site`,
    notebooks: `${PROJECT_ROOT}/notebooks`,
    exportOnly: false,
    force: false,
    timeout: 3600,
    help: false,
  };
  const valued = new Set(["--scale", "--only", "--out", "--notebooks", "--timeout"]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined;
    if (valued.has(flag)) {
      if (flag !== arg) value = arg.slice(eq + 1);
      else if (i + 1 < args.length) value = args[++i];
      else throw new UsageError(`${flag} needs a value`);
    } else if (flag !== arg) {
      throw new UsageError(`${flag} takes no value`);
    }
    switch (flag) {
      case "--scale":
        if (!(SCALES as readonly string[]).includes(value!)) {
          throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, not '${value}'`);
        }
        options.scale = value as Scale;
        break;
      case "--only":
        options.only = value;
        break;
      case "--out":
        options.out = resolvePath(cwd, value!);
        break;
      case "--notebooks":
        options.notebooks = resolvePath(cwd, value!);
        break;
      case "--timeout": {
        const seconds = Number(value);
        if (!Number.isFinite(seconds) || seconds <= 0) {
          throw new UsageError(`--timeout must be a positive number of seconds, not '${value}'`);
        }
        options.timeout = seconds;
        break;
      }
      case "--keep-ipynb":
        break;
      case "--export-only":
        options.exportOnly = true;
        break;
      case "--force":
        options.force = true;
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown argument '${arg}'\n\n${USAGE}`);
    }
  }
  return options;
}

function resolvePath(cwd: string, path: string): string {
  const joined = path.startsWith("/") ? path : `${cwd.replace(/\/$/, "")}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** Minimal shape of a notebook file, as far as the site builder reads it. */
interface NotebookJson {
  cells?: { cell_type?: string; source?: string | string[] }[];
}

/**
 * Returns the text of the first markdown heading of a notebook (`# Title`, any level), with inline
 * code marks, emphasis and link targets removed, or `undefined` when there is none.
 */
export function notebookTitle(notebook: NotebookJson): string | undefined {
  for (const cell of notebook.cells ?? []) {
    if (cell.cell_type !== "markdown") continue;
    const source = Array.isArray(cell.source) ? cell.source.join("") : cell.source ?? "";
    for (const line of source.split("\n")) {
      const match = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
      if (!match || match[1] === "") continue;
      return match[1]
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
        .replace(/`([^`]*)`/g, "$1")
        .replace(/(\*\*|__)(.+?)\1/g, "$2")
        .replace(/<[^>]+>/g, "")
        .trim();
    }
  }
  return undefined;
}

/** Lists the `*.ipynb` files at the top level of `dir`, sorted by name. */
export async function listNotebooks(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if ((entry.isFile || entry.isSymlink) && entry.name.endsWith(".ipynb") && !entry.name.startsWith(".")) {
      names.push(entry.name);
    }
  }
  return names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0).map((name) => `${dir}/${name}`);
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Extracts the useful part of nbconvert's stderr after a failed run. */
export function nbconvertErrorText(stderr: string): string {
  const lines = stderr.replace(ANSI, "").split("\n")
    .filter((line) => !/^Warning "deno jupyter" is unstable/.test(line) && !/^\[NbConvertApp\]/.test(line));
  const text = lines.join("\n");
  const cellError = text.indexOf("An error occurred while executing the following cell:");
  if (cellError >= 0) return text.slice(cellError).trim();
  // Other failures (timeout, dead kernel, missing kernel): the exception that ends the last Python
  // traceback, with the lines of its message that follow it.
  const traceback = lines.findLastIndex((line) => line.startsWith("Traceback (most recent call last):"));
  const exception = lines.findIndex((line, i) =>
    i > traceback && /^(?:[A-Za-z_]\w*\.)*[A-Z]\w*: /.test(line)
  );
  const tail = traceback >= 0 && exception >= 0 ? lines.slice(exception) : lines.slice(-40);
  return tail.join("\n").trim() || "(nbconvert printed no error text)";
}

interface RunResult {
  code: number;
  /** stderr followed by stdout. */
  output: string;
}

async function runTool(
  program: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  onProgress?: (line: string) => void,
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, { args, cwd, env, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (error) {
    throw new UsageError(`cannot run ${program}: ${(error as Error).message} (run: bash scripts/install.sh)`);
  }
  // stdout is read line by line so that the executor's "progress: ..." lines reach the terminal live.
  let stdout = "";
  const readStdout = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("progress: ")) onProgress?.(line.slice("progress: ".length));
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const [status, errText] = await Promise.all([child.status, stderr, readStdout]).then(([st, e]) =>
    [st, e] as const
  );
  return { code: status.code, output: errText + stdout };
}

async function readManifest(path: string): Promise<SiteManifest | undefined> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (parsed && Array.isArray(parsed.notebooks)) return parsed as SiteManifest;
  } catch {
    // missing or unreadable: start afresh
  }
  return undefined;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function dirName(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Checks that the project kernel is installed and returns the environment for nbconvert. */
async function jupyterEnv(scale: Scale): Promise<Record<string, string>> {
  const spec = `${KERNEL_PATH}/kernels/${KERNEL_NAME}/kernel.json`;
  let argv0: string | undefined;
  try {
    argv0 = JSON.parse(await Deno.readTextFile(spec)).argv?.[0];
  } catch {
    throw new UsageError(
      `kernel '${KERNEL_NAME}' is not set up (${spec} missing); run: bash scripts/install.sh`,
    );
  }
  if (!argv0 || !(await exists(argv0))) {
    throw new UsageError(`kernel '${KERNEL_NAME}' points at missing ${argv0}; run: bash scripts/install.sh`);
  }
  const inherited = Deno.env.get("JUPYTER_PATH");
  return {
    ADVEX_SCALE: scale,
    JUPYTER_PATH: inherited ? `${KERNEL_PATH}:${inherited}` : KERNEL_PATH,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
}

/** The experiment configs a notebook reads: string literals `"../configs/NAME.yaml"` in its code cells. */
export function notebookConfigs(notebook: NotebookJson): string[] {
  const found = new Set<string>();
  for (const cell of notebook.cells ?? []) {
    if (cell.cell_type !== "code") continue;
    const source = Array.isArray(cell.source) ? cell.source.join("") : cell.source ?? "";
    for (const match of source.matchAll(/["'`]((?:\.\.\/)+configs\/[A-Za-z0-9_.-]+\.ya?ml)["'`]/g)) {
      found.add(match[1]);
    }
  }
  return [...found];
}

/** The other config files a config names as values (`key: other.yaml`), relative to its folder. */
export function referencedConfigs(yamlText: string): string[] {
  const found = new Set<string>();
  for (
    const m of yamlText.matchAll(/^\s*[A-Za-z0-9_]+:\s*["']?([A-Za-z0-9_.-]+\.ya?ml)["']?\s*(?:#.*)?$/gm)
  ) {
    found.add(m[1]);
  }
  return [...found];
}

/**
 * Writes everything that depends on all chapters: `site.json`, the index, the search index, and the frame
 * of every chapter page (sidebar, previous/next), re-applied to pages of earlier builds too.
 */
async function writeSite(outDir: string, manifest: SiteManifest, extras: readonly NavPage[]): Promise<void> {
  const nav: SiteNav = { chapters: manifest.notebooks, extras };
  const documents: SearchDocument[] = [];
  for (const chapter of manifest.notebooks) {
    const path = `${outDir}/${chapter.html}`;
    const html = await Deno.readTextFile(path);
    const sections = pageSections(html);
    chapter.sections = sections.map(({ level, id, title }) => ({ level, id, title }));
    documents.push(...searchDocuments(chapter.html, chapter.title, sections));
    await writeFileAtomic(path, decoratePage(html, chapter, nav));
  }
  await writeFileAtomic(`${outDir}/site.json`, JSON.stringify(manifest, null, 2) + "\n");
  await writeFileAtomic(`${outDir}/index.html`, renderIndex(manifest, extras));
  await writeFileAtomic(`${outDir}/${SEARCH_INDEX_PATH}`, searchIndexScript(documents));
}

/** One selected notebook, read and fingerprinted before the build executes anything. */
interface NotebookPlan {
  path: string;
  /** File name, e.g. `01-x.ipynb`. */
  file: string;
  /** File name without `.ipynb`. */
  name: string;
  title: string;
  /** The configs it reads, with those they name (absolute paths of files that exist), in the order found. */
  configFiles: string[];
  /** The fingerprint of its inputs (tools/site_inputs.ts); for `--export-only`, the previous page's. */
  inputs?: string;
  /** Whether the page in the site folder was built from the same inputs, so that it is kept. */
  upToDate: boolean;
}

/** Reads and fingerprints every selected notebook; an unreadable one stops the build before anything runs. */
async function planNotebooks(
  selected: readonly string[],
  entries: ReadonlyMap<string, ChapterEntry>,
  options: BuildOptions,
): Promise<NotebookPlan[]> {
  const code = options.exportOnly ? "" : await codeFingerprint(PROJECT_ROOT);
  const plans: NotebookPlan[] = [];
  for (const path of selected) {
    const file = baseName(path);
    const name = file.replace(/\.ipynb$/, "");
    let source: NotebookJson;
    try {
      source = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      throw new NotebookError(path, `cannot read notebook: ${(error as Error).message}`);
    }
    const configFiles = await configClosure(path, notebookConfigs(source));
    const before = entries.get(name);
    const inputs = options.exportOnly
      ? before?.inputs
      : await pageInputs(options.scale, path, configFiles, code);
    const upToDate = !options.exportOnly && !options.force && before !== undefined &&
      before.inputs === inputs && before.scale === options.scale &&
      await exists(`${options.outDir}/${before.html}`) && await exists(`${options.outDir}/${file}`);
    plans.push({ path, file, name, title: notebookTitle(source) ?? name, configFiles, inputs, upToDate });
  }
  return plans;
}

/**
 * The config files a notebook at `notebookPath` reads (`configs`, relative to its folder) and those they name
 * in turn (chapter 3's `pretrained: pretrain-resnet50.yaml`), as absolute paths of the files that exist, one
 * per file name, in the order found.
 */
async function configClosure(notebookPath: string, configs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const pending = configs.map((c) => resolvePath(dirName(notebookPath), c));
  for (let i = 0; i < pending.length; i++) {
    const from = pending[i];
    if (!(await exists(from))) continue;
    if (found.some((f) => baseName(f) === baseName(from))) continue;
    found.push(from);
    for (const name of referencedConfigs(await Deno.readTextFile(from))) {
      pending.push(resolvePath(dirName(from), name));
    }
  }
  return found;
}

/**
 * Executes the notebooks and writes the site. Pages of notebooks not selected by `only` that are
 * already in `outDir` stay listed in the index. Throws {@link NotebookError} at the first notebook
 * that fails, after updating the index with the chapters built so far.
 */
export async function buildSite(options: BuildOptions): Promise<SiteManifest> {
  const log = options.log ?? ((line: string) => console.log(line));
  const jupyter = options.jupyter ?? Deno.env.get("ADVEX_JUPYTER") ?? "/usr/bin/jupyter";
  const python = options.python ?? Deno.env.get("ADVEX_PYTHON") ?? "/usr/bin/python3";
  const timeout = options.cellTimeoutSeconds ?? 3600;
  if (!(await exists(options.notebooksDir))) throw new UsageError(`no folder ${options.notebooksDir}`);
  const all = await listNotebooks(options.notebooksDir);
  if (all.length === 0) throw new UsageError(`no notebooks (*.ipynb) in ${options.notebooksDir}`);
  const selected = options.only === undefined
    ? all
    : all.filter((path) => baseName(path).includes(options.only!));
  if (selected.length === 0) throw new UsageError(`no notebook name contains '${options.only}'`);
  if (options.exportOnly) {
    for (const path of selected) {
      const executed = `${options.outDir}/${baseName(path)}`;
      if (!(await exists(executed))) throw new UsageError(`--export-only: no executed notebook ${executed}`);
    }
  }
  const env = await jupyterEnv(options.scale);

  await Deno.mkdir(options.outDir, { recursive: true });
  const manifestPath = `${options.outDir}/site.json`;
  const previous = await readManifest(manifestPath);
  const entries = new Map<string, ChapterEntry>(
    (previous?.notebooks ?? []).map((entry) => [entry.name, entry]),
  );
  const plans = await planNotebooks(selected, entries, options);
  const work = await Deno.makeTempDir({ dir: options.outDir, prefix: ".build-" });
  const scripts = await bundleScripts(options.outDir);
  // Pages other than chapters join the navigation here (each written into outDir by its own builder).
  const extraPages: NavPage[] = [...(options.extraPages ?? [])];
  const started = performance.now();
  log(`site: ${selected.length} notebook(s) at scale ${options.scale} -> ${options.outDir}`);
  const kept = plans.filter((plan) => plan.upToDate).length;
  if (kept > 0) {
    log(
      `site: ${kept} of them up to date (same scale, notebook, configs and code), kept; ` +
        "--force executes them again",
    );
  }
  // The estimate of the time left (tools/site_eta.ts): the previous build's times, else the measured ones,
  // scaled by this build's pace; export-only builds take seconds and print none.
  const toRun = plans.filter((plan) => !plan.upToDate).map((plan) => plan.name);
  const expected = expectedSeconds(toRun, options.scale, previous?.notebooks);
  const took = new Map<string, number>();
  const logTimeLeft = (from: number) => {
    if (options.exportOnly) return;
    const remaining = plans.slice(from).filter((plan) => !plan.upToDate).map((plan) => plan.name);
    if (remaining.length === 0) return;
    log(
      `site: ${
        describeTimeLeft(timeLeft(expected, took, remaining), remaining.length)
      } (before the playground)`,
    );
  };
  logTimeLeft(0);

  const writeIndex = async () => {
    const notebooks: ChapterEntry[] = [];
    for (const path of all) {
      const entry = entries.get(baseName(path).replace(/\.ipynb$/, ""));
      if (entry && await exists(`${options.outDir}/${entry.html}`)) notebooks.push(entry);
    }
    const manifest: SiteManifest = { generated: new Date().toISOString(), notebooks };
    await writeSite(options.outDir, manifest, extraPages);
    return manifest;
  };

  try {
    for (const [i, plan] of plans.entries()) {
      const { path, file, name, title } = plan;
      const counter = `[${i + 1}/${plans.length}]`;
      if (plan.upToDate) {
        const entry = entries.get(name)!;
        log(
          `${counter} ${file}: up to date (executed ${entry.date} in ${formatSeconds(entry.seconds)}), kept`,
        );
        continue;
      }
      log(`${counter} ${file}: ${title}`);
      const t0 = performance.now();
      const executed = `${work}/${name}.ipynb`;
      const fail = (details: string) => {
        log(`${counter} ${file}: FAILED after ${formatSeconds((performance.now() - t0) / 1000)}`);
        return new NotebookError(path, details);
      };
      if (options.exportOnly) {
        await Deno.copyFile(`${options.outDir}/${file}`, executed);
      } else {
        // Execution runs through tools/execute_notebook.py, which keeps outputs the kernel publishes after a
        // cell's idle status (nbconvert --execute drops them); nbconvert then only exports the result.
        const result = await runTool(
          python,
          [
            EXECUTE_SCRIPT,
            path,
            executed,
            `--kernel=${KERNEL_NAME}`,
            `--timeout=${timeout}`,
            "--startup-timeout=300",
          ],
          dirName(path),
          env,
          (line) => log(`    ${line}`),
        );
        if (result.code !== 0) throw fail(nbconvertErrorText(result.output));
      }
      const notebook: Notebook = JSON.parse(await Deno.readTextFile(executed));
      const collapsed = collapseProgress(notebook);
      if (collapsed > 0) await Deno.writeTextFile(executed, JSON.stringify(notebook, null, 1) + "\n");
      const exported = await runTool(
        jupyter,
        [
          "nbconvert",
          "--to",
          "html",
          `--HTMLExporter.mathjax_url=${scripts.mathjax}`,
          `--HTMLExporter.require_js_url=${scripts.requireJs}`,
          `--output-dir=${work}`,
          `--output=${name}`,
          executed,
        ],
        dirName(path),
        env,
      );
      if (exported.code !== 0) throw fail(nbconvertErrorText(exported.output));
      const copied: string[] = [];
      for (const from of plan.configFiles) {
        const to = `configs/${baseName(from)}`;
        await Deno.mkdir(`${options.outDir}/configs`, { recursive: true });
        await Deno.copyFile(from, `${options.outDir}/${to}`);
        copied.push(to);
      }
      // The page is framed (sidebar, search, pager) once all chapters are known, in writeIndex.
      await writeFileAtomic(
        `${options.outDir}/${name}.html`,
        await Deno.readTextFile(`${work}/${name}.html`),
      );
      if (!options.exportOnly) await Deno.rename(executed, `${options.outDir}/${file}`);
      else if (collapsed > 0) await Deno.copyFile(executed, `${options.outDir}/${file}`);
      const seconds = options.exportOnly
        ? entries.get(name)?.seconds ?? 0
        : Math.round((performance.now() - t0) / 100) / 10;
      entries.set(name, {
        name,
        title,
        seconds,
        scale: options.exportOnly ? entries.get(name)?.scale ?? options.scale : options.scale,
        date: new Date().toISOString(),
        html: `${name}.html`,
        notebook: file,
        configs: copied,
        ...(plan.inputs !== undefined ? { inputs: plan.inputs } : {}),
      });
      const note = collapsed > 0 ? ` (${collapsed} progress displays collapsed)` : "";
      log(`${counter} ${file}: ok in ${formatSeconds((performance.now() - t0) / 1000)}${note}`);
      took.set(name, seconds);
      // The manifest (and the index, the search, every page's frame) after every notebook: a build that is
      // killed keeps what it finished, and the next one resumes after it.
      await writeIndex();
      logTimeLeft(i + 1);
    }
  } catch (error) {
    await writeIndex();
    throw error;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  extraPages.push(PLAYGROUND_PAGE);
  const manifest = await writeIndex();
  const nav = { chapters: manifest.notebooks, extras: extraPages };
  const frame = (page: PageParts) => renderShell({ ...page, nav });
  await buildPlayground({ outDir: options.outDir, scale: options.scale, log, frame });
  log(`site: done in ${formatSeconds((performance.now() - started) / 1000)}: ${options.outDir}/index.html`);
  return manifest;
}

/** Command-line entry point; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const cli = parseArgs(args, Deno.env.get("INIT_CWD") ?? Deno.cwd());
    if (cli.help) {
      console.log(USAGE);
      return 0;
    }
    await buildSite({
      notebooksDir: cli.notebooks,
      outDir: cli.out,
      scale: cli.scale,
      only: cli.only,
      exportOnly: cli.exportOnly,
      force: cli.force,
      cellTimeoutSeconds: cli.timeout,
    });
    return 0;
  } catch (error) {
    if (error instanceof NotebookError) {
      console.error(`\nsite: FAILED: ${error.notebook}\n\n${error.details}`);
      return 1;
    }
    if (error instanceof UsageError) {
      console.error(`site: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
