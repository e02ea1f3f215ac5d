/**
 * Robust accuracy of your own ONNX image classifier under AutoAttack (Croce and Hein 2020).
 *
 * ```
 * deno task evaluate MODEL.onnx [--data mnist|fashion-mnist|IDX_DIR] [--norm linf|l2] [--eps 0.3]
 *                    [--n 1000] [--version standard|rand] [--seed 0] [--normalization imagenet|M,M,M/S,S,S]
 *                    [--layout NCHW|NHWC] [--batch-size 256] [--steps 100] [--square-queries 5000]
 *                    [--attacks apgd-ce,apgd-t,fab-t,square] [--out REPORT.json] [--progress auto|terminal|silent]
 * ```
 *
 * `--steps`, `--square-queries` and `--attacks` change AutoAttack's fixed budget and sequence (for quick
 * looks; a number to report uses the defaults, and the report records the settings).
 *
 * Forward passes run in onnxruntime (clean accuracy, and the check of every adversarial example the attacks
 * return); gradients come from the differentiable tfjs import of the same file, which AutoAttack runs on.
 * The tool first checks that the two agree on the clean images, then runs AutoAttack on a stratified
 * subset of the test split (`--n` images), writes a JSON report (`--out`, default
 * `<cache>/results/evaluate/<model>-<data>-<norm>-<eps>-<version>.json`) and prints a table with the
 * clean and robust accuracies, each attack's share and AutoAttack's flags.
 *
 * `--data IDX_DIR` is a folder of IDX files (as MNIST ships them, optionally gzipped): one whose name holds
 * "images" and one whose name holds "labels", the test split ("t10k" or "test" in the name) when there are
 * several. Images `[N, H, W]` or `[N, H, W, C]` of bytes, scaled to [0, 1].
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describeBackend, initBackend } from "../lib/backend/mod.ts";
import {
  type Dataset,
  DATASETS,
  imagesTensor,
  loadDataset,
  makeDataset,
  parseIdx,
  size,
  stratifiedSubset,
} from "../lib/data/mod.ts";
import { autoAttack, type AutoAttackName, type AutoAttackResult } from "../lib/eval/autoattack.ts";
import {
  IMAGENET_NORMALIZATION,
  importOnnxModel,
  type InputLayout,
  loadOnnx,
  loadOrtModel,
  type Normalization,
  ortPredict,
} from "../lib/onnx/mod.ts";
import { repoRoot } from "../lib/util/fs.ts";
import { readEnv } from "../lib/util/env.ts";
import { createProgress, type ProgressMode } from "../lib/util/progress.ts";

/** The tool's settings, from the command line. */
export interface EvaluateArgs {
  model: string;
  data: string;
  norm: "linf" | "l2";
  eps: number;
  n: number;
  version: "standard" | "rand";
  seed: number;
  normalization?: Normalization;
  layout?: InputLayout;
  batchSize: number;
  /** APGD and FAB iterations (AutoAttack's default 100). */
  steps?: number;
  /** Square's query budget (default 5000). */
  squareQueries?: number;
  /** A custom sequence of attacks instead of the version's. */
  attacks?: AutoAttackName[];
  out?: string;
  progress: ProgressMode;
}

const USAGE = "usage: deno task evaluate MODEL.onnx [--data mnist|fashion-mnist|IDX_DIR] [--norm linf|l2] " +
  "[--eps 0.3] [--n 1000] [--version standard|rand] [--seed 0] [--normalization imagenet|M,M,M/S,S,S] " +
  "[--layout NCHW|NHWC] [--batch-size 256] [--steps 100] [--square-queries 5000] " +
  "[--attacks apgd-ce,apgd-t,fab-t,square] [--out REPORT.json] [--progress auto|terminal|silent]";

const ATTACKS: readonly AutoAttackName[] = ["apgd-ce", "apgd-t", "fab-t", "square", "apgd-dlr"];

/** The default radius per norm: Madry et al.'s MNIST l-inf radius, and the usual MNIST l2 one. */
export const DEFAULT_EPS = { linf: 0.3, l2: 1.5 } as const;

