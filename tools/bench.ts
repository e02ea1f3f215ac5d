/**
 * Throughput benchmark of the library's hot paths: for each model and batch size, images per second of one
 * training step (Adam, cross-entropy), one FGSM attack, one PGD step and one inference pass, on the backend
 * `initBackend()` picks (or `--backend`). Each figure is the median of `--runs` timed repetitions after
 * `--warmup` untimed ones; the tasks of a batch take turns within each repetition, so that a change in the
 * machine's load touches them alike and their ratios hold. "apgd-step" is an APGD-CE run of 10 gradient
 * steps, timed per step, and its record gives its time per PGD step ("perPgdStep") when "pgd-step" ran
 * beside it; "ort-inference" runs the model's ONNX export in onnxruntime. Every measurement is printed as one
 * JSON line on stdout (machine-readable), and a readable table follows on stderr.
 *
 * The task "autoattack" (not run by default) times AutoAttack `standard` (APGD-CE, APGD-T, FAB-T, Square
 * 5,000; l-inf, eps 0.3) on the first `--autoattack-size` (default 1,000) images of the stratified MNIST test
 * subset of `deno task robust`, against that tool's PGD-trained scale-16 Madry CNN: the same cached model,
 * trained first (about 32 minutes on 2 cores, resumable) when it is not in the cache.
 *
 * ```
 * deno task bench [--models mlp,madry-cnn,madry-cnn:8,resnet,resnet50] [--batches 128,512]
 *                 [--runs 5] [--warmup 2] [--backend auto|webgpu|wasm|cpu]
 *                 [--tasks train,fgsm,pgd-step,apgd-step,inference,ort-inference]
 *                 [--ort-provider auto|cuda|webgpu|cpu]
 * deno task bench --tasks autoattack [--autoattack-size 1000]
 * ADVEX_NATIVE=0 deno task bench ...   # the same without the native kernels
 * ```
 *
 * It is a benchmark, not a test: it asserts nothing about time.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "../lib/attacks/loss.ts";
import { apgd } from "../lib/attacks/apgd.ts";
import { fgsm, gradientStep } from "../lib/attacks/fgsm.ts";
import { LinfBall } from "../lib/attacks/threat.ts";
import {
  type BackendRequest,
  describeBackend,
  initBackend,
  loadNative,
  nativeKernelsRegistered,
} from "../lib/backend/mod.ts";
import {
  exportOnnx,
  loadOrtModel,
  type OrtModel,
  type OrtProviderRequest,
  withOrtForward,
} from "../lib/onnx/mod.ts";
import { asClassifier, buildModel, describeModel, type ModelSpec } from "../lib/models/mod.ts";
import { createOptimizer } from "../lib/train/optimizers.ts";
import { testData, trainCached } from "../lib/train/mod.ts";
import { autoAttack } from "../lib/eval/autoattack.ts";
import { robustCnnJob } from "../lib/experiments/adversarial_training.ts";
import { pct } from "../lib/report/format.ts";

/** The models the benchmark knows, by short name. */
export const BENCH_MODELS: Record<string, ModelSpec> = {
  "mlp": { kind: "mlp", hidden: [256, 256] },
  "madry-cnn": { kind: "madry-cnn", scale: 16 },
  "resnet": { kind: "resnet", widths: [16, 32, 64], blocksPerStage: 1 },
  "resnet50": { kind: "resnet50", baseWidth: 4, stem: "small", stemStride: 2, zeroInitResidual: true },
};

/**
 * The spec of a benchmark model: a name of {@linkcode BENCH_MODELS}, or `madry-cnn:<scale>` for the Madry
 * CNN at another capacity scale (a positive integer; chapter 5 trains scales 1 to 16). Anything else is an
 * error listing what is known.
 */
export function benchModel(name: string): ModelSpec {
  if (name in BENCH_MODELS) return BENCH_MODELS[name];
  const scaled = /^madry-cnn:(\d+)$/.exec(name);
  if (scaled && Number(scaled[1]) >= 1) return { kind: "madry-cnn", scale: Number(scaled[1]) };
  throw new Error(`unknown model ${name}; known: ${Object.keys(BENCH_MODELS).join(", ")}, madry-cnn:<scale>`);
}

