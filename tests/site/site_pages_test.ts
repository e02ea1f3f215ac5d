/**
 * Tests of the parts of the site build that need no browser: progress collapsing (tools/site_export.ts),
 * sections and search (tools/site_search.ts), and the page frame (tools/site_index.ts).
 */

import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import MiniSearch from "minisearch";
import {
  collapseProgress,
  isProgressOutput,
  type Notebook,
  progressSummary,
} from "../../tools/site_export.ts";
import {
  type ChapterEntry,
  decoratePage,
  renderPager,
  renderShell,
  renderSidebar,
  type SiteNav,
  undecoratePage,
} from "../../tools/site_index.ts";
import {
  decodeEntities,
  excerpt,
  pageSections,
  plainTex,
  searchDocuments,
  searchIndexScript,
  wrapUmd,
} from "../../tools/site_search.ts";
import { notebookConfigs, referencedConfigs } from "../../tools/site.ts";

const progress = (line: string) => ({
  output_type: "display_data",
  data: { "text/plain": line, "text/html": `<div class="advex-progress" style="x"><div>${line}</div></div>` },
  metadata: {},
});
const stream = (text: string) => ({ output_type: "stream", name: "stdout", text });

Deno.test("collapseProgress: a cell's progress displays become one summary at the first one's place", () => {
  const notebook: Notebook = {
    cells: [
      {
        cell_type: "code",
        outputs: [
          stream("a"),
          progress("train: 100% 5/5 steps, done in 1.0s"),
          stream("b"),
          progress("eval: 100% 9/9 examples, done in 0.5s"),
        ],
      },
      { cell_type: "code", outputs: [progress("only: 100% 1/1 steps, done in 0.1s")] },
      { cell_type: "code", outputs: [stream("untouched")] },
      { cell_type: "markdown", source: "# x" },
    ],
  };
  assertEquals(collapseProgress(notebook), 3);
  const [first, second, third] = notebook.cells!;
  assertEquals(first.outputs!.length, 3);
  assertEquals(first.outputs![0], stream("a"));
  assertEquals(first.outputs![2], stream("b"));
  const summary = first.outputs![1].data!;
  assertStringIncludes(String(summary["text/plain"]), "2 progress bars finished");
  assertStringIncludes(String(summary["text/html"]), '<details class="advex-progress-summary"');
  assertStringIncludes(String(summary["text/html"]), "<div>eval: 100% 9/9 examples, done in 0.5s</div>");
  assertEquals(second.outputs!.length, 1);
  assertStringIncludes(String(second.outputs![0].data!["text/html"]), "✓ only: 100% 1/1 steps");
  assertEquals(third.outputs, [stream("untouched")]);
  assert(
    !notebook.cells!.some((c) => (c.outputs ?? []).some(isProgressOutput)),
    "no progress display is left",
  );
  assertEquals(collapseProgress(notebook), 0, "collapsing again changes nothing");
  assertThrows(() => progressSummary([]), RangeError);
  assertStringIncludes(String(progressSummary(["a <b>"]).data!["text/html"]), "a &lt;b&gt;");
});

const EXPORTED = `<html><head><title>x</title><style>h2 { color: red }</style></head>
<body class="jp-Notebook" data-jp-theme-light="true">
<p>before any heading</p>
<h1 id="1-%C2%B7-Title">1 &#183; Title<a class="anchor-link" href="#1-%C2%B7-Title">&#182;</a></h1><p>Intro &amp; more.</p>
<h2 id="Ten-classes:-$%5Chat-D_%7Brand%7D$">Ten classes: $\\hat D_{rand}$<a class="anchor-link" href="#x">&#182;</a></h2>
<div class=" highlight hl-typescript"><pre>const secretCode = 1;</pre></div>
<p>BPDA goes through.</p><svg><text>axis label</text></svg><script>var hidden = 1;</script>
<h3 id="The-lecture's-version">The lecture's version</h3><p>Last words.</p>
</body></html>`;

Deno.test("pageSections: headings with ids split the page; code, scripts and figures are left out", () => {
  const sections = pageSections(EXPORTED);
  assertEquals(sections.map((s) => [s.level, s.id, s.title]), [
    [1, "1-%C2%B7-Title", "1 · Title"],
    [2, "Ten-classes:-$%5Chat-D_%7Brand%7D$", "Ten classes: $\\hat D_{rand}$"],
    [3, "The-lecture's-version", "The lecture's version"],
  ]);
  assertEquals(sections[0].text, "Intro & more.");
  assertEquals(sections[1].text, "BPDA goes through.");
  assertEquals(sections[2].text, "Last words.");
  assertEquals(decodeEntities("&#x41;&#66;&lt;&unknown;"), "AB<&unknown;");
});

Deno.test("plainTex: the course's TeX becomes readable text", () => {
  assertEquals(
    plainTex("Ten classes: $\\hat D_{rand}$ and $\\hat D_{\\text{det}}$"),
    "Ten classes: D̂_rand and D̂_det",
  );
  assertEquals(plainTex("$(y + 1) \\bmod 10$"), "(y + 1) mod 10");
  assertEquals(plainTex("no math"), "no math");
});

