/**
 * Tests of the course-site builder (tools/site.ts) and of the exported pages in headless Chromium
 * (driven by puppeteer-core, tests/site/page_check.ts).
 *
 * The last test builds the real course from notebooks/ at smoke scale once, or checks an already built
 * site when ADVEX_SITE_DIR names its folder, and runs every page check on that one build: desktop and
 * phone widths, navigation, search, progress lines.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { resolve } from "node:path";
import {
  nbconvertErrorText,
  notebookTitle,
  parseArgs,
  PROJECT_ROOT,
  type SiteManifest,
  UsageError,
  writeSiteAssets,
} from "../../tools/site.ts";
import { decoratePage, formatSeconds, renderIndex } from "../../tools/site_index.ts";
import {
  checkNavigation,
  checkPage,
  checkSite,
  fileUrl,
  launchBrowser,
  searchSite,
  VIEWPORTS,
} from "./page_check.ts";
import { processAlive, waitFor } from "../_helpers.ts";

const FIXTURES = `${PROJECT_ROOT}/tests/site/fixtures`;
const NOTEBOOKS = `${PROJECT_ROOT}/notebooks`;

/** Runs tools/site.ts in a separate process, as `deno task site` would. */
async function runSite(args: string[], inherit = false) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", `${PROJECT_ROOT}/tools/site.ts`, ...args],
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: inherit ? "inherit" : "piped",
    stderr: inherit ? "inherit" : "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: inherit ? "" : decoder.decode(output.stdout),
    stderr: inherit ? "" : decoder.decode(output.stderr),
  };
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

Deno.test("site: command line parsing", () => {
  const defaults = parseArgs([], "/somewhere");
  assertEquals(defaults.scale, "course");
  assertEquals(defaults.out, `${PROJECT_ROOT}/site`);
  assertEquals(defaults.notebooks, `${PROJECT_ROOT}/notebooks`);
  assertEquals(defaults.timeout, 3600);
  const given = parseArgs(
    [
      "--scale",
      "smoke",
      "--only=fgsm",
      "--out",
      "../x/./y",
      "--export-only",
      "--timeout=60",
      "--scale=paper",
    ],
    "/a/b",
  );
  assertEquals(given.scale, "paper");
  assertEquals(given.only, "fgsm");
  assertEquals(given.out, "/a/x/y");
  assertEquals(given.exportOnly, true);
  assertEquals(parseArgs(["--force"]).force, true);
  assertEquals(given.force, false);
  assertEquals(defaults.exportOnly, false);
  assertEquals(parseArgs(["--keep-ipynb"]).exportOnly, false, "--keep-ipynb is still accepted");
  assertEquals(given.timeout, 60);
  for (
    const bad of [["--scale", "huge"], ["--out"], ["--timeout", "-1"], ["--frobnicate"], ["--export-only=1"]]
  ) {
    let error: unknown;
    try {
      parseArgs(bad);
    } catch (e) {
      error = e;
    }
    assert(error instanceof UsageError, `expected a usage error for ${bad.join(" ")}`);
  }
});

Deno.test("site: chapter title is the first markdown heading", () => {
  const md = (source: string | string[]) => ({ cell_type: "markdown", source });
  assertEquals(
    notebookTitle({
      cells: [
        { cell_type: "code", source: "# not a heading" },
        md("Intro text\n"),
        md(["## FGSM on `MNIST` ##\n"]),
      ],
    }),
    "FGSM on MNIST",
  );
  assertEquals(notebookTitle({ cells: [md("# **Bold** [link](https://x.y) title")] }), "Bold link title");
  assertEquals(notebookTitle({ cells: [md("no heading here")] }), undefined);
});