/** The timed tasks per model and batch, run by default. */
export const BENCH_TASKS = ["train", "fgsm", "pgd-step", "apgd-step", "inference", "ort-inference"] as const;
/** One of {@linkcode BENCH_TASKS}. */
export type BenchTask = typeof BENCH_TASKS[number];
/** The tasks `--tasks` accepts: {@linkcode BENCH_TASKS} and "autoattack", which runs only when asked for. */
export const ALL_BENCH_TASKS = [...BENCH_TASKS, "autoattack"] as const;

/** One measurement, as printed. */
export interface BenchRecord {
  task: BenchTask;
  model: string;
  batch: number;
  backend: string;
  /**
   * Which kernels ran: "native-direct" (the native library with its direct AVX-512 convolutions, and
   * OpenBLAS), "native-blas" (the native library through OpenBLAS only) or the backend's own.
   */
  kernels: string;
  /** The onnxruntime provider, for "ort-inference". */
  ortProvider?: string;
  /** Median milliseconds per step. */
  msPerStep: number;
  /** Images per second at the median. */
  imagesPerSecond: number;
  /** For "apgd-step" timed beside "pgd-step": its median time over the PGD step's. */
  perPgdStep?: number;
  runs: number;
  machine: { cpu: string; cores: number; os: string };
}

/** The record of the "autoattack" task. */
export interface AutoAttackBenchRecord {
  task: "autoattack";
  model: string;
  /** Test images attacked. */
  n: number;
  backend: string;
  kernels: string;
  /** What runs the forward-only passes (Square's queries, FAB-T's predictions): onnxruntime or tfjs. */
  squareForward: string;
  /** Wall time of AutoAttack, model training and loading excluded. */
  seconds: number;
  imagesPerSecond: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  perAttack: { name: string; attacked: number; robustAccuracy: number; seconds: number }[];
  machine: BenchRecord["machine"];
}

/** Command-line settings. */
export interface BenchOptions {
  models: string[];
  batches: number[];
  tasks: BenchTask[];
  /** Run the "autoattack" task. */
  autoAttack: boolean;
  /** Images the "autoattack" task attacks. Default 1000. */
  autoAttackSize: number;
  runs: number;
  warmup: number;
  backend?: BackendRequest;
  /** onnxruntime provider of "ort-inference" (default: env ADVEX_ORT_PROVIDER, else auto). */
  ortProvider?: OrtProviderRequest;
}

