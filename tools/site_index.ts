/**
 * HTML of the course site around the exported notebooks: the index page, and on every page a header with
 * the search box, a sidebar of chapters and their sections (it collapses behind a button at a phone's
 * width), the chapter's in-page contents and downloads (the executed notebook and its YAML config), and
 * links to the previous and next chapter. Everything is static and works from `file://`.
 *
 * Extra pages (such as a playground) join the navigation as {@link NavPage}s: they are listed in the
 * sidebar and on the index after the chapters, and {@link renderShell} gives them the same frame.
 *
 * @module
 */

import { plainTex } from "./site_search.ts";

/** A heading of a chapter page, as linked from the navigation. */
export interface SectionLink {
  /** 1 (the chapter title), 2 or 3. */
  level: number;
  /** The heading's id in the page, as nbconvert wrote it. */
  id: string;
  /** The heading text (TeX as written). */
  title: string;
}

/** One executed notebook, as recorded in `site.json`. */
export interface ChapterEntry {
  /** Notebook file name without the `.ipynb` extension, e.g. `01_fgsm`. */
  name: string;
  /** Title taken from the notebook's first markdown heading. */
  title: string;
  /** Wall-clock seconds the headless execution and export took. */
  seconds: number;
  /** Value of `ADVEX_SCALE` the notebook ran with. */
  scale: string;
  /** ISO 8601 time at which the page was written. */
  date: string;
  /** Page file name inside the site folder, e.g. `01_fgsm.html`. */
  html: string;
  /** The executed notebook inside the site folder, e.g. `01_fgsm.ipynb`. */
  notebook?: string;
  /** The experiment configs the notebook reads, inside the site folder, e.g. `configs/01_fgsm.yaml`. */
  configs?: string[];
  /** The page's headings (levels 1-3) in order. */
  sections?: SectionLink[];
  /**
   * The fingerprint of what the page was built from (tools/site_inputs.ts): a later build keeps the page
   * while it is the same.
   */
  inputs?: string;
}

/** Contents of `site.json`. */
export interface SiteManifest {
  /** ISO 8601 time of the last build that wrote the manifest. */
  generated: string;
  /** Chapters in course order. */
  notebooks: ChapterEntry[];
}

/** A page of the site that is not a chapter (e.g. a playground): listed after the chapters. */
export interface NavPage {
  /** Title shown in the navigation. */
  title: string;
  /** Page file name inside the site folder. */
  html: string;
  /** One line shown under the title on the index. */
  description?: string;
}

/** What every page's navigation shows. */
export interface SiteNav {
  /** Chapters in course order. */
  chapters: readonly ChapterEntry[];
  /** Other pages, after the chapters. */
  extras?: readonly NavPage[];
}

/** Stylesheet written to `assets/site.css`. */
export const SITE_CSS_PATH = "assets/site.css";
/** Script written to `assets/site.js`. */
export const SITE_JS_PATH = "assets/site.js";
/** MiniSearch's browser build, written to `assets/minisearch.js`. */
export const MINISEARCH_PATH = "assets/minisearch.js";
/** The serialised search index, written to `search-index.js`. */
export const SEARCH_INDEX_PATH = "search-index.js";

/** Escapes text for use in HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** Formats a duration for people: `0.8 s`, `42.0 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
  const minutes = Math.round(total / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** Formats an ISO time as `YYYY-MM-DD HH:MM UTC`. */
function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function href(file: string, id?: string): string {
  return escapeHtml(encodeURI(file) + (id === undefined ? "" : `#${id}`));
}

/** Text of a navigation label: TeX made readable, HTML escaped. */
function label(text: string): string {
  return escapeHtml(plainTex(text));
}

