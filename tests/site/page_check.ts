/**
 * Checks pages of the exported course site in a real browser (Debian's Chromium driven by puppeteer-core,
 * which downloads nothing): every figure must be an inline SVG with a size and with visible marks, no cell
 * output may show an error, the console must stay free of errors and failed loads, MathJax must typeset
 * without errors, no raw TeX (`$`, `\hat`, `_{`) may be left in the text, nothing may stick out of the
 * viewport or be cut off, and no cell may show more than one progress line. Site-wide checks: the index
 * links every chapter, every chapter is reachable through next/previous and the sidebar (on a phone too,
 * through the menu button), and the search finds what the chapters say.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** A viewport the pages are checked at. */
export interface Viewport {
  /** Name used in problem messages, e.g. "desktop". */
  name: string;
  width: number;
  height: number;
}

/** A desktop screen and a phone held upright. */
export const VIEWPORTS: readonly Viewport[] = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

/** Starts headless Chromium with a fresh profile that is removed by `close()`; pages cannot reach the network. */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "advex-chromium-" });
  const executablePath = Deno.env.get("ADVEX_CHROMIUM") ?? "/usr/bin/chromium";
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        `--user-data-dir=${profile}`,
      ],
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw new Error(`cannot start ${executablePath}: ${(error as Error).message}`);
  }
  const close = browser.close.bind(browser);
  const closeAndClean = async () => {
    try {
      await close();
    } finally {
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  };
  return Object.assign(browser, { close: closeAndClean, [Symbol.asyncDispose]: closeAndClean });
}

/** What the in-page inspection found on one page. */
export interface PageReport {
  /** Address of the page. */
  url: string;
  /** `document.title`. */
  title: string;
  /** Number of `.advex-figure` elements. */
  figures: number;
  /** Number of drawn marks per figure, in document order. */
  marks: number[];
  /** Most progress lines shown by one cell. */
  progressLines: number;
  /** Everything wrong with the page; empty for a good page. */
  problems: string[];
  /** The `href` attributes of all links, as written. */
  links: string[];
}

/**
 * Browser-side inspection, evaluated in the page. A mark is a `path`, `rect`, `line`, `polyline`,
 * `polygon`, `circle`, `ellipse`, `image`, `use` or `text` element with a non-empty bounding box;
 * a `rect` covering the whole SVG (a background) does not count. An output area shows an error when
 * nbconvert marked it as one (`output_error`), or when a line starts with `Traceback`, `Uncaught`,
 * `Error:` or `SomethingError:`. Raw TeX is looked for in text outside code, inputs and MathJax's own
 * elements. An element sticks out when its box passes the viewport's edge and no ancestor scrolls or clips
 * it; an element cuts content off when it hides an overflow (`overflow: hidden`) that is wider than it.
 */