Deno.test("site: index page lists chapters with time and scale, escaped", () => {
  const manifest: SiteManifest = {
    generated: "2026-01-02T03:04:05.000Z",
    notebooks: [
      {
        name: "01_a",
        title: "A <b>&</b> B",
        seconds: 3.25,
        scale: "smoke",
        date: "2026-01-02T03:04:05Z",
        html: "01_a.html",
      },
      {
        name: "02 b",
        title: "Second",
        seconds: 125,
        scale: "course",
        date: "2026-01-02T03:05:00Z",
        html: "02 b.html",
      },
    ],
  };
  const html = renderIndex(manifest);
  assertStringIncludes(html, `<a class="advex-chapter" href="01_a.html">A &lt;b&gt;&amp;&lt;/b&gt; B</a>`);
  assertStringIncludes(html, `<a class="advex-chapter" href="02%20b.html">Second</a>`);
  assertStringIncludes(html, "2 min 05 s");
  assertStringIncludes(html, "scale course");
  assertStringIncludes(html, "2026-01-02 03:04 UTC");
  assertEquals(formatSeconds(0.84), "0.8 s");
  assertEquals(formatSeconds(3725), "1 h 02 min");
});

Deno.test("site: nbconvert error text keeps the failing cell and the kernel error", () => {
  const stderr = [
    "[NbConvertApp] Converting notebook broken.ipynb to html",
    'Warning "deno jupyter" is unstable and might change in the future.',
    "Traceback (most recent call last):",
    '  File "/usr/bin/jupyter-nbconvert", line 33, in <module>',
    "nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:",
    "------------------",
    'throw new Error("boom");',
    "------------------",
    "",
    "\x1b[31mError: boom\x1b[0m",
  ].join("\n");
  const text = nbconvertErrorText(stderr);
  assert(text.startsWith("An error occurred while executing the following cell:"), text);
  assertStringIncludes(text, 'throw new Error("boom");');
  assertStringIncludes(text, "Error: boom");
  assert(!text.includes("\x1b"), "ANSI codes are removed");
  assertEquals(
    nbconvertErrorText(
      "Traceback (most recent call last):\n  File x\njupyter_client.kernelspec.NoSuchKernel: No such kernel named advex",
    ),
    "jupyter_client.kernelspec.NoSuchKernel: No such kernel named advex",
  );
});

Deno.test("site: page checker passes a good page and fails empty figures and error outputs", async () => {
  await using browser = await launchBrowser();
  const page = await browser.newPage();

  const good = await checkPage(page, fileUrl(`${FIXTURES}/good.html`), true);
  assertEquals(good.problems, []);
  assertEquals(good.figures, 1);
  assertEquals(good.marks, [3], "two marks and a label; the background rect does not count");

  const empty = await checkPage(page, fileUrl(`${FIXTURES}/empty_figure.html`), true);
  assertEquals(empty.figures, 2);
  assertEquals(empty.problems.length, 2, empty.problems.join("\n"));
  assertStringIncludes(empty.problems[0], "figure 1 of 2: svg draws no marks");
  assertStringIncludes(empty.problems[1], "figure 2 of 2: svg is 0 x 0 px");

  const error = await checkPage(page, fileUrl(`${FIXTURES}/error_output.html`), true);
  assertEquals(error.problems.length, 1, error.problems.join("\n"));
  assertStringIncludes(error.problems[0], "error output: TypeError: Cannot read properties of undefined");

  const noFigure = await checkPage(page, "data:text/html,<p>just text</p>", true);
  assertEquals(noFigure.problems, ["page has no .advex-figure"]);
  await page.close();
});

Deno.test("site: page checker reports console errors, raw TeX, overflow, clipping and repeated progress", async () => {
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  for (const viewport of VIEWPORTS) {
    const report = await checkPage(page, fileUrl(`${FIXTURES}/bad_layout.html`), false, viewport);
    const all = report.problems.join("\n");
    assertStringIncludes(all, "console error: fixture console error");
    assertStringIncludes(all, "text(s) with raw TeX");
    assertStringIncludes(all, "\\\\hat D_{det}");
    assertStringIncludes(all, `px wide in a ${viewport.width} px viewport`);
    assertStringIncludes(all, "wider than the");
    assertStringIncludes(all, "cut off their content");
    assertStringIncludes(all, "a cell shows 2 progress lines");
    assertEquals(report.progressLines, 2);
  }
  const good = await checkPage(page, fileUrl(`${FIXTURES}/good.html`), true, VIEWPORTS[1]);
  assertEquals(good.problems, [], "the good fixture fits a phone too");
  await page.close();
});

