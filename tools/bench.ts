/**
 * Throughput benchmark of the library's hot paths: for each model and batch size, images per second of one
 * training step (Adam, cross-entropy), one FGSM attack, one PGD step and one inference pass, on the backend
 * `initBackend()` picks (or `--backend`). Each figure is the median of `--runs` timed repetitions after
 * `--warmup` untimed ones; "apgd-step" is an APGD-CE run of 10 gradient steps, timed per step; "ort-inference" runs the model's ONNX export in onnxruntime. Every measurement is printed as one JSON line on stdout (machine-readable), and a
 * readable table follows on stderr.
 *
 * ```
 * deno task bench [--models mlp,madry-cnn,resnet,resnet50] [--batches 128,512] [--runs 5] [--warmup 2]
 *                 [--backend auto|webgpu|wasm|cpu] [--tasks train,fgsm,pgd-step,apgd-step,inference,ort-inference]
 *                 [--ort-provider auto|cuda|webgpu|cpu]
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
import { exportOnnx, loadOrtModel, type OrtModel, type OrtProviderRequest } from "../lib/onnx/mod.ts";
import { asClassifier, buildModel, describeModel, type ModelSpec } from "../lib/models/mod.ts";
import { createOptimizer } from "../lib/train/optimizers.ts";

/** The models the benchmark knows, by short name. */
export const BENCH_MODELS: Record<string, ModelSpec> = {
  "mlp": { kind: "mlp", hidden: [256, 256] },
  "madry-cnn": { kind: "madry-cnn", scale: 16 },
  "resnet": { kind: "resnet", widths: [16, 32, 64], blocksPerStage: 1 },
  "resnet50": { kind: "resnet50", baseWidth: 4, stem: "small", stemStride: 2, zeroInitResidual: true },
};

/** The timed tasks. */
export const BENCH_TASKS = ["train", "fgsm", "pgd-step", "apgd-step", "inference", "ort-inference"] as const;
/** One of {@linkcode BENCH_TASKS}. */
export type BenchTask = typeof BENCH_TASKS[number];

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
  runs: number;
  machine: { cpu: string; cores: number; os: string };
}

/** Command-line settings. */
export interface BenchOptions {
  models: string[];
  batches: number[];
  tasks: BenchTask[];
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
        for (const m of opts.models) {
          if (!(m in BENCH_MODELS)) {
            throw new Error(`unknown model ${m}; known: ${Object.keys(BENCH_MODELS).join(", ")}`);
          }
        }
        break;
      case "--batches":
        opts.batches = value().split(",").map(Number);
        if (opts.batches.some((b) => !Number.isInteger(b) || b < 1)) {
          throw new Error("--batches takes positive integers");
        }
        break;
      case "--tasks":
        opts.tasks = value().split(",") as BenchTask[];
        for (const t of opts.tasks) {
          if (!BENCH_TASKS.includes(t)) {
            throw new Error(`unknown task ${t}; known: ${BENCH_TASKS.join(", ")}`);
          }
        }
        break;
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

/** Times `step` (which must finish its work, e.g. by reading a result) and returns the median in ms. */
async function timeStep(step: () => Promise<void>, warmup: number, runs: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Runs the benchmark and returns its records. */
export async function runBench(
  opts: BenchOptions,
  emit: (r: BenchRecord) => void = () => {},
): Promise<BenchRecord[]> {
  const report = await initBackend({ backend: opts.backend });
  console.error(`bench: ${describeBackend(report)}`);
  const host = machine();
  const native = await loadNative();
  const kernels = report.name !== "wasm" || !nativeKernelsRegistered()
    ? report.name
    : native.ok && native.library.directThreads > 0
    ? "native-direct"
    : "native-blas";
  const records: BenchRecord[] = [];
  for (const name of opts.models) {
    const spec = BENCH_MODELS[name];
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
      for (const task of opts.tasks) {
        const ms = await timeStep(steps[task], opts.warmup, opts.runs) / (task === "apgd-step" ? 10 : 1);
        const record: BenchRecord = {
          task,
          model: describeModel(spec),
          batch,
          backend: report.name,
          kernels,
          ...(task === "ort-inference" && ort ? { ortProvider: ort.provider.name } : {}),
          msPerStep: Math.round(ms * 100) / 100,
          imagesPerSecond: Math.round(batch / (ms / 1000)),
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
    console.error(
      `\n${benchTable(records)}\n(backend ${records[0]?.backend}, ${records[0]?.kernels} kernels; ${
        records[0]?.machine.cpu
      }, ${records[0]?.machine.cores} cores)`,
    );
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    Deno.exit(2);
  }
}