export const INSPECT_PAGE_SCRIPT = `(() => {
  const problems = [];
  const marks = [];
  const MARKS = "path, rect, line, polyline, polygon, circle, ellipse, image, use, text";
  const figures = Array.from(document.querySelectorAll(".advex-figure"));
  figures.forEach((figure, i) => {
    const label = "figure " + (i + 1) + " of " + figures.length;
    const svgs = Array.from(figure.querySelectorAll("svg")).filter((svg) => !svg.parentElement.closest("svg"));
    if (svgs.length === 0) {
      problems.push(label + ": no inline <svg>");
      marks.push(0);
      return;
    }
    let drawn = 0;
    svgs.forEach((svg, j) => {
      const name = label + (svgs.length > 1 ? ", svg " + (j + 1) : "");
      const box = svg.getBoundingClientRect();
      if (!(box.width > 0 && box.height > 0)) {
        problems.push(name + ": svg is " + box.width + " x " + box.height + " px");
        return;
      }
      const count = Array.from(svg.querySelectorAll(MARKS)).filter((el) => {
        const r = el.getBoundingClientRect();
        if (!(r.width > 0 || r.height > 0)) return false;
        const background = el.tagName.toLowerCase() === "rect" && Math.abs(r.left - box.left) < 1 &&
          Math.abs(r.top - box.top) < 1 && Math.abs(r.width - box.width) < 1 && Math.abs(r.height - box.height) < 1;
        return !background;
      }).length;
      if (count === 0) problems.push(name + ": svg draws no marks");
      drawn += count;
    });
    marks.push(drawn);
  });
  const ERROR_LINE = /^\\s*(Traceback \\(most recent call last\\)|Uncaught\\b|([A-Z][A-Za-z0-9_.]*)?Error:)/m;
  const outputs = document.querySelectorAll(
    ".jp-OutputArea-output, .output_subarea, .output_error, [data-mime-type='application/vnd.jupyter.stderr']",
  );
  const seen = new Set();
  for (const output of outputs) {
    if (seen.has(output)) continue;
    seen.add(output);
    const text = output.textContent || "";
    if (output.classList.contains("output_error") || ERROR_LINE.test(text)) {
      problems.push("error output: " + text.trim().slice(0, 400));
    }
  }

  // MathJax: typesetting errors.
  // TeX that does not parse shows as .mjx-noError (the noErrors extension), an undefined command as red text.
  const MATH_ERRORS = ".MathJax_Error, .mjx-merror, .mjx-noError, .MJX_Assistive_MathML mtext[mathcolor='red']";
  for (const el of document.querySelectorAll(MATH_ERRORS)) {
    problems.push("MathJax error: " + (el.textContent || "").trim().slice(0, 200));
  }

  // Raw TeX left in the rendered text.
  const SKIP = "script, style, code, pre, textarea, .jp-InputArea, .MathJax, .MathJax_CHTML, .MathJax_Preview, " +
    ".MJX_Assistive_MathML, .mjx-chtml, #MathJax_Message, svg";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const rawTex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue || "";
    if (!/\\$|\\\\hat|_\\{/.test(text)) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest(SKIP)) continue;
    const style = getComputedStyle(parent);
    if (style.display === "none" || style.visibility === "hidden") continue;
    rawTex.push(text.trim().slice(0, 120));
  }
  if (rawTex.length) problems.push(rawTex.length + " text(s) with raw TeX, e.g. " + JSON.stringify(rawTex.slice(0, 3)));
  // Markdown that was escaped where it should have been rendered: a backtick or a double asterisk.
  const rawMd = [];
  const mdWalker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = mdWalker.nextNode(); node; node = mdWalker.nextNode()) {
    const text = node.nodeValue || "";
    if (!/\\x60|\\*\\*/.test(text)) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest(SKIP)) continue;
    rawMd.push(text.trim().slice(0, 120));
  }
  if (rawMd.length) problems.push(rawMd.length + " text(s) with raw Markdown, e.g. " + JSON.stringify(rawMd.slice(0, 3)));

  // Width: nothing sticks out of the viewport, nothing is cut off.
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push("page is " + document.documentElement.scrollWidth + " px wide in a " + vw + " px viewport");
  }
  const describe = (el) => {
    const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    return el.tagName.toLowerCase() + cls + " \\"" + (el.textContent || "").trim().slice(0, 60) + "\\"";
  };
  const scrolls = (style) => /(auto|scroll|hidden|clip)/.test(style.overflowX);
  const sticking = [];
  const cut = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("#MathJax_Message, .MJX_Assistive_MathML, script, style, head")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    if (/(hidden|clip)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 2 &&
        el.closest(".jp-OutputArea-output, .jp-RenderedMarkdown, .jp-InputArea, .advex-main") &&
        !el.closest(".jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser")) {
      cut.push(describe(el) + " cuts off " + (el.scrollWidth - el.clientWidth) + " px");
    }
    if (r.right <= vw + 1 && r.left >= -1) continue;
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      if (scrolls(getComputedStyle(a))) { clipped = true; break; }
    }
    if (!clipped) sticking.push(describe(el) + " spans " + Math.round(r.left) + ".." + Math.round(r.right) + " px");
  }
  if (sticking.length) problems.push(sticking.length + " element(s) wider than the " + vw + " px viewport, e.g. " + sticking.slice(0, 3).join("; "));
  if (cut.length) problems.push(cut.length + " element(s) cut off their content, e.g. " + cut.slice(0, 3).join("; "));

  // Progress: at most one line per cell.
  let progressLines = 0;
  for (const cell of document.querySelectorAll(".jp-Cell, .cell")) {
    const n = cell.querySelectorAll(".advex-progress, .advex-progress-summary").length;
    progressLines = Math.max(progressLines, n);
  }
  if (progressLines > 1) problems.push("a cell shows " + progressLines + " progress lines");
  return {
    url: location.href,
    title: document.title,
    figures: figures.length,
    marks,
    progressLines,
    problems,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href")),
  };
})()`;