/** The site bundles Debian's MathJax into assets/ when it is installed (it comes with Jupyter). */
const HAVE_MATHJAX: boolean = await Deno.stat("/usr/share/javascript/mathjax/MathJax.js").then(
  () => true,
  () => false,
);

Deno.test({
  name: "site: page checker reports TeX that MathJax cannot typeset",
  ignore: !HAVE_MATHJAX,
  async fn() {
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    const report = await checkPage(page, fileUrl(`${FIXTURES}/bad_math.html`), false);
    const errors = report.problems.filter((p) => p.startsWith("MathJax error: "));
    assertEquals(
      errors,
      ["MathJax error: \\undefinedcommand", "MathJax error: x^{"],
      report.problems.join("\n"),
    );
    await page.close();
  },
});

Deno.test("site: builds the fixture notebook at smoke scale; pages pass the browser check", async () => {
  const out = await Deno.makeTempDir({ prefix: "advex-site-test-" });
  try {
    const t0 = performance.now();
    const run = await runSite(["--scale", "smoke", "--notebooks", FIXTURES, "--out", out]);
    assertEquals(run.code, 0, `site build failed:\n${run.stdout}\n${run.stderr}`);
    const buildSeconds = (performance.now() - t0) / 1000;
    assertStringIncludes(run.stdout, "[1/1] fixture.ipynb: ok in");
    // A first build at smoke has no time to go by: it says so rather than guess.
    assertStringIncludes(run.stdout, "site: 1 notebook(s) left, no estimate of their time at this scale");
    const names = await listDir(out);
    for (
      const name of ["assets", "fixture.html", "fixture.ipynb", "index.html", "search-index.js", "site.json"]
    ) {
      assert(names.includes(name), `${name} is written (the site holds ${names.join(", ")})`);
    }
    assert(!names.some((name) => name.startsWith(".build-")), "no temporary folder is left");
    for (const asset of ["site.css", "site.js", "minisearch.js"]) {
      assert((await Deno.stat(`${out}/assets/${asset}`)).isFile, `assets/${asset} is written`);
    }
    if (HAVE_MATHJAX) {
      const mathjax = await Deno.stat(`${out}/assets/mathjax/MathJax.js`);
      assert(mathjax.isFile, "MathJax is bundled so pages typeset offline");
      assertStringIncludes(await Deno.readTextFile(`${out}/fixture.html`), 'src="assets/mathjax/MathJax.js');
    }

    const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${out}/site.json`));
    assertEquals(manifest.notebooks.length, 1);
    const [entry] = manifest.notebooks;
    assertEquals(entry.name, "fixture");
    assertEquals(entry.title, "Fixture chapter: a tiny figure");
    assertEquals(entry.scale, "smoke");
    assertEquals(entry.html, "fixture.html");
    assertEquals(entry.notebook, "fixture.ipynb");
    assertEquals(entry.configs, []);
    assert(entry.seconds > 0 && entry.seconds <= buildSeconds + 1, `seconds ${entry.seconds}`);

    const page = await Deno.readTextFile(`${out}/fixture.html`);
    assertStringIncludes(page, "ADVEX_SCALE=smoke", "the scale reaches the kernel");
    assertStringIncludes(page, "cwd=fixtures", "cells run in the notebook's folder");
    assert(!page.includes("\x1b[") && !page.includes('class="ansi-'), "no terminal colour codes in the page");
    assertStringIncludes(page, "<title>Fixture chapter: a tiny figure · advex</title>");
    assertStringIncludes(page, '<a href="fixture.ipynb" download>Download notebook (.ipynb)</a>');
    assertStringIncludes(page, 'class="advex-sidebar"');
    const executed = JSON.parse(await Deno.readTextFile(`${out}/fixture.ipynb`));
    assert(executed.cells.some((cell: { outputs?: unknown[] }) => (cell.outputs ?? []).length > 0));

    const t1 = performance.now();
    await using browser = await launchBrowser();
    const report = await checkSite(out, browser);
    console.log(
      `fixture site: build ${buildSeconds.toFixed(1)} s, browser check ${
        ((performance.now() - t1) / 1000).toFixed(1)
      } s`,
    );
    assertEquals(report.problems, []);
    const fixturePages = report.pages.filter((p) => p.url.endsWith("/fixture.html"));
    assertEquals(fixturePages.map((p) => p.figures), [1, 1], "one figure, at both widths");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("site: a second build keeps up-to-date pages; a changed notebook or --force runs it again", async () => {
  const notebooks = await Deno.makeTempDir({ prefix: "advex-site-resume-nb-" });
  const out = await Deno.makeTempDir({ prefix: "advex-site-resume-" });
  try {
    await Deno.copyFile(`${FIXTURES}/fixture.ipynb`, `${notebooks}/fixture.ipynb`);
    const build = async (...extra: string[]) => {
      const run = await runSite(["--scale", "smoke", "--notebooks", notebooks, "--out", out, ...extra]);
      assertEquals(run.code, 0, `site build failed:\n${run.stdout}\n${run.stderr}`);
      const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${out}/site.json`));
      return { stdout: run.stdout, entry: manifest.notebooks[0] };
    };
    const first = await build();
    assertStringIncludes(first.stdout, "[1/1] fixture.ipynb: ok in");
    assertEquals(first.entry.inputs?.length, 64, "the page records the fingerprint of its inputs");
    const executed = await Deno.readTextFile(`${out}/fixture.ipynb`);

    const second = await build();
    assertStringIncludes(second.stdout, "site: 1 of them up to date");
    assertStringIncludes(second.stdout, "[1/1] fixture.ipynb: up to date (executed ");
    assert(!second.stdout.includes("fixture.ipynb: ok in"), "the up-to-date notebook is not executed");
    assertEquals(second.entry.date, first.entry.date, "the kept page's entry is the first build's");
    assertEquals(second.entry.inputs, first.entry.inputs);
    assertEquals(await Deno.readTextFile(`${out}/fixture.ipynb`), executed, "the executed notebook is kept");
    assertStringIncludes(await Deno.readTextFile(`${out}/fixture.html`), 'class="advex-sidebar"');

    const forced = await build("--force");
    assertStringIncludes(forced.stdout, "[1/1] fixture.ipynb: ok in");
    assertEquals(forced.entry.inputs, first.entry.inputs, "same inputs, same fingerprint");

    const nb = JSON.parse(await Deno.readTextFile(`${notebooks}/fixture.ipynb`));
    nb.cells.push({ cell_type: "markdown", metadata: {}, source: ["A new paragraph."] });
    await Deno.writeTextFile(`${notebooks}/fixture.ipynb`, JSON.stringify(nb));
    const edited = await build();
    assertStringIncludes(edited.stdout, "[1/1] fixture.ipynb: ok in", "an edited notebook runs again");
    assert(edited.entry.inputs !== first.entry.inputs, "an edited notebook has another fingerprint");
    assertStringIncludes(await Deno.readTextFile(`${out}/fixture.html`), "A new paragraph.");
  } finally {
    await Deno.remove(notebooks, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("site: a build killed with SIGKILL keeps the pages it finished; the next one resumes after them", async () => {
  const notebooks = await Deno.makeTempDir({ prefix: "advex-site-killed-nb-" });
  const out = await Deno.makeTempDir({ prefix: "advex-site-killed-" });
  try {
    await Deno.copyFile(`${FIXTURES}/fixture.ipynb`, `${notebooks}/a.ipynb`);
    const marker = `${notebooks}/b-started`;
    const sleeper = JSON.parse(await Deno.readTextFile(`${FIXTURES}/fixture.ipynb`));
    sleeper.cells.push({
      cell_type: "code",
      metadata: {},
      execution_count: null,
      outputs: [],
      source: [
        `await Deno.writeTextFile(${JSON.stringify(marker)}, String(Deno.pid));\n`,
        "await new Promise((r) => setTimeout(r, 120_000));",
      ],
    });
    await Deno.writeTextFile(`${notebooks}/b.ipynb`, JSON.stringify(sleeper));
    const site = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--cached-only",
        `${PROJECT_ROOT}/tools/site.ts`,
        ...["--scale", "smoke", "--notebooks", notebooks, "--out", out],
      ],
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let kernel = 0;
    try {
      await waitFor("the second notebook to start", async () => {
        kernel = Number(await Deno.readTextFile(marker).catch(() => "0"));
        return kernel > 0;
      }, 120);
    } finally {
      site.kill("SIGKILL");
      await site.status;
    }
    const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${out}/site.json`));
    assertEquals(manifest.notebooks.map((e) => e.name), ["a"], "the finished page is in the manifest");
    // The kernel of the killed build's notebook goes too (tools/execute_notebook.py).
    await waitFor(`the kernel ${kernel} of the killed build to exit`, () => !processAlive(kernel), 20);

    await Deno.copyFile(`${FIXTURES}/fixture.ipynb`, `${notebooks}/b.ipynb`);
    const run = await runSite(["--scale", "smoke", "--notebooks", notebooks, "--out", out]);
    assertEquals(run.code, 0, `site build failed:\n${run.stdout}\n${run.stderr}`);
    assertStringIncludes(run.stdout, "[1/2] a.ipynb: up to date (executed ");
    assertStringIncludes(run.stdout, "[2/2] b.ipynb: ok in");
  } finally {
    await Deno.remove(notebooks, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("site: a failing notebook stops the build with its name and the error", async () => {
  const out = await Deno.makeTempDir({ prefix: "advex-site-test-" });
  try {
    const run = await runSite(["--scale", "smoke", "--notebooks", `${FIXTURES}/broken`, "--out", out]);
    assertEquals(run.code, 1, `expected exit code 1:\n${run.stdout}\n${run.stderr}`);
    assertStringIncludes(run.stdout, "broken.ipynb: FAILED after");
    assertStringIncludes(run.stderr, "site: FAILED: ");
    assertStringIncludes(run.stderr, "broken/broken.ipynb");
    assertStringIncludes(run.stderr, 'throw new Error("fixture failure: boom");');
    assertStringIncludes(run.stderr, "Error: fixture failure: boom");
    assertEquals(
      await listDir(out),
      ["assets", "index.html", "search-index.js", "site.json"],
      "no page and no temporary files are left",
    );
    const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${out}/site.json`));
    assertEquals(manifest.notebooks, []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const siteDirEnv = Deno.env.get("ADVEX_SITE_DIR");
// A relative folder is taken from the current directory (the browser needs an absolute file URL).
const siteDir = siteDirEnv === undefined ? undefined : resolve(siteDirEnv);
const haveNotebooks = siteDir !== undefined || await isDirectory(NOTEBOOKS);

Deno.test({
  name: siteDir
    ? `site: course site in ADVEX_SITE_DIR=${siteDirEnv} passes the browser check`
    : haveNotebooks
    ? "site: course notebooks build at smoke scale and pass the browser check"
    : "site: course notebooks build at smoke scale and pass the browser check (no notebooks/ folder yet)",
  ignore: !haveNotebooks,
  async fn() {
    let dir = siteDir;
    let temp: string | undefined;
    try {
      if (dir === undefined) {
        const notebooks = (await listDir(NOTEBOOKS)).filter((name) => name.endsWith(".ipynb"));
        assert(notebooks.length > 0, "notebooks/ holds no .ipynb file");
        temp = dir = await Deno.makeTempDir({ prefix: "advex-site-smoke-" });
        const run = await runSite(["--scale", "smoke", "--out", dir], true);
        assertEquals(run.code, 0, "building the course site at smoke scale failed (see the output above)");
        const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${dir}/site.json`));
        assertEquals(manifest.notebooks.map((entry) => `${entry.name}.ipynb`), notebooks);
      }
      await using browser = await launchBrowser();
      const t0 = performance.now();
      const report = await checkSite(dir, browser);
      assertEquals(report.problems, []);
      const manifest: SiteManifest = JSON.parse(await Deno.readTextFile(`${dir}/site.json`));
      const chapters = manifest.notebooks.map((entry) => entry.html);
      // Every figure a notebook shows must reach its page: at least one per show(...) call in its code cells
      // (a call inside a loop shows several).
      for (const page of report.pages) {
        const name = decodeURI(page.url.slice(page.url.lastIndexOf("/") + 1)).replace(/\.html$/, "");
        if (!chapters.includes(`${name}.html`)) continue;
        const notebook = JSON.parse(await Deno.readTextFile(`${NOTEBOOKS}/${name}.ipynb`));
        const shows = notebook.cells
          .filter((cell: { cell_type: string }) => cell.cell_type === "code")
          .map((cell: { source: string[] | string }) => [cell.source].flat().join(""))
          .join("\n").match(/\bshow\(/g)?.length ?? 0;
        assert(
          page.figures >= shows,
          `${name}: ${page.figures} figures on the page, ${shows} show() calls in the notebook`,
        );
        assert(page.progressLines <= 1, `${name}: a cell shows ${page.progressLines} progress lines`);
      }
      // Every chapter is reachable by next/previous and the sidebar, on a desktop and on a phone.
      for (const viewport of VIEWPORTS) assertEquals(await checkNavigation(dir, browser, viewport), []);
      // The search finds BPDA in chapter 4 (gradient masking), from any page.
      const masking = manifest.notebooks.find((entry) => entry.name.startsWith("04"));
      if (masking) {
        for (const from of ["index.html", chapters[0]]) {
          const hits = await searchSite(browser, fileUrl(`${dir}/${from}`), "BPDA");
          assert(
            hits.some((href) => href.startsWith(`${masking.html}#`)),
            `searching BPDA from ${from} finds ${hits.join(", ") || "nothing"}, nothing in ${masking.html}`,
          );
        }
      }
      console.log(`course site: browser checks ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      if (temp) await Deno.remove(temp, { recursive: true });
    }
  },
});

Deno.test("site: navigation and search checks find a broken pager, a missing sidebar link and a missing index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "advex-site-nav-" });
  try {
    const chapter = (n: number) => ({
      name: `0${n}-c`,
      title: `${n} · Chapter ${n}`,
      seconds: 1,
      scale: "smoke",
      date: "2026-01-01T00:00:00Z",
      html: `0${n}-c.html`,
    });
    const manifest: SiteManifest = { generated: "2026-01-01T00:00:00Z", notebooks: [1, 2, 3].map(chapter) };
    const nav = { chapters: manifest.notebooks };
    const exported = (n: number) =>
      `<!DOCTYPE html><html><head><title>x</title></head><body><h1 id="c${n}">${n} · Chapter ${n}</h1>` +
      `<p>Text of chapter ${n}.</p></body></html>`;
    await writeSiteAssets(dir);
    await Deno.writeTextFile(`${dir}/site.json`, JSON.stringify(manifest));
    await Deno.writeTextFile(`${dir}/index.html`, renderIndex(manifest));
    for (const [i, entry] of manifest.notebooks.entries()) {
      await Deno.writeTextFile(`${dir}/${entry.html}`, decoratePage(exported(i + 1), entry, nav));
    }
    await using browser = await launchBrowser();
    for (const viewport of VIEWPORTS) assertEquals(await checkNavigation(dir, browser, viewport), []);
    // Chapter 2 loses its "next" link and its sidebar link to chapter 1.
    const broken = (await Deno.readTextFile(`${dir}/02-c.html`))
      .replace(/<a rel="next"[^>]*>[\s\S]*?<\/a>/, "")
      .replace(/<a href="01-c.html">1 · Chapter 1<\/a>/, "1 · Chapter 1");
    await Deno.writeTextFile(`${dir}/02-c.html`, broken);
    for (const viewport of VIEWPORTS) {
      const problems = (await checkNavigation(dir, browser, viewport)).join("\n");
      assertStringIncludes(problems, `(${viewport.name}) next links visit 01-c.html, 02-c.html, not`);
      assertStringIncludes(problems, "02-c.html: the sidebar does not link 01-c.html");
    }
    // No search-index.js was written: the search box says so and offers no result.
    assertEquals(await searchSite(browser, fileUrl(`${dir}/index.html`), "chapter"), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
