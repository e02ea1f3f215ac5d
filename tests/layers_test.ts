/**
 * The layers of the library, written down once and checked against every import under lib/, tools/ and
 * notebooks/. Each folder of lib/ is one layer and may import only the layers below it; nothing may form a
 * cycle of imports, between files or between layers.
 *
 * From the bottom:
 * - `random`: the seeded random source; `util`: files, environment, progress, Jupyter, the schema language;
 * - `store`: the artifact store; `backend`: tfjs backends and advex's kernels; `plot`, `report`: figures, tables,
 *   Markdown and results files;
 * - `data`: datasets and data specs; `models`: networks and the model-as-function type;
 * - `attacks`: threat models and attacks (nothing of the backend's state);
 * - `train`; `eval`; `datasets` (constructions); `defenses`; `onnx` (the file format and runtimes only);
 * - `config`: YAML experiments at scales and the shared schemas; `experiments`: the chapter modules;
 * - `mod.ts`; then `tools/` and the notebooks (which import `lib/mod.ts`, the library's core, and their
 *   chapter's module in lib/experiments/, one each).
 */
import { assert, assertEquals } from "@std/assert";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

/** The layers, bottom first; a layer may import itself and any layer before it. */
export const LAYERS = [
  "std",
  "random",
  "util",
  "store",
  "backend",
  "plot",
  "report",
  "data",
  "models",
  "attacks",
  "train",
  "eval",
  "datasets",
  "defenses",
  "onnx",
  "config",
  "experiments",
  "mod",
] as const;

/** Imports the order alone would allow but the design forbids: (from, to). */
export const FORBIDDEN: [string, string][] = [
  ["attacks", "backend"], // attacks know models as functions, not the backend's state
];

/** The layer of a file under the repository root: a lib/ folder, `mod`, `tools` or `notebooks`. */
export function layerOf(path: string): string {
  const parts = relative(ROOT, path).split("/");
  if (parts[0] === "lib") return parts.length > 2 ? parts[1] : "mod";
  return parts[0];
}