Deno.test("search index: MiniSearch finds a section by a word of its text, loaded the way the page loads it", () => {
  const docs = searchDocuments("04-masking.html", "4 · Masking", pageSections(EXPORTED));
  const script = searchIndexScript(docs);
  assert(script.startsWith("window.ADVEX_SEARCH = "));
  assert(!script.includes("<"), "no '<' can close the script element");
  const payload = JSON.parse(script.slice("window.ADVEX_SEARCH = ".length).trim().replace(/;$/, ""));
  const engine = MiniSearch.loadJS(payload.index, payload.options);
  const hits = engine.search("BPDA", { prefix: true });
  assertEquals(hits.map((h) => h.url), ["04-masking.html#Ten-classes:-$%5Chat-D_%7Brand%7D$"]);
  assertEquals(hits[0].title, "Ten classes: D̂_rand");
  assertEquals(hits[0].chapter, "4 · Masking");
  assertEquals(engine.search("secretCode").length, 0, "code is not indexed");
  const umd = wrapUmd(
    "(function(g,f){typeof exports==='object'?module.exports=f():typeof define==='function'?" +
      "define(f):g.Lib=f()})(this,function(){return 1})",
  );
  const scope: Record<string, unknown> = {
    define: () => {
      throw new Error("AMD used");
    },
  };
  new Function("window", "define", umd.replace(".call(window)", ".call(window)"))(scope, scope.define);
  assertEquals(scope.Lib, 1, "the wrapped UMD build sets a global even where require.js defines define()");
});

const chapter = (n: number, sections: ChapterEntry["sections"] = []): ChapterEntry => ({
  name: `0${n}-c`,
  title: `${n} · Chapter ${n}`,
  seconds: 1,
  scale: "smoke",
  date: "2026-01-01T00:00:00Z",
  html: `0${n}-c.html`,
  notebook: `0${n}-c.ipynb`,
  configs: [`configs/0${n}-c.yaml`],
  sections,
});

Deno.test("page frame: sidebar, pager, downloads and in-page contents; decorating twice is decorating once", () => {
  const one = chapter(1, [{ level: 1, id: "t", title: "1 · Chapter 1" }, {
    level: 2,
    id: "s-1",
    title: "Set $\\hat D_{det}$",
  }, { level: 3, id: "s-1-1", title: "Deeper" }]);
  const nav: SiteNav = {
    chapters: [one, chapter(2), chapter(3)],
    extras: [{ title: "Playground", html: "playground.html" }],
  };
  const sidebar = renderSidebar(nav, one.html);
  assertStringIncludes(
    sidebar,
    `<details open><summary><a href="01-c.html" aria-current="page">1 · Chapter 1</a>`,
  );
  assertStringIncludes(sidebar, `<a href="01-c.html#s-1">Set D̂_det</a>`);
  assertStringIncludes(sidebar, `<a href="playground.html">Playground</a>`);
  const middle = renderPager(nav, "02-c.html");
  assertStringIncludes(middle, `<a rel="prev" href="01-c.html">`);
  assertStringIncludes(middle, `<a rel="next" href="03-c.html">`);
  assertStringIncludes(renderPager(nav, "03-c.html"), `<a rel="next" href="playground.html">`);
  assertStringIncludes(renderPager(nav, "01-c.html"), `<a rel="prev" href="index.html">`);

  const page = decoratePage(EXPORTED, one, nav);
  assertStringIncludes(page, "<title>1 · Chapter 1 · advex</title>");
  assertStringIncludes(page, '<body class="advex-page jp-Notebook" data-jp-theme-light="true">');
  assertStringIncludes(page, `<a href="01-c.ipynb" download>Download notebook (.ipynb)</a>`);
  assertStringIncludes(page, `<a href="configs/01-c.yaml" download>config 01-c.yaml</a>`);
  assertStringIncludes(page, `<li class="advex-toc-3"><a href="#s-1-1">Deeper</a></li>`);
  assertStringIncludes(page, `<script src="search-index.js"></script>`);
  assertEquals(decoratePage(page, one, nav), page, "decorating a decorated page changes nothing");
  assertEquals(
    pageSections(page).map((s) => s.text),
    pageSections(EXPORTED).map((s) => s.text),
    "the frame is not part of the sections' text",
  );
  assertEquals(
    undecoratePage(page).replace(/<title>[^<]*<\/title>/, ""),
    EXPORTED.replace(/<title>[^<]*<\/title>/, ""),
  );

  const shell = renderShell({ title: "Playground", body: "<p>hi</p>", nav, current: "playground.html" });
  assertStringIncludes(shell, `<a rel="prev" href="03-c.html">`);
  assertStringIncludes(shell, `aria-current="page">Playground</a>`);
});

Deno.test("notebookConfigs: the config files a notebook's code names", () => {
  const cells = [
    {
      cell_type: "code",
      source: ['const cfg = await load("../configs/01-a.yaml", s);\n', "x('../configs/b_c.yml')"],
    },
    { cell_type: "markdown", source: 'see "../configs/not-code.yaml"' },
    { cell_type: "code", source: "const p = `configs/${name}`;" },
  ];
  assertEquals(notebookConfigs({ cells }), ["../configs/01-a.yaml", "../configs/b_c.yml"]);
});

Deno.test("plainTex: symbols, upright names and braces", () => {
  assertEquals(
    plainTex(
      "$x + \\epsilon_1 g$, $g = \\mathrm{sign}(\\nabla_x J(x, y))$, $\\|\\delta\\|_\\infty \\le \\epsilon$",
    ),
    "x + ε_1 g, g = sign(∇_x J(x, y)), ‖δ‖_∞ ≤ ε",
  );
  assertEquals(plainTex("$\\left(a\\right)$ and $\\int$"), "(a) and int");
  assertEquals(excerpt("one two three four", 11), "one two…");
  assertEquals(excerpt("short", 11), "short");
});

Deno.test("referencedConfigs: the config files a config names as values", () => {
  const text =
    "common:\n  pretrained: pretrain-resnet50.yaml\n  other: 'x.yml' # note\n  name: resnet\n# a: b.yaml\n";
  assertEquals(referencedConfigs(text), ["pretrain-resnet50.yaml", "x.yml"]);
});