/** Parses the command line (see the module doc). */
export function parseBenchArgs(args: string[]): BenchOptions {
  const opts: BenchOptions = {
    models: Object.keys(BENCH_MODELS),
    batches: [128, 512],
    tasks: [...BENCH_TASKS],
    autoAttack: false,
    autoAttackSize: 1000,
    runs: 5,
    warmup: 2,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--models":
        opts.models = value().split(",");
        for (const m of opts.models) benchModel(m);
        break;
      case "--batches":
        opts.batches = value().split(",").map(Number);
        if (opts.batches.some((b) => !Number.isInteger(b) || b < 1)) {
          throw new Error("--batches takes positive integers");
        }
        break;
      case "--tasks": {
        const tasks = value().split(",");
        for (const t of tasks) {
          if (!(ALL_BENCH_TASKS as readonly string[]).includes(t)) {
            throw new Error(`unknown task ${t}; known: ${ALL_BENCH_TASKS.join(", ")}`);
          }
        }
        opts.autoAttack = tasks.includes("autoattack");
        opts.tasks = tasks.filter((t) => t !== "autoattack") as BenchTask[];
        break;
      }
      case "--autoattack-size": {
        const text = value();
        opts.autoAttackSize = Number(text);
        if (
          !Number.isInteger(opts.autoAttackSize) || opts.autoAttackSize < 10 || opts.autoAttackSize > 10000
        ) {
          throw new Error(`--autoattack-size must be an integer from 10 to 10000, got '${text}'`);
        }
        break;
      }
      case "--runs":
        opts.runs = Number(value());
        break;
      case "--warmup":
        opts.warmup = Number(value());
        break;
      case "--backend":
        opts.backend = value() as BackendRequest;
        break;
      case "--ort-provider":
        opts.ortProvider = value() as OrtProviderRequest;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (!(opts.runs >= 1) || !(opts.warmup >= 0)) throw new Error("--runs must be >= 1 and --warmup >= 0");
  return opts;
}

function machine(): BenchRecord["machine"] {
  let cpu = "unknown";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpu;
  } catch { /* not Linux */ }
  return { cpu, cores: navigator.hardwareConcurrency, os: `${Deno.build.os}-${Deno.build.arch}` };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Times each of `steps` (each must finish its work, e.g. by reading a result) and returns their medians in
 * ms. The steps take turns within each repetition, so that a change in the machine's load touches all alike.
 */
export async function timeSteps(
  steps: (() => Promise<void>)[],
  warmup: number,
  runs: number,
): Promise<number[]> {
  for (const step of steps) for (let i = 0; i < warmup; i++) await step();
  const times = steps.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, step] of steps.entries()) {
      const t0 = performance.now();
      await step();
      times[k].push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/** The backend, its kernels and the machine, as every record states them. */
async function benchSetting(opts: BenchOptions) {
  const report = await initBackend({ backend: opts.backend });
  const native = await loadNative();
  const kernels = report.name !== "wasm" || !nativeKernelsRegistered()
    ? report.name
    : native.ok && native.library.directThreads > 0
    ? "native-direct"
    : "native-blas";
  return { report, kernels, host: machine() };
}

/** Runs the benchmark's per-model tasks and returns their records. */
export async function runBench(
  opts: BenchOptions,
  emit: (r: BenchRecord) => void = () => {},
): Promise<BenchRecord[]> {
  const { report, kernels, host } = await benchSetting(opts);
  console.error(`bench: ${describeBackend(report)}`);
  const records: BenchRecord[] = [];
  if (opts.tasks.length === 0) return records;
  for (const name of opts.models) {
    const spec = benchModel(name);
    const model = buildModel(spec, { inputShape: [28, 28, 1], classes: 10 }, 1);
    const classifier = asClassifier(model);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const optimizer = createOptimizer({ name: "adam", learningRate: 1e-4 }, vars);
    const threat = new LinfBall(0.3);
    let ort: OrtModel | undefined;
    for (const batch of opts.batches) {
      const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
      const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32");
      const xData = x.dataSync() as Float32Array;
      const steps: Record<BenchTask, () => Promise<void>> = {
        "train": async () => {
          const loss = tf.tidy(() => {
            const { value, grads } = tf.variableGrads(
              () => tf.mean(crossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y)) as tf.Scalar,
              vars,
            );
            optimizer.apply(vars.map((v) => grads[v.name]));
            return value;
          });
          await loss.data();
          loss.dispose();
        },
        "fgsm": async () => {
          const r = fgsm(classifier, x, y, { eps: 0.3 });
          await r.adversarial.data();
          r.adversarial.dispose();
        },
        "pgd-step": async () => {
          const next = gradientStep(classifier, x, x, y, threat, 0.01, false);
          await next.data();
          next.dispose();
        },
        "apgd-step": async () => {
          // 9 iterations after the gradient at the start: 10 gradient steps, timed per step below.
          const r = apgd(classifier, x, y, { eps: 0.3, steps: 9 });
          await r.adversarial.data();
          r.adversarial.dispose();
        },
        "inference": async () => {
          const pred = tf.tidy(() => tf.argMax(classifier(x), 1));
          await pred.data();
          pred.dispose();
        },
        "ort-inference": async () => {
          ort ??= await loadOrtModel(exportOnnx(model), { provider: opts.ortProvider });
          await ort.predict(xData);
        },
      };
      const medians = await timeSteps(opts.tasks.map((t) => steps[t]), opts.warmup, opts.runs);
      const msOf = (task: BenchTask) => medians[opts.tasks.indexOf(task)] / (task === "apgd-step" ? 10 : 1);
      for (const task of opts.tasks) {
        const ms = msOf(task);
        const ratio = task === "apgd-step" && opts.tasks.includes("pgd-step")
          ? ms / msOf("pgd-step")
          : undefined;
        const record: BenchRecord = {
          task,
          model: describeModel(spec),
          batch,
          backend: report.name,
          kernels,
          ...(task === "ort-inference" && ort ? { ortProvider: ort.provider.name } : {}),
          msPerStep: Math.round(ms * 100) / 100,
          imagesPerSecond: Math.round(batch / (ms / 1000)),
          ...(ratio !== undefined ? { perPgdStep: Math.round(ratio * 1000) / 1000 } : {}),
          runs: opts.runs,
          machine: host,
        };
        records.push(record);
        emit(record);
      }
      tf.dispose([x, y]);
    }
    await ort?.dispose();
    optimizer.dispose();
    model.dispose();
  }
  return records;
}