/** Every relative import (and re-export) of `text`, also inside a notebook's JSON-escaped cell sources. */
export function importsOf(text: string): { target: string; typeOnly: boolean }[] {
  const out: { target: string; typeOnly: boolean }[] = [];
  const unescaped = text.replace(/\\"/g, '"');
  const re = /(?:^|[\s;"])(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of unescaped.matchAll(re)) out.push({ target: m[3], typeOnly: Boolean(m[2]) });
  for (const m of unescaped.matchAll(/import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) {
    out.push({ target: m[1], typeOnly: false });
  }
  return out;
}

async function filesUnder(dir: string, exts: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await filesUnder(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out;
}

/** The import graph of lib/, tools/ and notebooks/: file to the files it imports. */
export async function importGraph(): Promise<Map<string, { to: string; typeOnly: boolean }[]>> {
  const files = [
    ...await filesUnder(join(ROOT, "lib"), [".ts"]),
    ...await filesUnder(join(ROOT, "tools"), [".ts"]),
    ...await filesUnder(join(ROOT, "notebooks"), [".ipynb"]),
  ];
  const graph = new Map<string, { to: string; typeOnly: boolean }[]>();
  for (const f of files) {
    const raw = await Deno.readTextFile(f);
    // Imports inside comments (a JSDoc @example) are documentation, not edges.
    const text = f.endsWith(".ts") ? raw.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "") : raw;
    graph.set(
      f,
      importsOf(text).map((i) => ({ to: normalize(join(dirname(f), i.target)), typeOnly: i.typeOnly })),
    );
  }
  return graph;
}

/** The edges between layers that the layering does not allow, as "from -> to (file)". */
export function layerViolations(graph: Map<string, { to: string }[]>): string[] {
  const rank = (l: string) => (LAYERS as readonly string[]).indexOf(l);
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    for (const { to } of imports) {
      const target = layerOf(to);
      if (target === from) continue;
      const where = `${relative(ROOT, file)} imports ${relative(ROOT, to)}`;
      if (from === "notebooks") {
        const rel = relative(ROOT, to);
        if (rel !== "lib/mod.ts" && !/^lib\/experiments\/[a-z_]+\.ts$/.test(rel)) {
          bad.push(`notebooks -> ${target}: ${where} (only lib/mod.ts and the chapter's module)`);
        }
        continue;
      }
      if (from === "tools") {
        if (rank(target) < 0 && target !== "tools") bad.push(`tools -> ${target}: ${where}`);
        continue;
      }
      if (rank(from) < 0 || rank(target) < 0) {
        bad.push(`${from} -> ${target}: ${where} (a layer the list does not name)`);
      } else if (rank(target) > rank(from)) {
        bad.push(`${from} -> ${target}: ${where} (upward)`);
      } else if (FORBIDDEN.some(([a, b]) => a === from && b === target)) {
        bad.push(`${from} -> ${target}: ${where} (forbidden)`);
      }
    }
  }
  return bad;
}

/** The import cycles between files (type-only imports included), each as its files in order. */
export function fileCycles(graph: Map<string, { to: string }[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const { to } of graph.get(f) ?? []) {
      if (!graph.has(to)) continue;
      if (state.get(to) === "open") cycles.push(stack.slice(stack.indexOf(to)).map((p) => relative(ROOT, p)));
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}

Deno.test("every import under lib/, tools/ and notebooks/ goes down the layers, and none forms a cycle", async () => {
  const graph = await importGraph();
  assert(graph.size > 100, `only ${graph.size} files found`);
  assertEquals(layerViolations(graph), []);
  assertEquals(fileCycles(graph), []);
  for (const [file, imports] of graph) {
    if (layerOf(file) !== "notebooks") continue;
    const chapters = new Set(imports.map((i) => i.to).filter((t) => layerOf(t) === "experiments"));
    assert(chapters.size <= 1, `${relative(ROOT, file)} imports ${chapters.size} chapter modules`);
  }
});

Deno.test("the layer check fails on an edge from attacks to train, on a cycle, and on notebooks reaching past mod.ts", () => {
  const f = (p: string) => join(ROOT, p);
  const graph = new Map<string, { to: string }[]>([
    [f("lib/attacks/pgd.ts"), [{ to: f("lib/train/train.ts") }, { to: f("lib/models/classifier.ts") }]],
    [f("lib/train/train.ts"), [{ to: f("lib/attacks/pgd.ts") }]],
    [f("lib/models/classifier.ts"), []],
    [f("notebooks/01.ipynb"), [{ to: f("lib/attacks/pgd.ts") }, { to: f("lib/experiments/masking.ts") }]],
    [f("lib/attacks/loss.ts"), [{ to: f("lib/backend/gradient_scope.ts") }]],
  ]);
  const bad = layerViolations(graph);
  assertEquals(bad.length, 3, bad.join("\n"));
  assert(bad[0].startsWith("attacks -> train: lib/attacks/pgd.ts imports lib/train/train.ts (upward)"));
  assert(bad.some((b) => b.startsWith("notebooks -> attacks")));
  assert(bad.some((b) => b.startsWith("attacks -> backend") && b.endsWith("(forbidden)")));
  assertEquals(fileCycles(graph), [["lib/attacks/pgd.ts", "lib/train/train.ts"]]);
});

Deno.test("importsOf() finds imports, re-exports, type imports, dynamic imports and notebook cells' imports", () => {
  const text = [
    `import * as tf from "@tensorflow/tfjs";`,
    `import { a } from "./a.ts";`,
    `import type { B } from "../b.ts";`,
    `export * from "./c.ts";`,
    `export { d } from './d.ts';`,
    `const e = await import("./e.ts");`,
    `"import * as advex from \\"../lib/mod.ts\\";\\n",`,
  ].join("\n");
  assertEquals(importsOf(text).map((i) => [i.target, i.typeOnly]), [
    ["./a.ts", false],
    ["../b.ts", true],
    ["./c.ts", false],
    ["./d.ts", false],
    ["../lib/mod.ts", false],
    ["./e.ts", false],
  ]);
});