/** The site's stylesheet: layout of the frame, and wrapping rules for nbconvert's cells. */
export const SITE_CSS = `
:root { --advex-header: 3rem; --advex-sidebar: 17rem; --advex-toc: 15rem; --advex-line: #d0d7de;
  --advex-link: #0969da; --advex-muted: #57606a; --advex-font: system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", sans-serif; }
html { scroll-padding-top: calc(var(--advex-header) + .5rem); }
body.advex-page { margin: 0; padding: 0; overflow: visible; }
.advex-header { position: sticky; top: 0; z-index: 30; box-sizing: border-box; height: var(--advex-header);
  display: flex; align-items: center; gap: .75rem; padding: 0 1rem; background: #fff;
  border-bottom: 1px solid var(--advex-line); font: 15px/1.4 var(--advex-font); }
.advex-brand { font-weight: 700; color: #1f2328; text-decoration: none; white-space: nowrap; }
.advex-menu { display: none; font: inherit; font-size: 1.2rem; line-height: 1; padding: .3rem .55rem;
  background: #f6f8fa; border: 1px solid var(--advex-line); border-radius: 6px; cursor: pointer; }
.advex-search { position: relative; flex: 1 1 auto; max-width: 28rem; margin-left: auto; min-width: 0; }
.advex-search input { box-sizing: border-box; width: 100%; font: inherit; padding: .35rem .6rem;
  border: 1px solid var(--advex-line); border-radius: 6px; }
.advex-results { position: absolute; right: 0; left: 0; top: 2.3rem; margin: 0; padding: .25rem 0;
  list-style: none; background: #fff; border: 1px solid var(--advex-line); border-radius: 6px;
  box-shadow: 0 .5rem 1.5rem rgba(0,0,0,.15); max-height: 70vh; overflow-y: auto; }
.advex-results li a { display: block; padding: .4rem .75rem; color: #1f2328; text-decoration: none; }
.advex-results li a:hover, .advex-results li a:focus { background: #f0f6ff; }
.advex-results .advex-result-chapter { display: block; color: var(--advex-muted); font-size: .8rem; }
.advex-results .advex-result-excerpt { display: block; color: var(--advex-muted); font-size: .8rem;
  overflow-wrap: anywhere; }
.advex-results .advex-empty { padding: .4rem .75rem; color: var(--advex-muted); }
.advex-sidebar { position: fixed; z-index: 20; top: var(--advex-header); bottom: 0; left: 0;
  width: var(--advex-sidebar); box-sizing: border-box; overflow-y: auto; padding: 1rem .75rem 2rem 1rem;
  background: #f6f8fa; border-right: 1px solid var(--advex-line); font: 14px/1.45 var(--advex-font); }
.advex-sidebar ol { list-style: none; margin: 0; padding: 0; }
.advex-sidebar a { color: #1f2328; text-decoration: none; overflow-wrap: break-word; }
.advex-sidebar a:hover { color: var(--advex-link); text-decoration: underline; }
.advex-sidebar > a.advex-home { display: block; font-weight: 600; margin-bottom: .6rem; }
.advex-sidebar li { margin: .15rem 0; }
.advex-sidebar details > summary { cursor: pointer; }
.advex-sidebar details ol { margin: .2rem 0 .5rem .9rem; font-size: 13px; }
.advex-sidebar details ol a { color: var(--advex-muted); }
.advex-sidebar li.advex-current > details > summary > a, .advex-sidebar li.advex-current > a {
  font-weight: 700; color: var(--advex-link); }
.advex-sidebar .advex-extras { margin-top: .8rem; padding-top: .6rem; border-top: 1px solid var(--advex-line); }
.advex-main { box-sizing: border-box; margin-left: var(--advex-sidebar); padding: 1rem 2rem 3rem;
  max-width: calc(var(--advex-sidebar) + 62rem); min-width: 0; }
.advex-tools { font: 14px/1.5 var(--advex-font); color: var(--advex-muted); margin: .25rem 0 .75rem; }
.advex-tools a, .advex-pager a, .advex-toc a, .advex-chapters a { color: var(--advex-link); }
.advex-toc { font: 13px/1.45 var(--advex-font); border: 1px solid var(--advex-line); border-radius: 6px;
  padding: .5rem .9rem; margin: 0 0 1rem; background: #fff; }
.advex-toc > p { margin: 0 0 .3rem; font-weight: 600; }
.advex-toc ol { list-style: none; margin: 0; padding: 0; }
.advex-toc li.advex-toc-3 { padding-left: 1rem; }
.advex-toc a { text-decoration: none; overflow-wrap: break-word; }
.advex-pager { display: flex; justify-content: space-between; gap: 1rem; margin-top: 2.5rem; padding-top: 1rem;
  border-top: 1px solid var(--advex-line); font: 15px/1.4 var(--advex-font); }
.advex-pager a { text-decoration: none; max-width: 48%; overflow-wrap: break-word; }
.advex-pager a[rel="next"] { margin-left: auto; text-align: right; }
.advex-pager small { display: block; color: var(--advex-muted); }
/* nbconvert's cells: wrap prose and code, scroll what cannot wrap (wide tables), never clip. */
.advex-main .jp-Cell { min-width: 0; max-width: 100%; }
.advex-main .jp-InputArea, .advex-main .jp-OutputArea-child { min-width: 0; max-width: 100%; }
.advex-main .jp-RenderedHTMLCommon, .advex-main .jp-RenderedMarkdown { overflow-wrap: break-word; min-width: 0; }
.advex-main .jp-OutputArea-output { overflow-x: auto; min-width: 0; max-width: 100%; }
.advex-main .jp-InputArea-editor, .advex-main .highlight { min-width: 0; overflow-x: auto; }
.advex-main pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.advex-main .jp-RenderedHTMLCommon table { display: block; max-width: 100%; overflow-x: auto; }
.advex-main img { max-width: 100%; height: auto; }
.advex-main mjx-container, .advex-main .MathJax_CHTML { max-width: 100%; }
.advex-chapters { list-style: none; padding: 0; margin: 0; font: 16px/1.5 var(--advex-font); }
.advex-chapters li { padding: .8rem 0; border-top: 1px solid var(--advex-line); }
.advex-chapters li:last-child { border-bottom: 1px solid var(--advex-line); }
.advex-chapters a.advex-chapter { font-size: 1.1rem; font-weight: 600; text-decoration: none; }
.advex-chapters .meta { color: var(--advex-muted); font-size: .875rem; }
.advex-chapters .meta span + span::before { content: " · "; }
.advex-index { font: 16px/1.5 var(--advex-font); color: #1f2328; max-width: 52rem; }
.advex-index h1 { font-size: 1.9rem; margin: .5rem 0 .25rem; }
.advex-index p.lede { color: var(--advex-muted); margin: 0 0 1.5rem; }
.advex-index footer { margin-top: 2rem; color: #8c959f; font-size: .8rem; }
@media (min-width: 1400px) {
  .advex-main.advex-has-toc { padding-right: calc(var(--advex-toc) + 3rem); }
  .advex-toc { position: fixed; top: calc(var(--advex-header) + 1rem); right: 1rem; width: var(--advex-toc);
    max-height: calc(100vh - var(--advex-header) - 2rem); overflow-y: auto; box-sizing: border-box; }
}
@media (max-width: 900px) {
  .advex-menu { display: inline-block; }
  .advex-sidebar { display: none; width: min(85vw, var(--advex-sidebar)); box-shadow: 0 0 1.5rem rgba(0,0,0,.25); }
  body.advex-nav-open .advex-sidebar { display: block; }
  .advex-main { margin-left: 0; padding: .75rem .75rem 2rem; }
  .advex-main .jp-InputPrompt, .advex-main .jp-OutputPrompt { display: none; }
  .advex-main .jp-Cell { padding: 4px 0; }
}
`;

