/**
 * The site's attack playground (`playground.html`): a page where the reader attacks the course's own models
 * in the browser with advex's own attacks. The build
 *
 * - trains or loads, through {@linkcode trainCached} and the chapters' own job definitions, chapter 1's
 *   standard CNN, chapter 5's PGD-trained network (the capacity scale its sweep uses) and chapter 4's
 *   undefended network, which the page puts behind chapter 4's input quantiser (configs/playground.yaml
 *   may give the PGD-trained network more data or epochs; the page says so);
 * - exports each in tfjs layers format (`playground/models/<id>/model.json` and `weights.bin`) and, for
 *   pages opened from `file://` (where Chromium fetches no local file), embedded in `playground/data.js`
 *   with a few dozen MNIST test digits;
 * - bundles `tools/playground/main.ts` (tfjs with its WebGPU, WebGL, wasm and cpu backends, and
 *   `lib/attacks`, `lib/defenses`) with `deno bundle` into `playground/playground.js`, copies tfjs-wasm's
 *   binaries, also as `playground/wasm.js` for `file://`, and writes `playground.html`.
 *
 * ```
 * deno run -A --cached-only tools/site_playground.ts [--scale smoke|course|full|paper] [--out DIR]
 * ```
 * @module
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { type Scale, SCALES } from "../lib/config/load.ts";
import type { CapacityScale } from "../lib/experiments/adversarial_training.ts";
import type { TrainJob } from "../lib/train/cached.ts";
import type { ProgressMode } from "../lib/util/progress.ts";
import type { PlaygroundData, PlaygroundModelData, QuantizerData } from "./playground/data.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CONFIGS = `${ROOT}/configs`;
const WASM_DIR = `${ROOT}/node_modules/@tensorflow/tfjs-backend-wasm/dist`;
const WASM_FILES = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"];

/** The playground as the site's navigation lists it (one of `buildSite`'s extra pages). */
export const PLAYGROUND_PAGE: { title: string; html: string; description: string } = {
  title: "Attack playground",
  html: "playground.html",
  description: "FGSM, PGD, PGD through BPDA and Square against the course's models, run in your browser",
};

/** The parts of the page that a site frame places: its title, file name, styles and content. */
export interface PageParts {
  title: string;
  /** The page's file name in the site folder. */
  current: string;
  /** What goes into `<head>`: the playground's styles. */
  head: string;
  /** The playground itself and its scripts. */
  body: string;
}

/**
 * The playground's HTML from its template (tools/playground/page.html): the page on its own, with a link
 * to the index, or, given `frame`, the page `frame` builds around its parts (the site's header, sidebar and
 * previous/next links).
 */
export function playgroundHtml(template: string, frame?: (parts: PageParts) => string): string {
  if (!frame) return template;
  const part = (name: string) => {
    const match = new RegExp(`<!-- ${name} -->([\\s\\S]*)<!-- /${name} -->`).exec(template);
    if (!match) throw new Error(`playground: the page template has no <!-- ${name} --> part`);
    return match[1].trim();
  };
  return frame({
    title: `${PLAYGROUND_PAGE.title} · advex`,
    current: PLAYGROUND_PAGE.html,
    head: part("playground:head"),
    body: part("playground:body"),
  });
}

/** Options of {@linkcode buildPlayground}. */
export interface PlaygroundOptions {
  /** The site folder: `playground.html` and `playground/` are written into it. */
  outDir: string;
  /** The scale of the chapters' configs (the site build's `--scale`). */
  scale: Scale;
  /** Progress lines; default `console.log`. */
  log?: (line: string) => void;
  /** Progress display of training, when a model is not in the cache yet. Default "auto". */
  progress?: ProgressMode;
  /**
   * Builds the page around its parts in the site's frame, like the chapters' (`buildSite` passes one once
   * the chapters are written). Without it the page stands alone.
   */
  frame?: (parts: PageParts) => string;
}

/** One exported model, as {@linkcode buildPlayground} reports it. */
export interface ExportedModel {
  id: string;
  name: string;
  /** Trainable and non-trainable parameters. */
  parameters: number;
  /** Size of `model.json` and `weights.bin`. */
  modelJsonBytes: number;
  weightsBytes: number;
  /** Loaded from the cache (true) or trained by this build. */
  fromCache: boolean;
  /** The cache folder of its training job. */
  cacheDir: string;
}