/** Parses the command line; a bad or unknown flag is an error that names it and the valid values. */
export function parseEvaluateArgs(args: string[]): EvaluateArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: "string", default: "mnist" },
        norm: { type: "string", default: "linf" },
        eps: { type: "string" },
        n: { type: "string", default: "1000" },
        version: { type: "string", default: "standard" },
        seed: { type: "string", default: "0" },
        normalization: { type: "string" },
        layout: { type: "string" },
        "batch-size": { type: "string", default: "256" },
        steps: { type: "string" },
        "square-queries": { type: "string" },
        attacks: { type: "string" },
        out: { type: "string" },
        progress: { type: "string", default: "auto" },
      },
    });
  } catch (e) {
    throw new TypeError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new TypeError(
      `expected one model file, got ${positionals.length ? positionals.join(" ") : "none"}\n${USAGE}`,
    );
  }
  const oneOf = <T extends string>(flag: string, value: string, valid: readonly T[]): T => {
    if (!valid.includes(value as T)) {
      throw new RangeError(`--${flag} must be one of ${valid.join(", ")}, got '${value}'`);
    }
    return value as T;
  };
  const integer = (flag: string, text: string, min: number, max: number) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`--${flag} must be an integer from ${min} to ${max}, got '${text}'`);
    }
    return v;
  };
  const norm = oneOf("norm", values.norm!, ["linf", "l2"] as const);
  let eps: number = DEFAULT_EPS[norm];
  if (values.eps !== undefined) {
    eps = Number(values.eps);
    if (values.eps.trim() === "" || !Number.isFinite(eps) || eps <= 0) {
      throw new RangeError(`--eps must be a finite number above 0, got '${values.eps}'`);
    }
    if (norm === "linf" && eps > 1) {
      throw new RangeError(
        `--eps ${eps} is above 1, the whole pixel range, for --norm linf (pixels are in [0, 1])`,
      );
    }
  }
  return {
    model: positionals[0],
    data: values.data!,
    norm,
    eps,
    n: integer("n", values.n!, 1, 70000),
    version: oneOf("version", values.version!, ["standard", "rand"] as const),
    seed: integer("seed", values.seed!, 0, 2 ** 31 - 1),
    normalization: values.normalization === undefined ? undefined : parseNormalization(values.normalization),
    layout: values.layout === undefined
      ? undefined
      : oneOf("layout", values.layout, ["NCHW", "NHWC"] as const),
    batchSize: integer("batch-size", values["batch-size"]!, 1, 4096),
    steps: values.steps === undefined ? undefined : integer("steps", values.steps, 1, 10000),
    squareQueries: values["square-queries"] === undefined
      ? undefined
      : integer("square-queries", values["square-queries"], 1, 1_000_000),
    attacks: values.attacks === undefined
      ? undefined
      : values.attacks.split(",").map((a) => oneOf("attacks", a.trim(), ATTACKS)),
    out: values.out,
    progress: oneOf("progress", values.progress!, ["auto", "terminal", "silent"] as const),
  };
}

/** `imagenet`, or per-channel means and stds as `M,M,M/S,S,S`. */
function parseNormalization(text: string): Normalization {
  if (text === "imagenet") return IMAGENET_NORMALIZATION;
  const parts = text.split("/").map((p) => p.split(",").map(Number));
  if (
    parts.length !== 2 || parts[0].length !== parts[1].length ||
    parts.flat().some((v) => !Number.isFinite(v)) ||
    parts[1].some((s) => s <= 0)
  ) {
    throw new RangeError(
      `--normalization must be 'imagenet' or means/stds such as '0.5,0.5,0.5/0.25,0.25,0.25' (stds above 0), got '${text}'`,
    );
  }
  return { mean: parts[0], std: parts[1] };
}