/**
 * Waits until MathJax (where the page loads it) has typeset the page; returns false when it has not
 * finished within `timeoutMs`.
 */
export async function mathJaxDone(page: Page, timeoutMs = 30_000): Promise<boolean> {
  const outcome = await page.evaluate(`new Promise((resolve) => {
    const mj = window.MathJax;
    if (!mj || !mj.Hub) return resolve("none");
    const limit = setTimeout(() => resolve("timeout"), ${timeoutMs});
    const wait = () => mj.isReady ? mj.Hub.Queue(() => { clearTimeout(limit); resolve("done"); }) : setTimeout(wait, 50);
    wait();
  })`);
  return outcome !== "timeout";
}

/** Inspects the page open in `page` (see {@link INSPECT_PAGE_SCRIPT}). */
export function inspectPage(page: Page): Promise<PageReport> {
  return page.evaluate(INSPECT_PAGE_SCRIPT) as Promise<PageReport>;
}

/** Records console errors, uncaught exceptions and failed requests of `page` from now on. */
export function watchConsole(page: Page): { take(): string[] } {
  let seen: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") seen.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => seen.push(`uncaught: ${(error as Error).message ?? error}`));
  page.on(
    "requestfailed",
    (request) => seen.push(`failed to load ${request.url()}: ${request.failure()?.errorText ?? "?"}`),
  );
  return {
    take() {
      const out = seen;
      seen = [];
      return out;
    },
  };
}

const watchers = new WeakMap<Page, { take(): string[] }>();

/**
 * Loads `url` in `page` at `viewport`, waits for MathJax, and inspects it; console errors and failed loads
 * are problems; with `requireFigure`, a page without figures is a problem.
 */
export async function checkPage(
  page: Page,
  url: string,
  requireFigure: boolean,
  viewport: Viewport = VIEWPORTS[0],
): Promise<PageReport> {
  let watcher = watchers.get(page);
  if (!watcher) watchers.set(page, watcher = watchConsole(page));
  watcher.take();
  await page.setViewport({ width: viewport.width, height: viewport.height });
  await page.goto(url, { waitUntil: "load" });
  const typeset = await mathJaxDone(page);
  const report = await inspectPage(page);
  if (!typeset) report.problems.unshift("MathJax did not finish typesetting");
  report.problems.unshift(...watcher.take());
  if (requireFigure && report.figures === 0) report.problems.unshift("page has no .advex-figure");
  return report;
}

/** Result of {@link checkSite}. */
export interface SiteReport {
  /** One report per chapter page, then the index, for each viewport in turn. */
  pages: PageReport[];
  /** All problems, each prefixed with its page's file name and the viewport. */
  problems: string[];
}

interface Manifest {
  notebooks: { html: string; title: string }[];
}