/** What {@linkcode buildPlayground} wrote. */
export interface PlaygroundReport {
  /** Path of `playground.html`. */
  page: string;
  models: ExportedModel[];
  digits: number;
  /** Bytes of each file written, by path relative to the site folder. */
  files: Record<string, number>;
  /** Bytes the page loads from `file://`: the HTML, `wasm.js`, `data.js` and `playground.js`. */
  pageBytes: number;
  seconds: number;
}

/** The schema of configs/playground.yaml. */
async function playgroundSchema() {
  const { int, num, obj, optional } = await import("../lib/config/schema.ts");
  const none = undefined as unknown as number;
  return obj({
    /** Test digits exported (a seeded stratified subset of MNIST's test split). */
    digits: int({ min: 1, max: 1000 }),
    seed: int({ min: 0 }),
    /** The eps slider's start. */
    eps: num({ min: 0, max: 0.5 }),
    /** PGD's default steps. */
    pgdSteps: int({ min: 1 }),
    /** The Square attack's default model queries per image. */
    squareQueries: int({ min: 1 }),
    /** Overrides of the PGD-trained network's capacity entry (chapter 5) for the playground only. */
    pgdModel: optional(
      obj({ trainSize: optional(int({ min: 0 }), none), epochs: optional(int({ min: 1 }), none) }),
      {} as { trainSize?: number; epochs?: number },
    ),
  });
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/** The `globalThis.NAME = value;` script that carries `value` to a page opened from `file://`. */
function scriptAssigning(name: string, value: unknown): string {
  // "</" cannot end a script element that never sees it, but keep the file safe to inline anyway.
  return `globalThis.${name} = ${JSON.stringify(value).replaceAll("</", "<\\/")};\n`;
}

/** Bundles the playground's browser entry into one classic script (no modules: file:// forbids them). */
export async function bundlePlayground(outFile: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--format=iife",
      "--minify",
      `--config=${ROOT}/deno.json`,
      `--output=${outFile}`,
      `${ROOT}/tools/playground/main.ts`,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    throw new Error(
      `playground: deno bundle failed (exit ${output.code}; on first use it fetches its esbuild binary ` +
        `from the npm registry):\n${text.trim()}`,
    );
  }
}

/**
 * Builds the playground into `options.outDir`: trains or loads its models, exports them and the test
 * digits, bundles the page's script and writes `playground.html`. Returns what it wrote, with sizes.
 */