/** The site's script: the menu button at a phone's width and the search box (MiniSearch, loaded index). */
export const SITE_JS = `(function () {
  "use strict";
  var body = document.body;
  var menu = document.querySelector(".advex-menu");
  if (menu) {
    menu.addEventListener("click", function () {
      var open = body.classList.toggle("advex-nav-open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    });
    // A link in the opened sidebar (a section of this page, say) closes it again.
    var sidebar = document.getElementById("advex-sidebar");
    if (sidebar) {
      sidebar.addEventListener("click", function (event) {
        if (event.target.closest && event.target.closest("a")) {
          body.classList.remove("advex-nav-open");
          menu.setAttribute("aria-expanded", "false");
        }
      });
    }
  }
  var input = document.getElementById("advex-search-input");
  var list = document.getElementById("advex-search-results");
  if (!input || !list) return;
  var engine = null;
  function load() {
    if (engine) return engine;
    if (!window.MiniSearch || !window.ADVEX_SEARCH) return null;
    engine = window.MiniSearch.loadJS(window.ADVEX_SEARCH.index, window.ADVEX_SEARCH.options);
    return engine;
  }
  function item(result) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = result.url;
    var title = document.createElement("strong");
    title.textContent = result.title;
    var chapter = document.createElement("span");
    chapter.className = "advex-result-chapter";
    chapter.textContent = result.chapter;
    var excerpt = document.createElement("span");
    excerpt.className = "advex-result-excerpt";
    excerpt.textContent = result.excerpt;
    a.appendChild(title);
    a.appendChild(chapter);
    a.appendChild(excerpt);
    li.appendChild(a);
    return li;
  }
  function show() {
    var query = input.value.trim();
    list.textContent = "";
    if (query === "") { list.hidden = true; return; }
    var search = load();
    var results = search ? search.search(query, { prefix: true, fuzzy: 0.2, boost: { title: 2 } }).slice(0, 12) : [];
    if (results.length === 0) {
      var none = document.createElement("li");
      none.className = "advex-empty";
      none.textContent = search ? "No section matches." : "Search is not available on this page.";
      list.appendChild(none);
    }
    results.forEach(function (r) { list.appendChild(item(r)); });
    list.hidden = false;
  }
  input.addEventListener("input", show);
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; show(); }
    if (event.key === "Enter") {
      var first = list.querySelector("a");
      if (first) location.href = first.href;
    }
  });
  document.addEventListener("click", function (event) {
    if (!list.contains(event.target) && event.target !== input) list.hidden = true;
  });
})();
`;