/**
 * The "autoattack" task: AutoAttack `standard` at eps 0.3 on the first `opts.autoAttackSize` images of
 * `deno task robust`'s evaluation subset, against its PGD-trained network (loaded from the cache, or trained).
 */
export async function benchAutoAttack(opts: BenchOptions): Promise<AutoAttackBenchRecord> {
  const { report, kernels, host } = await benchSetting(opts);
  const job = robustCnnJob();
  const trained = await trainCached(job, { progress: "auto" });
  if (!trained.fromCache) {
    console.error("bench: the network was trained; AutoAttack's time below excludes it");
  }
  const images = await testData({ dataset: "mnist", testSize: opts.autoAttackSize, seed: 0 });
  const { r, seconds, forwardName } = await withOrtForward(
    trained.model,
    async ({ forward, name, fallback }) => {
      if (fallback) console.error(`bench: ${fallback}; the forward-only passes use tfjs`);
      const t0 = performance.now();
      const r = await autoAttack(trained.classifier, images, {
        norm: "linf",
        eps: 0.3,
        version: "standard",
        seed: 13,
        // All the images in one batch: the gradient attacks' steps are about 8% faster per image at 1,000 than at
        // AutoAttack's default 256 on 2 cores (a partial last batch costs too); Square's queries barely change.
        batchSize: Math.min(opts.autoAttackSize, 1000),
        forward,
        label: "AutoAttack",
        progress: "auto",
      });
      return { r, seconds: (performance.now() - t0) / 1000, forwardName: name };
    },
  );
  trained.model.dispose();
  return {
    task: "autoattack",
    model: `${describeModel(job.model)}, PGD-trained (deno task robust)`,
    n: r.n,
    backend: report.name,
    kernels,
    squareForward: forwardName,
    seconds: Math.round(seconds * 10) / 10,
    imagesPerSecond: Math.round((r.n / seconds) * 100) / 100,
    cleanAccuracy: r.cleanAccuracy,
    robustAccuracy: r.robustAccuracy,
    perAttack: r.perAttack.map((a) => ({
      name: a.name,
      attacked: a.attacked,
      robustAccuracy: a.robustAccuracy,
      seconds: Math.round(a.seconds * 10) / 10,
    })),
    machine: host,
  };
}

/** The records as an aligned table. */
export function benchTable(records: BenchRecord[]): string {
  const head = ["model", "batch", "task", "ms/step", "images/s"];
  const rows = records.map((
    r,
  ) => [r.model, String(r.batch), r.task, r.msPerStep.toFixed(1), r.imagesPerSecond.toLocaleString("en-US")]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

if (import.meta.main) {
  try {
    const opts = parseBenchArgs(Deno.args);
    const records = await runBench(opts, (r) => console.log(JSON.stringify(r)));
    if (records.length) {
      console.error(
        `\n${benchTable(records)}\n(backend ${records[0].backend}, ${records[0].kernels} kernels; ${
          records[0].machine.cpu
        }, ${records[0].machine.cores} cores)`,
      );
    }
    if (opts.autoAttack) {
      const r = await benchAutoAttack(opts);
      console.log(JSON.stringify(r));
      console.error(
        `\nAutoAttack standard on ${r.n} images: ${(r.seconds / 60).toFixed(1)} min, ${
          pct(r.cleanAccuracy)
        } ` +
          `clean, ${pct(r.robustAccuracy)} robust (` +
          r.perAttack.map((a) => `${a.name} ${Math.round(a.seconds)} s`).join(", ") +
          `; backend ${r.backend}, ${r.kernels} kernels; ${r.machine.cpu}, ${r.machine.cores} cores)`,
      );
    }
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    Deno.exit(2);
  }
}