/** The test split of a named dataset, or the images and labels of a folder of IDX files. */
export async function loadEvaluationData(data: string): Promise<Dataset> {
  if (data in DATASETS) return await loadDataset(data as keyof typeof DATASETS, "test");
  let entries: string[];
  try {
    entries = [];
    for await (const e of Deno.readDir(data)) if (e.isFile) entries.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `--data ${data}: neither ${Object.keys(DATASETS).join(" nor ")} nor a folder of IDX files`,
      );
    }
    if (e instanceof Deno.errors.NotADirectory) {
      throw new Error(`--data ${data} is a file; give the folder holding the images and labels IDX files`);
    }
    throw e;
  }
  const pick = (kind: string) => {
    const found = entries.filter((f) => f.toLowerCase().includes(kind)).sort();
    const test = found.filter((f) => /t10k|test/i.test(f));
    const chosen = test.length ? test : found;
    if (chosen.length === 0) {
      throw new Error(
        `--data ${data}: no file whose name holds "${kind}" (found: ${entries.join(", ") || "none"})`,
      );
    }
    return join(data, chosen[0]);
  };
  const read = async (path: string) => {
    let bytes = await Deno.readFile(path);
    if (path.endsWith(".gz")) {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      );
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    return parseIdx(bytes, path);
  };
  const [imagesPath, labelsPath] = [pick("images"), pick("labels")];
  const img = await read(imagesPath);
  const lbl = await read(labelsPath);
  if (img.dims.length !== 3 && img.dims.length !== 4) {
    throw new Error(`${imagesPath}: images must be [N, H, W] or [N, H, W, C], got [${img.dims}]`);
  }
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) {
    throw new Error(`${labelsPath}: ${lbl.dims.join("x")} labels for ${img.dims[0]} images`);
  }
  const images = Float32Array.from(img.data, (v) => v / 255);
  const labels = Int32Array.from(lbl.data);
  const classes = Math.max(...labels) + 1;
  const shape = [img.dims[1], img.dims[2], img.dims[3] ?? 1] as [number, number, number];
  return makeDataset(data, images, labels, shape, Array.from({ length: classes }, (_, i) => String(i)));
}

/** What {@linkcode evaluateOnnxModel} reports. */
export interface EvaluateReport {
  model: string;
  data: string;
  settings: Omit<EvaluateArgs, "model" | "data" | "out" | "progress">;
  backend: string;
  ortProvider: string;
  n: number;
  /** Clean accuracy from onnxruntime's forward passes. */
  cleanAccuracy: number;
  /** Share of the images on which the tfjs import and onnxruntime predict the same class. */
  importAgreement: number;
  /** Largest absolute difference between their logits on the clean images. */
  importMaxLogitDiff: number;
  /** Robust accuracy AutoAttack reports (on the tfjs import). */
  robustAccuracy: number;
  /** Robust accuracy with every adversarial example re-classified by onnxruntime. */
  robustAccuracyOrt: number;
  /** What AutoAttack returned besides the examples: per-attack accuracies, checks and flags, timings. */
  autoAttack: Omit<AutoAttackResult, "adversarial" | "robust">;
  seconds: number;
}