const CHROME_START = "<!--advex-chrome-->";
const CHROME_END = "<!--/advex-chrome-->";

function chrome(html: string): string {
  return `${CHROME_START}${html}${CHROME_END}`;
}

/** `<head>` additions of every page. */
function headHtml(): string {
  return chrome(
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<link rel="stylesheet" href="${SITE_CSS_PATH}">`,
  );
}

function chapterNumberedTitle(chapter: ChapterEntry): string {
  return label(chapter.title);
}

/** The sidebar: the index, every chapter with its sections (open for `current`), then the extra pages. */
export function renderSidebar(nav: SiteNav, current?: string): string {
  const chapters = nav.chapters.map((chapter) => {
    const isCurrent = chapter.html === current;
    const sections = (chapter.sections ?? []).filter((s) => s.level === 2);
    const link = `<a href="${href(chapter.html)}"${isCurrent ? ' aria-current="page"' : ""}>` +
      `${chapterNumberedTitle(chapter)}</a>`;
    const cls = isCurrent ? ' class="advex-current"' : "";
    if (sections.length === 0) return `<li${cls}>${link}</li>`;
    const items = sections.map((s) => `<li><a href="${href(chapter.html, s.id)}">${label(s.title)}</a></li>`);
    return `<li${cls}><details${isCurrent ? " open" : ""}><summary>${link}</summary>` +
      `<ol>${items.join("")}</ol></details></li>`;
  });
  const extras = (nav.extras ?? []).map((page) =>
    `<li${page.html === current ? ' class="advex-current"' : ""}><a href="${href(page.html)}"` +
    `${page.html === current ? ' aria-current="page"' : ""}>${label(page.title)}</a></li>`
  );
  return `<nav class="advex-sidebar" id="advex-sidebar" aria-label="Chapters">` +
    `<a class="advex-home" href="index.html"${current === "index.html" ? ' aria-current="page"' : ""}>` +
    `Course index</a><ol class="advex-chapter-list">${chapters.join("")}</ol>` +
    (extras.length ? `<ol class="advex-extras">${extras.join("")}</ol>` : "") + `</nav>`;
}

/** The header: menu button (phone width), site name, search box. */
function headerHtml(): string {
  return `<header class="advex-header">` +
    `<button type="button" class="advex-menu" aria-controls="advex-sidebar" aria-expanded="false" ` +
    `aria-label="Chapters">&#9776;</button>` +
    `<a class="advex-brand" href="index.html">advex</a>` +
    `<div class="advex-search" role="search"><input type="search" id="advex-search-input" ` +
    `placeholder="Search the course" aria-label="Search the course" autocomplete="off">` +
    `<ol class="advex-results" id="advex-search-results" hidden></ol></div></header>`;
}

function scriptsHtml(): string {
  return `<script src="${MINISEARCH_PATH}"></script><script src="${SEARCH_INDEX_PATH}"></script>` +
    `<script src="${SITE_JS_PATH}"></script>`;
}

/** Links to the chapters before and after `current` (extra pages follow the last chapter). */
export function renderPager(nav: SiteNav, current: string): string {
  const pages = [
    ...nav.chapters.map((c) => ({ title: c.title, html: c.html })),
    ...(nav.extras ?? []),
  ];
  const i = pages.findIndex((p) => p.html === current);
  if (i < 0) return "";
  const prev = pages[i - 1];
  const next = pages[i + 1];
  const link = (page: { title: string; html: string }, rel: string, text: string) =>
    `<a rel="${rel}" href="${href(page.html)}"><small>${text}</small>${label(page.title)}</a>`;
  return `<nav class="advex-pager" aria-label="Previous and next">` +
    (prev
      ? link(prev, "prev", "&larr; Previous")
      : `<a rel="prev" href="index.html"><small>&larr; Back to</small>Course index</a>`) +
    (next ? link(next, "next", "Next &rarr;") : "") + `</nav>`;
}

/** The in-page contents of a chapter: its level 2 and 3 headings. */
export function renderToc(chapter: ChapterEntry): string {
  const items = (chapter.sections ?? []).filter((s) => s.level === 2 || s.level === 3)
    .map((s) => `<li class="advex-toc-${s.level}"><a href="#${escapeHtml(s.id)}">${label(s.title)}</a></li>`);
  if (items.length === 0) return "";
  return `<nav class="advex-toc" aria-label="On this page"><p>On this page</p><ol>${
    items.join("")
  }</ol></nav>`;
}

/** Download links of a chapter: the executed notebook and its configs. */
export function renderDownloads(chapter: ChapterEntry): string {
  const links: string[] = [];
  if (chapter.notebook) {
    links.push(`<a href="${href(chapter.notebook)}" download>Download notebook (.ipynb)</a>`);
  }
  for (const config of chapter.configs ?? []) {
    const file = config.slice(config.lastIndexOf("/") + 1);
    links.push(`<a href="${href(config)}" download>config ${escapeHtml(file)}</a>`);
  }
  return links.length ? `<div class="advex-tools">${links.join(" · ")}</div>` : "";
}

/**
 * A complete page in the site's frame (header, sidebar, pager), for pages that are not exported notebooks
 * (the index, a playground). `head` goes into `<head>`; `current` is the page's own file name.
 */
export function renderShell(options: {
  title: string;
  body: string;
  nav: SiteNav;
  current: string;
  head?: string;
}): string {
  const { title, body, nav, current } = options;
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>${escapeHtml(title)}</title>
  ${headHtml()}
  ${options.head ?? ""}
</head>
<body class="advex-page">
${headerHtml()}
${renderSidebar(nav, current)}
<main class="advex-main" id="advex-main">
${body}
${current === "index.html" ? "" : renderPager(nav, current)}
</main>
${scriptsHtml()}
</body>
</html>
`;
}

/** Renders the course index page that links every chapter (and the extra pages after them). */
export function renderIndex(manifest: SiteManifest, extras: readonly NavPage[] = []): string {
  const items = manifest.notebooks.map((chapter) => {
    const meta = [
      `<span>${escapeHtml(formatSeconds(chapter.seconds))}</span>`,
      `<span>scale ${escapeHtml(chapter.scale)}</span>`,
      `<span>${escapeHtml(formatDate(chapter.date))}</span>`,
      chapter.notebook
        ? `<span><a href="${href(chapter.notebook)}" download><code>${
          escapeHtml(chapter.name)
        }.ipynb</code></a></span>`
        : `<span><code>${escapeHtml(chapter.name)}.ipynb</code></span>`,
      ...(chapter.configs ?? []).map((config) =>
        `<span><a href="${href(config)}" download>${
          escapeHtml(config.slice(config.lastIndexOf("/") + 1))
        }</a></span>`
      ),
    ].join("");
    return `    <li><a class="advex-chapter" href="${href(chapter.html)}">${escapeHtml(chapter.title)}</a>` +
      `<div class="meta">${meta}</div></li>`;
  });
  const extraItems = extras.map((page) =>
    `    <li><a class="advex-chapter" href="${href(page.html)}">${escapeHtml(page.title)}</a>` +
    (page.description ? `<div class="meta"><span>${escapeHtml(page.description)}</span></div>` : "") + `</li>`
  );
  const body = `<div class="advex-index">
  <h1>advex: adversarial examples lab</h1>
  <p class="lede">Executed notebooks, one chapter each. Each chapter offers its notebook and its YAML config
  for download; search covers every section.</p>
  <ol class="advex-chapters">
${[...items, ...extraItems].join("\n")}
  </ol>
  <footer>Built ${escapeHtml(formatDate(manifest.generated))}.</footer>
</div>`;
  return renderShell({
    title: "advex: adversarial examples lab",
    body,
    nav: { chapters: manifest.notebooks, extras },
    current: "index.html",
  });
}

/** Removes what {@link decoratePage} added before (and the plain index link of older builds). */
export function undecoratePage(html: string): string {
  return html
    .replace(/<!--advex-chrome-->[\s\S]*?<!--\/advex-chrome-->\n?/g, "")
    .replace(/<nav class="advex-nav"[\s\S]*?<\/nav>\n?/, "")
    .replace(
      /<body class="advex-page ?([^"]*)"/,
      (_, rest: string) => rest ? `<body class="${rest}"` : "<body",
    );
}

/**
 * Puts a page exported by nbconvert into the site's frame: sets the document title, links the site's
 * stylesheet, adds the header with search, the sidebar, the chapter's downloads and in-page contents, and
 * the previous/next links. Decorating a decorated page replaces the old frame, so pages of earlier builds
 * can be brought up to date. The page is returned with only its title set where its markup is unexpected.
 */
export function decoratePage(html: string, chapter: ChapterEntry, nav: SiteNav): string {
  let page = undecoratePage(html);
  page = page.replace(
    /<title>[^<]*<\/title>/,
    () => `<title>${escapeHtml(plainTex(chapter.title))} · advex</title>`,
  );
  if (!/<body[^>]*>/.test(page) || !page.includes("</body>") || !page.includes("</head>")) return page;
  const toc = renderToc(chapter);
  page = page.replace("</head>", () => `${headHtml()}\n</head>`);
  page = page.replace(
    /<body( class="([^"]*)")?([^>]*)>/,
    (_, _c, cls: string | undefined, rest: string) =>
      `<body class="advex-page${cls ? ` ${cls}` : ""}"${rest}>` +
      chrome(
        `${headerHtml()}${renderSidebar(nav, chapter.html)}` +
          `<main class="advex-main${toc ? " advex-has-toc" : ""}" id="advex-main">` +
          `${renderDownloads(chapter)}${toc}`,
      ) + "\n",
  );
  const end = page.lastIndexOf("</body>");
  page = page.slice(0, end) + chrome(`${renderPager(nav, chapter.html)}</main>${scriptsHtml()}`) + "\n" +
    page.slice(end);
  return page;
}
