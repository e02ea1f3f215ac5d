/**
 * The notebooks as a student reads them: code cells within the formatter's width, the chapter's own module
 * imported beside the library's core, and no formatting helper defined again in a notebook.
 */
import { assert, assertEquals } from "@std/assert";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NOTEBOOKS = join(dirname(fileURLToPath(import.meta.url)), "..", "notebooks");
const WIDTH = 110; // deno.json's fmt.lineWidth

interface Notebook {
  cells: { cell_type: string; source: string | string[] }[];
}

async function notebooks(): Promise<{ name: string; code: string[] }[]> {
  const out: { name: string; code: string[] }[] = [];
  for await (const e of Deno.readDir(NOTEBOOKS)) {
    if (!e.name.endsWith(".ipynb")) continue;
    const nb = JSON.parse(await Deno.readTextFile(join(NOTEBOOKS, e.name))) as Notebook;
    const code = nb.cells.filter((c) => c.cell_type === "code")
      .map((c) => Array.isArray(c.source) ? c.source.join("") : c.source);
    out.push({ name: e.name, code });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("every notebook code line fits the formatter's width", async () => {
  const long: string[] = [];
  for (const { name, code } of await notebooks()) {
    for (const cell of code) {
      for (const line of cell.split("\n")) {
        if (line.length > WIDTH) long.push(`${name}: ${line.length} chars`);
      }
    }
  }
  assertEquals(long, []);
});

Deno.test("every notebook imports the library's core and its chapter module, and defines no pct of its own", async () => {
  const all = await notebooks();
  assertEquals(all.length, 7);
  for (const { name, code } of all) {
    const first = code[0] ?? "";
    assert(first.includes('import * as advex from "../lib/mod.ts"'), `${name}: imports the core`);
    assert(/import \* as chapter from "\.\.\/lib\/experiments\/[a-z_]+\.ts"/.test(first), `${name}: chapter`);
    assert(!code.some((c) => /const pct\s*=/.test(c)), `${name} defines pct again`);
  }
});
