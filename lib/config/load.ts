/**
 * Experiment configs in YAML. Each file holds one section per scale — `smoke` (seconds, CI), `course`
 * (default, minutes on a laptop CPU), `full` (the papers' figures on 2 CPU cores, hours) and `paper` (the
 * papers' settings, for a GPU) — and may hold a `common` section merged under each of them. A section that
 * is the name of another scale (`full: course`) runs that scale's settings.
 * @module
 */
import { parse } from "@std/yaml";
import { ConfigError, type Schema } from "./schema.ts";
import { readEnv } from "../util/env.ts";
import { code, type Markdown, md } from "../report/markdown.ts";

/** The scales every experiment is described at, from the cheapest. */
export const SCALES = ["smoke", "course", "full", "paper"] as const;
/** One of {@linkcode SCALES}. */
export type Scale = typeof SCALES[number];

/** The scale to run at: `explicit` if given, else env `ADVEX_SCALE`, else `"course"`. */
export function currentScale(explicit?: string): Scale {
  let s = explicit;
  if (s === undefined) {
    s = readEnv("ADVEX_SCALE") || undefined;
  }
  s ??= "course";
  if (!(SCALES as readonly string[]).includes(s)) {
    throw new ConfigError(
      `unknown scale "${s}" (from ${explicit ? "the caller" : "ADVEX_SCALE"}); use one of ${
        SCALES.join(", ")
      }`,
    );
  }
  return s as Scale;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep-merges `over` onto `base` (mappings merge, everything else replaces). */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** The parsed YAML text `text` (named `source` in errors): a mapping of `common` and scale sections. */
function parseSections(text: string, source: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  if (!isPlainObject(doc)) {
    throw new ConfigError(`${source}: expected a mapping with sections ${SCALES.join(", ")}`);
  }
  for (const key of Object.keys(doc)) {
    if (key !== "common" && !(SCALES as readonly string[]).includes(key)) {
      throw new ConfigError(
        `${source}: ${key}: unknown top-level key; allowed: common, ${SCALES.join(", ")}`,
      );
    }
  }
  return doc;
}

/**
 * The scale whose section holds the settings of `scale`: `scale` itself, or the other scale its section names
 * (`full: course`), whose section must be a mapping.
 */
function resolvedScale(doc: Record<string, unknown>, scale: Scale, source: string): Scale {
  const section = doc[scale];
  if (typeof section !== "string") return scale;
  if (!(SCALES as readonly string[]).includes(section) || section === scale) {
    throw new ConfigError(
      `${source}: ${scale}: a section given by name must name another scale (${
        SCALES.filter((s) => s !== scale).join(", ")
      }), got "${section}"`,
    );
  }
  if (!isPlainObject(doc[section])) {
    throw new ConfigError(`${source}: ${scale}: stands for "${section}", which is not a section of settings`);
  }
  return section as Scale;
}

/**
 * Validates the parsed YAML text `text` (named `source` in errors) at `scale` against `schema`. A scale's
 * section may be the name of another scale (`full: course`): that scale's settings.
 */
export function parseExperiment<T>(text: string, schema: Schema<T>, scale: Scale, source = "config"): T {
  const doc = parseSections(text, source);
  if (!(scale in doc)) throw new ConfigError(`${source}: has no "${scale}" section`);
  const merged = deepMerge(doc.common ?? {}, doc[resolvedScale(doc, scale, source)]);
  try {
    return schema.validate(merged, scale);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`);
    throw e;
  }
}

/**
 * Reads and validates the YAML experiment file at `path` for `scale` (default: {@linkcode currentScale}).
 *
 * @example
 * ```ts
 * import { loadExperiment } from "./load.ts";
 * import { notebook01Schema } from "../experiments/generalization.ts";
 * const cfg = await loadExperiment("../configs/01-generalization-vs-robustness.yaml", notebook01Schema);
 * ```
 */
export async function loadExperiment<T>(path: string | URL, schema: Schema<T>, scale?: Scale): Promise<T> {
  return parseExperiment(await readConfig(path), schema, currentScale(scale), String(path));
}

async function readConfig(path: string | URL): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ConfigError(`config file ${path} not found`);
    throw e;
  }
}

/**
 * The scale whose settings run at `scale` (default: {@linkcode currentScale}) in the config at `path`:
 * `scale` itself, or the scale its section names (`full: course` runs the course settings at `full`).
 */
export async function settingsScale(path: string | URL, scale?: Scale): Promise<Scale> {
  return resolvedScale(
    parseSections(await readConfig(path), String(path)),
    currentScale(scale),
    String(path),
  );
}

/**
 * The scale for a notebook's header: `scale` in code, followed, when the config runs another scale's settings
 * there, by a note saying so.
 */
export function scaleLabel(scale: Scale, runs: Scale): Markdown {
  if (runs === scale) return code(scale);
  return md`${code(scale)} (this chapter runs its ${code(runs)} settings there; its config says why)`;
}
