/**
 * Sections and search for the course site. The sections of a page are read from the HTML that nbconvert
 * exports (its headings carry ids); the search index is built at build time with MiniSearch and shipped
 * as a script (`search-index.js`) next to MiniSearch's own browser build (`assets/minisearch.js`), so
 * that search works from `file://`, where pages cannot fetch files.
 *
 * @module
 */

import MiniSearch from "minisearch";

/** A heading of a page and the text under it up to the next heading. */
export interface PageSection {
  /** Heading level, 1 to 3. */
  level: number;
  /** The heading's `id` attribute, as written in the HTML (percent-encoded where nbconvert encoded it). */
  id: string;
  /** The heading's text, TeX left as written (`$\hat D$`). */
  title: string;
  /** Plain text of the section: prose and outputs, without code, scripts, styles and figures. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Decodes the HTML entities nbconvert writes (named basic ones and numeric ones). */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X"
        ? parseInt(name.slice(2), 16)
        : parseInt(name.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** Text of an HTML fragment: tags removed, entities decoded, white space collapsed. */
export function htmlText(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, " ")).replace(/\s+/g, " ").trim();
}

/**
 * Splits the body of an exported page into sections at its `h1`-`h3` headings that have an id. Text before
 * the first heading is dropped; so are code inputs, scripts, styles, SVG figures, the heading anchors (¶)
 * and any element the site added itself (marked `data-advex-chrome`).
 */
export function pageSections(html: string): PageSection[] {
  const start = html.search(/<body[^>]*>/);
  let body = start >= 0 ? html.slice(start) : html;
  body = body
    .replace(/<!--advex-chrome-->[\s\S]*?<!--\/advex-chrome-->/g, " ")
    .replace(/<script\b[\s\S]*?<\/script>/gi, " ")
    .replace(/<style\b[\s\S]*?<\/style>/gi, " ")
    .replace(/<svg\b[\s\S]*?<\/svg>/gi, " ")
    .replace(/<div class="[^"]*\bhighlight\b[^"]*">\s*<pre>[\s\S]*?<\/pre>/g, " ")
    .replace(/<a class="anchor-link"[^>]*>[\s\S]*?<\/a>/g, "");
  const heading = /<h([1-3])\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/h\1>/g;
  const sections: PageSection[] = [];
  let match: RegExpExecArray | null;
  let last: { level: number; id: string; title: string; from: number } | undefined;
  const close = (to: number) => {
    if (last) sections.push({ ...last, text: htmlText(body.slice(last.from, to)) });
  };
  while ((match = heading.exec(body)) !== null) {
    close(match.index);
    last = { level: Number(match[1]), id: match[2], title: htmlText(match[3]), from: heading.lastIndex };
  }
  close(body.length);
  return sections.map(({ level, id, title, text }) => ({ level, id, title, text }));
}

/**
 * Readable text for TeX in titles where no MathJax runs (search results, page titles): `$\hat D_{det}$`
 * becomes `D̂_det`. Only the few commands the course's headings use are translated; other commands lose
 * their backslash.
 */
export function plainTex(text: string): string {
  return text.replace(/\$\$?([^$]+)\$?\$/g, (_, tex: string) =>
    tex
      .replace(/\\hat\s*\{?([A-Za-z])\}?/g, "$1\u0302")
      .replace(/\\(?:text|mathrm|mathbf|mathit|operatorname|mathcal)\s*\{([^}]*)\}/g, "$1")
      .replace(/\\([A-Za-z]+|\|)/g, (_, name: string) => TEX_SYMBOLS[name] ?? name)
      .replace(/([_^])\{([^{}]*)\}/g, "$1$2")
      .replace(/\\[,;!: ]/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim());
}

/** TeX commands written as the characters they stand for, in {@link plainTex}. */
const TEX_SYMBOLS: Record<string, string> = {
  nabla: "∇",
  varepsilon: "ε",
  epsilon: "ε",
  alpha: "α",
  delta: "δ",
  theta: "θ",
  ell: "ℓ",
  infty: "∞",
  "|": "‖",
  cdot: "·",
  times: "×",
  le: "≤",
  ge: "≥",
  in: "∈",
  bmod: "mod",
  left: "",
  right: "",
};

/** One searchable unit: a section of a chapter. */
export interface SearchDocument {
  /** Unique id, `<page>#<section id>`. */
  id: string;
  /** Link to the section, relative to the site root. */
  url: string;
  /** Section title, TeX made readable. */
  title: string;
  /** Chapter title. */
  chapter: string;
  /** Section text (indexed, not stored). */
  text: string;
  /** The first words of the section, shown under a result. */
  excerpt: string;
}

/** Search options shared by the build (indexing) and the page (loading the index). */
export const SEARCH_OPTIONS = {
  fields: ["title", "chapter", "text"],
  storeFields: ["url", "title", "chapter", "excerpt"],
} as const;

/** The first words of `text`, at most `length` characters, cut at a space and marked with "…" when cut. */
export function excerpt(text: string, length: number): string {
  if (text.length <= length) return text;
  const cut = text.slice(0, length);
  const space = cut.lastIndexOf(" ");
  return `${space > length / 2 ? cut.slice(0, space) : cut}…`;
}

/** Builds the documents of one page from its sections. */
export function searchDocuments(
  page: string,
  chapter: string,
  sections: readonly PageSection[],
): SearchDocument[] {
  return sections.map((section) => ({
    id: `${page}#${section.id}`,
    url: `${page}#${section.id}`,
    title: plainTex(section.title),
    chapter: plainTex(chapter),
    text: plainTex(section.text),
    excerpt: excerpt(plainTex(section.text), 180),
  }));
}

/** Indexes `documents` with MiniSearch; the index as MiniSearch serialises it. */
export function buildSearchIndex(documents: readonly SearchDocument[]): MiniSearch<SearchDocument> {
  const search = new MiniSearch<SearchDocument>({
    ...SEARCH_OPTIONS,
    fields: [...SEARCH_OPTIONS.fields],
    storeFields: [...SEARCH_OPTIONS.storeFields],
  });
  search.addAll([...documents]);
  return search;
}

/**
 * The script `search-index.js`: sets `window.ADVEX_SEARCH` to the serialised index and the options to load
 * it with (`MiniSearch.loadJS(index, options)`).
 */
export function searchIndexScript(documents: readonly SearchDocument[]): string {
  const index = buildSearchIndex(documents).toJSON();
  const payload = { options: SEARCH_OPTIONS, index };
  // "<" is escaped so that no text in the index can close a script element.
  return `window.ADVEX_SEARCH = ${JSON.stringify(payload).replace(/</g, "\\u003c")};\n`;
}

/**
 * Wraps MiniSearch's UMD browser build so that it always sets `window.MiniSearch`: the pages load
 * require.js, and an unwrapped UMD module would register itself as an anonymous AMD module instead
 * (require.js then reports "Mismatched anonymous define()").
 */
export function wrapUmd(source: string): string {
  return `(function () { var define, module, exports;\n${source}\n}).call(window);\n`;
}
