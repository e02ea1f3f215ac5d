/**
 * Checks pages of the exported course site in a real browser: every figure must be an inline SVG
 * with a size and with visible marks, no cell output may show an error, and the index must link
 * every chapter.
 *
 * @module
 */

import { Chromium, type Page } from "./chromium.ts";

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
 * `Error:` or `SomethingError:`.
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
  return {
    url: location.href,
    title: document.title,
    figures: figures.length,
    marks,
    problems,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href")),
  };
})()`;

/** Inspects the page open in `page` (see {@link INSPECT_PAGE_SCRIPT}). */
export function inspectPage(page: Page): Promise<PageReport> {
  return page.evaluate<PageReport>(INSPECT_PAGE_SCRIPT);
}

/** Loads `url` in `page` and inspects it; with `requireFigure`, a page without figures is a problem. */
export async function checkPage(page: Page, url: string, requireFigure: boolean): Promise<PageReport> {
  await page.goto(url);
  const report = await inspectPage(page);
  if (requireFigure && report.figures === 0) report.problems.unshift("page has no .advex-figure");
  return report;
}

/** Result of {@link checkSite}. */
export interface SiteReport {
  /** One report per chapter page, then the index. */
  pages: PageReport[];
  /** All problems, each prefixed with its page's file name. */
  problems: string[];
}

/**
 * Opens every `*.html` page in `dir` and `index.html` in headless Chromium. Each chapter page must
 * have at least one good figure and no error output; the index must link every chapter page and
 * every chapter listed in `site.json`.
 */
export async function checkSite(dir: string): Promise<SiteReport> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".html") && entry.name !== "index.html") files.push(entry.name);
  }
  files.sort();
  const problems: string[] = [];
  let listed: string[] = [];
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/site.json`));
    listed = manifest.notebooks.map((entry: { html: string }) => entry.html);
  } catch (error) {
    problems.push(`site.json: cannot read: ${(error as Error).message}`);
  }
  for (const html of listed) {
    if (!files.includes(html)) problems.push(`site.json: lists ${html}, which is not in ${dir}`);
  }
  if (files.length === 0) problems.push(`${dir}: no chapter pages`);

  const pages: PageReport[] = [];
  await using browser = await Chromium.launch();
  const page = await browser.newPage();
  for (const file of [...files, "index.html"]) {
    const isIndex = file === "index.html";
    const report = await checkPage(page, fileUrl(`${dir}/${file}`), !isIndex);
    if (isIndex) {
      const linked = new Set(report.links.map((href) => decodeURI(href.split("#")[0])));
      for (const chapter of new Set([...files, ...listed])) {
        if (!linked.has(chapter)) report.problems.push(`does not link ${chapter}`);
      }
    }
    pages.push(report);
    problems.push(...report.problems.map((problem) => `${file}: ${problem}`));
  }
  await page.close();
  return { pages, problems };
}

/** Turns an absolute path into a `file://` URL. */
export function fileUrl(path: string): string {
  return new URL(`file://${path.split("/").map(encodeURIComponent).join("/")}`).href;
}