async function readManifest(dir: string, problems: string[]): Promise<Manifest> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/site.json`));
  } catch (error) {
    problems.push(`site.json: cannot read: ${(error as Error).message}`);
    return { notebooks: [] };
  }
}

/**
 * Opens every `*.html` page in `dir` and `index.html` in headless Chromium at each of `viewports`. Each
 * chapter page must have at least one good figure and pass {@link checkPage}; the index must link every
 * chapter page and every chapter listed in `site.json`. Pages not listed in `site.json` (extra pages) are
 * checked too, without requiring figures.
 */
export async function checkSite(
  dir: string,
  browser: Browser,
  viewports: readonly Viewport[] = VIEWPORTS,
): Promise<SiteReport> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".html") && entry.name !== "index.html") files.push(entry.name);
  }
  files.sort();
  const problems: string[] = [];
  const listed = (await readManifest(dir, problems)).notebooks.map((entry) => entry.html);
  for (const html of listed) {
    if (!files.includes(html)) problems.push(`site.json: lists ${html}, which is not in ${dir}`);
  }
  if (files.length === 0) problems.push(`${dir}: no chapter pages`);

  const pages: PageReport[] = [];
  const page = await browser.newPage();
  for (const viewport of viewports) {
    for (const file of [...files, "index.html"]) {
      const isIndex = file === "index.html";
      const report = await checkPage(page, fileUrl(`${dir}/${file}`), listed.includes(file), viewport);
      if (isIndex) {
        const linked = new Set(report.links.map((href) => decodeURI(href.split("#")[0])));
        for (const chapter of new Set([...files, ...listed])) {
          if (!linked.has(chapter)) report.problems.push(`does not link ${chapter}`);
        }
      }
      pages.push(report);
      problems.push(...report.problems.map((problem) => `${file} (${viewport.name}): ${problem}`));
    }
  }
  await page.close();
  return { pages, problems };
}

function fileOf(url: string): string {
  return decodeURI(new URL(url).pathname.split("/").pop() ?? "");
}

async function clickAndWait(page: Page, selector: string): Promise<void> {
  const link = await page.$(selector);
  if (!link) throw new Error(`no ${selector} on ${page.url()}`);
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), link.click()]);
}

/**
 * Walks the site's navigation the way a reader does, at `viewport`: from the index to the first chapter,
 * then through every "next" link to the end and every "previous" link back, then through the sidebar to
 * each chapter (opening the menu first where the sidebar is collapsed). Returns the problems found.
 */
export async function checkNavigation(dir: string, browser: Browser, viewport: Viewport): Promise<string[]> {
  const problems: string[] = [];
  const chapters = (await readManifest(dir, problems)).notebooks.map((entry) => entry.html);
  if (chapters.length === 0) return [...problems, "no chapters to navigate"];
  const page = await browser.newPage();
  const at = `(${viewport.name})`;
  try {
    await page.setViewport({ width: viewport.width, height: viewport.height });
    await page.goto(fileUrl(`${dir}/index.html`), { waitUntil: "load" });
    await clickAndWait(page, `.advex-chapters a[href="${encodeURI(chapters[0])}"]`);
    // Forward through the chapters (the pages after the last chapter, such as a playground, are not
    // chapters and are checked elsewhere).
    const forward = [fileOf(page.url())];
    const nextChapter = () =>
      page.$eval('.advex-pager a[rel="next"]', (a) => a.getAttribute("href") ?? "").catch(() => "");
    for (let next = await nextChapter(); chapters.includes(decodeURI(next)) && forward.length < 100;) {
      await clickAndWait(page, '.advex-pager a[rel="next"]');
      forward.push(fileOf(page.url()));
      next = await nextChapter();
    }
    if (JSON.stringify(forward) !== JSON.stringify(chapters)) {
      problems.push(`${at} next links visit ${forward.join(", ")}, not ${chapters.join(", ")}`);
    }
    const backward = [fileOf(page.url())];
    while (fileOf(page.url()) !== chapters[0] && backward.length < 100) {
      await clickAndWait(page, '.advex-pager a[rel="prev"]');
      backward.push(fileOf(page.url()));
    }
    if (JSON.stringify([...backward].reverse()) !== JSON.stringify(forward)) {
      problems.push(
        `${at} previous links visit ${backward.join(", ")}, the reverse of ${forward.join(", ")}`,
      );
    }
    for (const target of [...chapters].reverse()) {
      const selector = `.advex-sidebar a[href="${encodeURI(target)}"]`;
      const link = await page.$(selector);
      if (!link) {
        problems.push(`${at} ${fileOf(page.url())}: the sidebar does not link ${target}`);
        continue;
      }
      if (!(await link.isVisible())) {
        const menu = await page.$(".advex-menu");
        if (menu && await menu.isVisible()) await menu.click();
      }
      if (!(await link.isVisible())) {
        problems.push(`${at} ${fileOf(page.url())}: the sidebar link to ${target} cannot be reached`);
        continue;
      }
      await clickAndWait(page, selector);
      if (fileOf(page.url()) !== target) {
        problems.push(`${at} sidebar link to ${target} opened ${page.url()}`);
      }
    }
  } catch (error) {
    problems.push(`${at} navigation failed at ${page.url()}: ${(error as Error).message}`);
  } finally {
    await page.close();
  }
  return problems;
}

/** Types `query` into the search box of the page at `url`; returns the links of the results shown. */
export async function searchSite(browser: Browser, url: string, query: string): Promise<string[]> {
  const page = await browser.newPage();
  try {
    await page.goto(url, { waitUntil: "load" });
    await page.type("#advex-search-input", query);
    await page.waitForSelector("#advex-search-results:not([hidden])", { timeout: 10_000 });
    return await page.$$eval(
      "#advex-search-results a",
      (links) => links.map((a) => a.getAttribute("href") ?? ""),
    );
  } finally {
    await page.close();
  }
}

/** Turns an absolute path into a `file://` URL. */
export function fileUrl(path: string): string {
  return new URL(`file://${path.split("/").map(encodeURIComponent).join("/")}`).href;
}
