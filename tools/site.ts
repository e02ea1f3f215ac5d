/**
 * Builds the HTML course site: executes every notebook headless on the project's Deno kernel (with
 * `tools/execute_notebook.py`), exports it to HTML with `jupyter nbconvert` and writes an index page.
 *
 * ```
 * deno task site [--scale smoke|course|paper] [--only TEXT] [--out DIR] [--notebooks DIR]
 *                [--keep-ipynb] [--timeout SECONDS]
 * ```
 *
 * Output, in `--out` (default `site/`): `<name>.html` per notebook, `index.html`, `site.json`, and
 * with `--keep-ipynb` the executed `<name>.ipynb`. The scale reaches the notebooks as the environment
 * variable `ADVEX_SCALE`. The kernel is the one `scripts/install.sh` writes to
 * `.cache/jupyter/kernels/advex`.
 *
 * @module
 */

import { exists, writeFileAtomic } from "../lib/util/fs.ts";
import {
  type ChapterEntry,
  decoratePage,
  formatSeconds,
  renderIndex,
  type SiteManifest,
} from "./site_index.ts";

export type { ChapterEntry, SiteManifest } from "./site_index.ts";

/** Workload sizes a notebook can run at, read by the notebooks from `ADVEX_SCALE`. */
export const SCALES = ["smoke", "course", "paper"] as const;

/** One of {@link SCALES}. */
export type Scale = typeof SCALES[number];

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
  return { mathjax, requireJs };
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
  /** Also write the executed notebooks next to the pages. */
  keepIpynb?: boolean;
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
  keepIpynb: boolean;
  timeout: number;
  help: boolean;
}

const USAGE = `usage: deno task site [options]

  --scale smoke|course|paper  workload size passed to the notebooks as ADVEX_SCALE (default: course)
  --only TEXT                 execute only notebooks whose file name contains TEXT
  --out DIR                   output folder (default: site/ in the project)
  --notebooks DIR             folder with the notebooks (default: notebooks/ in the project)
  --keep-ipynb                also write the executed notebooks to the output folder
  --timeout SECONDS           per-cell execution timeout (default: 3600)
  --help                      show this text`;

/** Parses the command line of `tools/site.ts`; relative paths are resolved against `cwd`. */
export function parseArgs(args: string[], cwd: string = Deno.cwd()): CliOptions {
  const options: CliOptions = {
    scale: "course",
    out: `${PROJECT_ROOT}/site`,
    notebooks: `${PROJECT_ROOT}/notebooks`,
    keepIpynb: false,
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
        options.keepIpynb = true;
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
  const env = await jupyterEnv(options.scale);

  await Deno.mkdir(options.outDir, { recursive: true });
  const manifestPath = `${options.outDir}/site.json`;
  const previous = await readManifest(manifestPath);
  const entries = new Map<string, ChapterEntry>(
    (previous?.notebooks ?? []).map((entry) => [entry.name, entry]),
  );
  const work = await Deno.makeTempDir({ dir: options.outDir, prefix: ".build-" });
  const scripts = await bundleScripts(options.outDir);
  const started = performance.now();
  log(`site: ${selected.length} notebook(s) at scale ${options.scale} -> ${options.outDir}`);

  const writeIndex = async () => {
    const notebooks: ChapterEntry[] = [];
    for (const path of all) {
      const entry = entries.get(baseName(path).replace(/\.ipynb$/, ""));
      if (entry && await exists(`${options.outDir}/${entry.html}`)) notebooks.push(entry);
    }
    const manifest: SiteManifest = { generated: new Date().toISOString(), notebooks };
    await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
    await writeFileAtomic(`${options.outDir}/index.html`, renderIndex(manifest));
    return manifest;
  };

  try {
    for (const [i, path] of selected.entries()) {
      const file = baseName(path);
      const name = file.replace(/\.ipynb$/, "");
      const counter = `[${i + 1}/${selected.length}]`;
      let title = name;
      try {
        title = notebookTitle(JSON.parse(await Deno.readTextFile(path))) ?? name;
      } catch (error) {
        throw new NotebookError(path, `cannot read notebook: ${(error as Error).message}`);
      }
      log(`${counter} ${file}: ${title}`);
      const t0 = performance.now();
      // Execution runs through tools/execute_notebook.py, which keeps outputs the kernel publishes after a
      // cell's idle status (nbconvert --execute drops them); nbconvert then only exports the result.
      const steps = [
        [python, [
          EXECUTE_SCRIPT,
          path,
          `${work}/${name}.ipynb`,
          `--kernel=${KERNEL_NAME}`,
          `--timeout=${timeout}`,
          "--startup-timeout=300",
        ]],
        [jupyter, [
          "nbconvert",
          "--to",
          "html",
          `--HTMLExporter.mathjax_url=${scripts.mathjax}`,
          `--HTMLExporter.require_js_url=${scripts.requireJs}`,
          `--output-dir=${work}`,
          `--output=${name}`,
          `${work}/${name}.ipynb`,
        ]],
      ] as const;
      for (const [program, args] of steps) {
        const result = await runTool(program, [...args], dirName(path), env, (line) => log(`    ${line}`));
        if (result.code !== 0) {
          const seconds = (performance.now() - t0) / 1000;
          log(`${counter} ${file}: FAILED after ${formatSeconds(seconds)}`);
          throw new NotebookError(path, nbconvertErrorText(result.output));
        }
      }
      const html = await Deno.readTextFile(`${work}/${name}.html`);
      await writeFileAtomic(`${options.outDir}/${name}.html`, decoratePage(html, title));
      if (options.keepIpynb) await Deno.rename(`${work}/${name}.ipynb`, `${options.outDir}/${name}.ipynb`);
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      entries.set(name, {
        name,
        title,
        seconds,
        scale: options.scale,
        date: new Date().toISOString(),
        html: `${name}.html`,
      });
      log(`${counter} ${file}: ok in ${formatSeconds(seconds)}`);
    }
  } catch (error) {
    await writeIndex();
    throw error;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const manifest = await writeIndex();
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
      keepIpynb: cli.keepIpynb,
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