export async function buildPlayground(options: PlaygroundOptions): Promise<PlaygroundReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  const tf = await import("@tensorflow/tfjs");
  const { initBackend } = await import("../lib/backend/select.ts");
  const { loadExperiment } = await import("../lib/config/load.ts");
  const { notebook01Job, notebook01Schema } = await import("../lib/experiments/generalization.ts");
  const { capacityJob, notebook05Schema, sweptScale } = await import(
    "../lib/experiments/adversarial_training.ts"
  );
  const { maskingJobs, notebook04Schema } = await import("../lib/experiments/masking.ts");
  const { describeModel } = await import("../lib/models/build.ts");
  const { testData, trainCached } = await import("../lib/train/cached.ts");
  const { writeFileAtomic } = await import("../lib/util/fs.ts");

  const scale = options.scale;
  const cfg = await loadExperiment(`${CONFIGS}/playground.yaml`, await playgroundSchema(), scale);
  const cfg01 = await loadExperiment(
    `${CONFIGS}/01-generalization-vs-robustness.yaml`,
    notebook01Schema,
    scale,
  );
  const cfg04 = await loadExperiment(`${CONFIGS}/04-gradient-masking.yaml`, notebook04Schema, scale);
  const cfg05 = await loadExperiment(`${CONFIGS}/05-adversarial-training.yaml`, notebook05Schema, scale);
  await initBackend({ backend: cfg01.backend });

  const pgdMode = cfg05.modes.find((m) => m.attack?.kind === "pgd");
  if (!pgdMode) {
    throw new Error(`playground: configs/05-adversarial-training.yaml (${scale}) has no PGD mode`);
  }
  const pgdScale = sweptScale(cfg05);
  // An entry's absent trainSize or epochs means the chapter's default (capacityJob fills them in).
  const chapterEntry = cfg05.scales.find((s) => s.scale === pgdScale) ??
    ({ scale: pgdScale } as CapacityScale);
  const override = Object.fromEntries(
    Object.entries(cfg.pgdModel).filter(([, v]) => v !== undefined),
  ) as Partial<CapacityScale>;
  const pgdJob = capacityJob(cfg05, pgdMode, { ...chapterEntry, ...override });
  const chapterPgdJob = capacityJob(cfg05, pgdMode, chapterEntry);
  const notes: string[] = [];
  const trainedFor = (job: TrainJob) => {
    const size = (job.data as { trainSize?: number }).trainSize;
    return `${size ? size.toLocaleString("en") : "all 60,000"} training images, ` +
      `${job.train.epochs} epoch${job.train.epochs === 1 ? "" : "s"}`;
  };
  if (Object.keys(override).length > 0) {
    notes.push(
      `At scale ${scale} the PGD-trained network is chapter 5's job with more training than the chapter ` +
        `gives it (${trainedFor(pgdJob)} instead of ${
          trainedFor(chapterPgdJob)
        }; configs/playground.yaml): ` +
        `the chapter's own ${scale}-scale network is too briefly trained to resist PGD at eps ${cfg05.eps}.`,
    );
  }
  const undefendedJob = maskingJobs(cfg04).undefended;
  const quantizer: QuantizerData = {
    levels: cfg04.quantizer.levels,
    softSurrogate: cfg04.quantizer.softSurrogate,
    temperature: cfg04.quantizer.temperature,
  };
  const pgdAttack = pgdMode.attack!;
  const specs: { id: string; name: string; description: string; job: TrainJob; quantizer?: QuantizerData }[] =
    [
      {
        id: "standard",
        name: "Standard CNN (chapter 1)",
        description: `Chapter 1's ${describeModel(cfg01.model)}, trained by ERM on ${
          trainedFor(notebook01Job(cfg01))
        }.`,
        job: notebook01Job(cfg01),
      },
      {
        id: "pgd-trained",
        name: "PGD-trained CNN (chapter 5)",
        description: `Chapter 5's ${describeModel(pgdJob.model)}, adversarially trained against ` +
          `PGD-${pgdAttack.kind === "pgd" ? pgdAttack.steps : "?"} at eps ${pgdAttack.eps} on ${
            trainedFor(pgdJob)
          }.`,
        job: pgdJob,
      },
      {
        id: "quantised",
        name: "Quantised defence (chapter 4)",
        description:
          `Chapter 4's ${describeModel(cfg04.undefended.model)} (standard training) behind an input ` +
          `quantiser of ${quantizer.levels} levels: its input gradient is zero, so plain gradient attacks stall; ` +
          `BPDA back-propagates through the quantiser as the ${
            quantizer.softSurrogate ? "soft staircase" : "identity"
          }.`,
        job: undefendedJob,
        quantizer,
      },
    ];

  const dir = `${options.outDir}/playground`;
  await Deno.mkdir(`${dir}/models`, { recursive: true });
  const files: Record<string, number> = {};
  const write = async (relative: string, data: Uint8Array | string) => {
    await writeFileAtomic(`${options.outDir}/${relative}`, data);
    files[relative] = typeof data === "string" ? new TextEncoder().encode(data).length : data.length;
  };

  const models: PlaygroundModelData[] = [];
  const exported: ExportedModel[] = [];
  for (const spec of specs) {
    const t0 = performance.now();
    const trained = await trainCached(spec.job, { progress: options.progress ?? "auto", label: spec.name });
    let artifacts: tfTypes.io.ModelArtifacts | undefined;
    await trained.model.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } });
    }));
    const raw = artifacts!.weightData!;
    const weights = new Uint8Array(Array.isArray(raw) ? tf.io.concatenateArrayBuffers(raw) : raw);
    const weightSpecs = artifacts!.weightSpecs!;
    const modelJson = JSON.stringify({
      format: "layers-model",
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: "advex tools/site_playground.ts",
      modelTopology: artifacts!.modelTopology,
      weightsManifest: [{ paths: ["weights.bin"], weights: weightSpecs }],
    });
    await write(`playground/models/${spec.id}/model.json`, modelJson);
    await write(`playground/models/${spec.id}/weights.bin`, weights);
    models.push({
      id: spec.id,
      name: spec.name,
      description: spec.description,
      topology: artifacts!.modelTopology,
      weightSpecs,
      weights: toBase64(weights),
      ...(spec.quantizer ? { quantizer: spec.quantizer } : {}),
    });
    exported.push({
      id: spec.id,
      name: spec.name,
      parameters: trained.model.countParams(),
      modelJsonBytes: files[`playground/models/${spec.id}/model.json`],
      weightsBytes: weights.length,
      fromCache: trained.fromCache,
      cacheDir: trained.dir,
    });
    trained.model.dispose();
    log(
      `playground: ${spec.name}: ${trained.fromCache ? "from the cache" : "trained"} ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s), ${
          (weights.length / 1024).toFixed(0)
        } KiB of weights`,
    );
  }

  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  notes.push(
    `The models are exported in tfjs layers format (playground/models/{${
      exported.map((m) => m.id).join(",")
    }}/` +
      `model.json and weights.bin): ` +
      exported.map((m) =>
        `${m.name}, ${m.parameters.toLocaleString("en")} parameters, ${kib(m.weightsBytes)}`
      )
        .join("; ") +
      ".",
  );

  // The digits: a seeded stratified subset of the test split, sorted by label for the picker.
  const test = await testData({ dataset: "mnist", testSize: cfg.digits, seed: cfg.seed });
  const order = Array.from(test.labels.keys()).sort((a, b) => test.labels[a] - test.labels[b] || a - b);
  const pixels = new Uint8Array(order.length * 784);
  order.forEach((j, i) => {
    for (let p = 0; p < 784; p++) pixels[i * 784 + p] = Math.round(test.images[j * 784 + p] * 255);
  });
  notes.push(
    `The ${order.length} digits are a seeded stratified subset of MNIST's test set (seed ${cfg.seed}), ` +
      `which none of the models trained on.`,
    `PGD starts from a random point of the eps-ball (seed 0) and takes steps of 2.5 eps / steps, as in the ` +
      `chapters; FGSM is one step of eps. Square (Andriushchenko et al. 2020) is a random search over square ` +
      `windows that uses the model's outputs only: the quantiser's zero gradient does not stop it. Times are ` +
      `for the attack alone, on this browser's tfjs backend.`,
  );
  const data: PlaygroundData = {
    scale,
    built: new Date().toISOString(),
    eps: cfg.eps,
    pgdSteps: cfg.pgdSteps,
    squareQueries: cfg.squareQueries,
    digits: { labels: order.map((j) => test.labels[j]), pixels: toBase64(pixels) },
    models,
    notes,
  };
  await write("playground/data.js", scriptAssigning("ADVEX_PLAYGROUND", data));

  const wasm: Record<string, string> = {};
  for (const name of WASM_FILES) {
    const bytes = await Deno.readFile(`${WASM_DIR}/${name}`);
    await write(`playground/${name}`, bytes);
    wasm[name] = toBase64(bytes);
  }
  await write("playground/wasm.js", scriptAssigning("ADVEX_PLAYGROUND_WASM", wasm));

  await bundlePlayground(`${dir}/playground.js`);
  files["playground/playground.js"] = (await Deno.stat(`${dir}/playground.js`)).size;
  const template = await Deno.readTextFile(`${ROOT}/tools/playground/page.html`);
  await write("playground.html", playgroundHtml(template, options.frame));

  const pageBytes = [
    "playground.html",
    "playground/wasm.js",
    "playground/data.js",
    "playground/playground.js",
  ]
    .reduce((sum, f) => sum + files[f], 0);
  const seconds = (performance.now() - started) / 1000;
  log(
    `playground: ${options.outDir}/playground.html, ${(pageBytes / 1024 / 1024).toFixed(1)} MiB with its ` +
      `scripts, in ${seconds.toFixed(1)} s`,
  );
  return {
    page: `${options.outDir}/playground.html`,
    models: exported,
    digits: order.length,
    files,
    pageBytes,
    seconds,
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const scale = (value("--scale") ?? "course") as Scale;
  if (!(SCALES as readonly string[]).includes(scale)) {
    console.error(`site_playground: --scale must be one of ${SCALES.join(", ")}, not '${scale}'`);
    Deno.exit(2);
  }
  const report = await buildPlayground({
    outDir: value("--out") ?? `${ROOT}/site`,
    scale,
    progress: "terminal",
  });
  console.log(
    JSON.stringify({ ...report, models: report.models.map(({ cacheDir: _, ...m }) => m) }, null, 2),
  );
}