/** Runs the whole evaluation: load, check, attack, re-check in onnxruntime. */
export async function evaluateOnnxModel(args: EvaluateArgs): Promise<EvaluateReport> {
  const t0 = performance.now();
  const backend = await initBackend();
  const { model } = await loadOnnx(args.model);
  const full = await loadEvaluationData(args.data);
  // A model that leaves its image size symbolic takes the data's.
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const dims = model.graph.inputs.find((i) => !inits.has(i.name))?.shape;
  const symbolic = dims !== undefined && dims.slice(1).some((d) => typeof d !== "number");
  const sigOptions = {
    normalization: args.normalization,
    inputLayout: args.layout,
    inputShape: symbolic ? full.shape : undefined,
  };
  const imported = importOnnxModel(model, sigOptions, args.model);
  try {
    const [h, w, c] = imported.signature.inputShape;
    if (full.shape.join("x") !== [h, w, c].join("x")) {
      throw new RangeError(
        `${args.model} takes images [${h}, ${w}, ${c}] (H, W, C), but ${full.name} holds images [${full.shape}]; ` +
          `evaluate it on data of its own size with --data IDX_DIR`,
      );
    }
    const classes = imported.signature.classes;
    if (classes !== undefined && classes < full.classes.length) {
      throw new RangeError(
        `${args.model} has ${classes} outputs, but ${full.name} has ${full.classes.length} classes`,
      );
    }
    const data = stratifiedSubset(full, Math.min(args.n, size(full)), { seed: args.seed });
    const n = size(data);
    const ort = await loadOrtModel(args.model, {
      ...sigOptions,
      provider: "cpu",
    });
    try {
      const clean = await ortPredict(ort, data, { batchSize: args.batchSize });
      let agree = 0;
      let maxDiff = 0;
      for (let start = 0; start < n; start += args.batchSize) {
        const end = Math.min(n, start + args.batchSize);
        const logits = tf.tidy(() => {
          const x = imagesTensor(data, start, end);
          return imported.classifier(x).dataSync() as Float32Array;
        });
        const k = logits.length / (end - start);
        for (let i = 0; i < end - start; i++) {
          let best = 0;
          for (let j = 0; j < k; j++) {
            maxDiff = Math.max(maxDiff, Math.abs(logits[i * k + j] - clean.logits[(start + i) * k + j]));
            if (logits[i * k + j] > logits[i * k + best]) best = j;
          }
          if (best === clean.predictions[start + i]) agree++;
        }
      }
      let correct = 0;
      for (let i = 0; i < n; i++) if (clean.predictions[i] === data.labels[i]) correct++;

      const progress = createProgress({
        label: `AutoAttack ${args.version} ${args.norm} eps=${args.eps}`,
        total: n,
        unit: "examples",
        mode: args.progress,
      });
      const result = await autoAttack(imported.classifier, data, {
        norm: args.norm,
        eps: args.eps,
        version: args.attacks ? "custom" : args.version,
        attacks: args.attacks,
        seed: args.seed,
        batchSize: args.batchSize,
        steps: args.steps,
        squareQueries: args.squareQueries,
        forward: (images, count) => ort.logits(images, count),
        onProgress: (done: number, note?: string) => progress.update(done, note),
      });
      await progress.finish();
      const adversarial = result.adversarial;
      const advPred = await ortPredict(ort, { ...data, images: adversarial }, { batchSize: args.batchSize });
      let robust = 0;
      for (let i = 0; i < n; i++) {
        if (advPred.predictions[i] === data.labels[i] && clean.predictions[i] === data.labels[i]) robust++;
      }
      const { adversarial: _, robust: __, ...rest } = result;
      return {
        model: args.model,
        data: data.name,
        settings: {
          norm: args.norm,
          eps: args.eps,
          n: args.n,
          version: args.version,
          seed: args.seed,
          normalization: args.normalization,
          layout: imported.signature.layout,
          batchSize: args.batchSize,
          steps: args.steps,
          squareQueries: args.squareQueries,
          attacks: args.attacks,
        },
        backend: backend.name,
        ortProvider: ort.provider.name,
        n,
        cleanAccuracy: correct / n,
        importAgreement: agree / n,
        importMaxLogitDiff: maxDiff,
        robustAccuracy: result.robustAccuracy,
        robustAccuracyOrt: robust / n,
        autoAttack: rest,
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      await ort.dispose();
    }
  } finally {
    imported.dispose();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The report as a readable table. */
export function formatReport(r: EvaluateReport): string {
  const rows: [string, string][] = [
    ["model", r.model],
    ["data", `${r.data} (${r.n} images)`],
    [
      "threat",
      `${r.settings.norm} eps = ${r.settings.eps}, AutoAttack ${r.settings.version}, seed ${r.settings.seed}`,
    ],
    ["engines", `forward: onnxruntime (${r.ortProvider}); gradients: tfjs import (${r.backend})`],
    [
      "import check",
      `${pct(r.importAgreement)} same predictions, max logit difference ${
        r.importMaxLogitDiff.toExponential(1)
      }`,
    ],
    ["clean accuracy", pct(r.cleanAccuracy)],
  ];
  const aa = r.autoAttack;
  for (const p of aa.perAttack) {
    rows.push([
      `  after ${p.name}`,
      `${pct(p.robustAccuracy)} (broke ${p.broken} of ${p.attacked}, ${p.seconds.toFixed(1)} s)`,
    ]);
  }
  rows.push([
    "robust accuracy",
    `${pct(r.robustAccuracy)} (onnxruntime on the same examples: ${pct(r.robustAccuracyOrt)})`,
  ]);
  rows.push(["flags", aa.flags.length ? `${aa.flags.length} of ${aa.checks.length} checks fired` : "none"]);
  for (const f of aa.flags) rows.push([`  ! ${f.name}`, f.message]);
  rows.push(["time", `${r.seconds.toFixed(1)} s`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** Where the report goes when `--out` is not given. */
export function defaultReportPath(args: EvaluateArgs): string {
  const cache = readEnv("ADVEX_CACHE_DIR") || join(repoRoot, ".cache", "advex");
  const base = args.model.split("/").pop()!.replace(/\.onnx$/, "");
  const data = args.data.split("/").filter(Boolean).pop()!;
  return join(cache, "results", "evaluate", `${base}-${data}-${args.norm}-${args.eps}-${args.version}.json`);
}

if (import.meta.main) {
  let args: EvaluateArgs;
  try {
    args = parseEvaluateArgs(Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
  try {
    console.error(`evaluate: ${describeBackend(await initBackend())}`);
    const report = await evaluateOnnxModel(args);
    const out = args.out ?? defaultReportPath(args);
    await Deno.mkdir(join(out, ".."), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
    console.log(formatReport(report));
    console.log(`report: ${out}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
