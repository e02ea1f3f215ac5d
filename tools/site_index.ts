/**
 * HTML rendering for the course site: the index page that lists the chapters and the small
 * navigation bar added to every exported notebook page.
 *
 * @module
 */

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
}

/** Contents of `site.json`. */
export interface SiteManifest {
  /** ISO 8601 time of the last build that wrote the manifest. */
  generated: string;
  /** Chapters in course order. */
  notebooks: ChapterEntry[];
}

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

const INDEX_CSS = `
  :root { color-scheme: light; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
    color: #1f2328; background: #fff; max-width: 52rem; margin: 2.5rem auto; padding: 0 1.25rem; }
  h1 { font-size: 1.9rem; margin: 0 0 .25rem; }
  p.lede { color: #57606a; margin: 0 0 2rem; }
  ol.chapters { list-style: none; padding: 0; margin: 0; counter-reset: chapter; }
  ol.chapters li { counter-increment: chapter; display: grid; grid-template-columns: 2.5rem 1fr;
    padding: .8rem 0; border-top: 1px solid #d0d7de; }
  ol.chapters li:last-child { border-bottom: 1px solid #d0d7de; }
  ol.chapters li::before { content: counter(chapter) "."; color: #8c959f; font-weight: 600; }
  ol.chapters a { font-size: 1.1rem; font-weight: 600; color: #0969da; text-decoration: none; }
  ol.chapters a:hover { text-decoration: underline; }
  .meta { grid-column: 2; color: #57606a; font-size: .875rem; }
  .meta span + span::before { content: " · "; }
  footer { margin-top: 2rem; color: #8c959f; font-size: .8rem; }
`;

/** Renders the course index page that links every chapter. */
export function renderIndex(manifest: SiteManifest): string {
  const items = manifest.notebooks.map((chapter) => {
    const meta = [
      `<span>${escapeHtml(formatSeconds(chapter.seconds))}</span>`,
      `<span>scale ${escapeHtml(chapter.scale)}</span>`,
      `<span>${escapeHtml(formatDate(chapter.date))}</span>`,
      `<span><code>${escapeHtml(chapter.name)}.ipynb</code></span>`,
    ].join("");
    return `    <li><a href="${escapeHtml(encodeURI(chapter.html))}">${escapeHtml(chapter.title)}</a>` +
      `<div class="meta">${meta}</div></li>`;
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>advex: adversarial examples lab</title>
  <style>${INDEX_CSS}</style>
</head>
<body>
  <h1>advex: adversarial examples lab</h1>
  <p class="lede">Executed notebooks, one chapter each.</p>
  <ol class="chapters">
${items.join("\n")}
  </ol>
  <footer>Built ${escapeHtml(formatDate(manifest.generated))}.</footer>
</body>
</html>
`;
}

const NAV_HTML = `<nav class="advex-nav" style="font: 14px/1.4 system-ui, sans-serif; padding: .5rem 1rem; ` +
  `border-bottom: 1px solid #d0d7de;"><a href="index.html" style="color: #0969da;">&larr; Course index</a></nav>`;

/**
 * Adapts a page exported by nbconvert for the site: sets the document title and adds a link back
 * to the index at the top of the body. The page is returned unchanged where its markup is unexpected.
 */
export function decoratePage(html: string, title: string): string {
  let page = html.replace(/<title>[^<]*<\/title>/, () => `<title>${escapeHtml(title)} · advex</title>`);
  page = page.replace(/<body[^>]*>/, (body) => `${body}\n${NAV_HTML}`);
  return page;
}
