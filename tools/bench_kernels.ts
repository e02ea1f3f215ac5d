/**
 * Benchmarks training and attack steps on the wasm backend with the kernels of `lib/backend`.
 *
 * ```
 * deno run -A tools/bench_kernels.ts [--steps N] [--warmup N] [--batch N] [--method auto|conv|im2col]
 *                                    [--compare] [--only madry|quarter|mlp] [--no-table]
 * ```
 *
 * For each model (a) the Madry MNIST CNN (conv 5x5x32 same, maxpool 2, conv 5x5x64 same, maxpool 2,
 * dense 1024, dense 10), (b) the same at a quarter width (8, 16, 256) and (c) an MLP 784-256-256-10, it
 * times one Adam training step at batch 128 and, for the CNNs, the FGSM cost (forward and backward pass
 * with respect to the input, plus the signed step). Each figure is the median over `--steps` timed runs
 * after `--warmup` untimed ones. Every measurement is printed as one JSON line; a table follows.
 *
 * `--compare` also times each convolution layer's gradient kernels in isolation: the filter gradient by
 * the "conv" and "im2col" formulations, and the input gradient by the "conv" and "col2im" formulations and
 * by the stock wasm kernel; and it repeats the CNN steps with the filter-gradient method forced to each
 * formulation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  FILTER_GRAD_METHOD,
  type FilterGradMethod,
  initBackend,
  INPUT_GRAD_METHOD,
  originalKernel,
} from "../lib/backend/mod.ts";

/** One timed measurement. */
export interface BenchRecord {
  /** What was timed: "train_step", "fgsm", "filter_grad" or "input_grad". */
  task: string;
  /** The model, or the layer for kernel timings. */
  subject: string;
  /** The variant measured (the filter-gradient method, or "replacement"/"stock"). */
  variant: string;
  batch: number;
  medianMs: number;
  imagesPerSecond: number;
  runs: number;
}

/** Options of the benchmark, from the command line. */
export interface BenchOptions {
  steps: number;
  warmup: number;
  batch: number;
  method: FilterGradMethod;
  compare: boolean;
  only?: string;
  table: boolean;
}

interface ModelSpec {
  name: string;
  build: () => tf.Sequential;
  inputShape: number[];
  attack: boolean;
}

function cnn(filters1: number, filters2: number, hidden: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: filters1,
        kernelSize: 5,
        padding: "same",
        activation: "relu",
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: filters2, kernelSize: 5, padding: "same", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: hidden, activation: "relu" }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: "relu" }),
      tf.layers.dense({ units: 256, activation: "relu" }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** The benchmarked models. */
export const MODELS: readonly ModelSpec[] = [
  { name: "madry", build: () => cnn(32, 64, 1024), inputShape: [28, 28, 1], attack: true },
  { name: "quarter", build: () => cnn(8, 16, 256), inputShape: [28, 28, 1], attack: true },
  { name: "mlp", build: mlp, inputShape: [784], attack: false },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` `warmup` times untimed and `steps` times timed; returns the median in milliseconds. */
function timeMedian(fn: () => void, steps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

function record(
  task: string,
  subject: string,
  variant: string,
  batch: number,
  medianMs: number,
  runs: number,
): BenchRecord {
  const rec = { task, subject, variant, batch, medianMs, imagesPerSecond: (batch * 1000) / medianMs, runs };
  console.log(
    JSON.stringify({ ...rec, medianMs: round(medianMs, 2), imagesPerSecond: round(rec.imagesPerSecond, 1) }),
  );
  return rec;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Times one Adam step and (for CNNs) one FGSM step of `spec` at the given batch size. */
function benchModel(spec: ModelSpec, options: BenchOptions, variant: string): BenchRecord[] {
  const out: BenchRecord[] = [];
  const model = spec.build();
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([options.batch, ...spec.inputShape], 0, 1, "float32", 1);
  const labels = tf.oneHot(tf.randomUniform([options.batch], 0, 10, "int32", 2) as tf.Tensor1D, 10);
  const loss = () =>
    tf.tidy(() =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar
    );
  const trainStep = () => {
    const value = optimizer.minimize(loss, true)!;
    value.dataSync();
    value.dispose();
  };
  out.push(
    record(
      "train_step",
      spec.name,
      variant,
      options.batch,
      timeMedian(trainStep, options.steps, options.warmup),
      options.steps,
    ),
  );
  if (spec.attack) {
    const inputGrad = tf.grad((input: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(input) as tf.Tensor) as tf.Scalar
    );
    const fgsm = () => {
      const adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(0.3, tf.sign(inputGrad(x)))), 0, 1));
      adv.dataSync();
      adv.dispose();
    };
    out.push(
      record(
        "fgsm",
        spec.name,
        variant,
        options.batch,
        timeMedian(fgsm, options.steps, options.warmup),
        options.steps,
      ),
    );
  }
  tf.dispose([x, labels]);
  optimizer.dispose();
  model.dispose();
  return out;
}

/** Runs `setup` (untimed) and `fn` on its result (timed) `warmup + steps` times; returns the median. */
function timeMedianWithSetup<T>(
  setup: () => T,
  fn: (input: T) => void,
  steps: number,
  warmup: number,
): number {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const input = setup();
    const start = performance.now();
    fn(input);
    if (i >= warmup) times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Times the gradient kernels of each convolution layer of the two CNNs in isolation. Every run gets a
 * fresh copy of the operand XNNPACK packs (dy for the filter gradient, the filter for the input
 * gradient), as in training, where both change at every step.
 */
function benchConvKernels(options: BenchOptions): BenchRecord[] {
  const out: BenchRecord[] = [];
  const backend = tf.backend() as unknown as BackendWasm;
  const layers = [
    { subject: "madry conv1 28x28x1->32", x: [28, 28, 1], filter: [5, 5, 1, 32] },
    { subject: "madry conv2 14x14x32->64", x: [14, 14, 32], filter: [5, 5, 32, 64] },
    { subject: "quarter conv1 28x28x1->8", x: [28, 28, 1], filter: [5, 5, 1, 8] },
    { subject: "quarter conv2 14x14x8->16", x: [14, 14, 8], filter: [5, 5, 8, 16] },
  ];
  const stockInput = originalKernel("Conv2DBackpropInput", "wasm");
  const previous = { filter: tf.env().get(FILTER_GRAD_METHOD), input: tf.env().get(INPUT_GRAD_METHOD) };
  const fresh = (t: tf.Tensor) => () => tf.add(t, 0);
  const finish = (t: tf.Tensor) => {
    t.dataSync();
    t.dispose();
  };
  for (const layer of layers) {
    const xShape = [options.batch, ...layer.x];
    const dyShape = [options.batch, layer.x[0], layer.x[1], layer.filter[3]];
    const x = tf.randomNormal(xShape, 0, 1, "float32", 3);
    const dy = tf.randomNormal(dyShape, 0, 1, "float32", 4);
    const w = tf.randomNormal(layer.filter, 0, 1, "float32", 5);
    const common = { strides: [1, 1], pad: "same", dataFormat: "NHWC" };
    const filterAttrs = { ...common, filterShape: layer.filter } as unknown as tf.NamedAttrMap;
    const inputAttrs = { ...common, inputShape: xShape } as unknown as tf.NamedAttrMap;
    for (const method of ["auto", "conv", "im2col"] as const) {
      tf.env().set(FILTER_GRAD_METHOD, method);
      const run = (g: tf.Tensor) => {
        finish(tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: g }, filterAttrs) as tf.Tensor);
        g.dispose();
      };
      const ms = timeMedianWithSetup(fresh(dy), run, options.steps, 2);
      out.push(record("filter_grad", layer.subject, method, options.batch, ms, options.steps));
    }
    for (const method of ["auto", "conv", "col2im"] as const) {
      tf.env().set(INPUT_GRAD_METHOD, method);
      const run = (filter: tf.Tensor) => {
        finish(tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, inputAttrs) as tf.Tensor);
        filter.dispose();
      };
      const ms = timeMedianWithSetup(fresh(w), run, options.steps, 2);
      out.push(record("input_grad", layer.subject, method, options.batch, ms, options.steps));
    }
    if (stockInput !== undefined) {
      const run = (filter: tf.Tensor) => {
        const inputs = { dy, filter };
        const info = stockInput.kernelFunc({ inputs, backend, attrs: inputAttrs }) as tf.TensorInfo;
        backend.readSync(info.dataId, 0, 1);
        backend.disposeData(info.dataId);
        filter.dispose();
      };
      const runs = Math.max(3, Math.min(options.steps, 5));
      const ms = timeMedianWithSetup(fresh(w), run, runs, 1);
      out.push(record("input_grad", layer.subject, "stock", options.batch, ms, runs));
    }
    tf.dispose([x, dy, w]);
  }
  tf.env().set(FILTER_GRAD_METHOD, previous.filter);
  tf.env().set(INPUT_GRAD_METHOD, previous.input);
  return out;
}

function formatTable(records: BenchRecord[]): string {
  const header = ["task", "subject", "variant", "batch", "median ms", "images/s"];
  const rows = records.map((r) => [
    r.task,
    r.subject,
    r.variant,
    String(r.batch),
    r.medianMs.toFixed(1),
    r.imagesPerSecond.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Parses the command line. */
export function parseArgs(args: string[]): BenchOptions {
  const options: BenchOptions = {
    steps: 7,
    warmup: 2,
    batch: 128,
    method: "auto",
    compare: false,
    table: true,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--steps":
        options.steps = Number(value());
        break;
      case "--warmup":
        options.warmup = Number(value());
        break;
      case "--batch":
        options.batch = Number(value());
        break;
      case "--method":
        options.method = value() as FilterGradMethod;
        break;
      case "--only":
        options.only = value();
        break;
      case "--compare":
        options.compare = true;
        break;
      case "--no-table":
        options.table = false;
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
  }
  if (!(options.steps >= 1 && options.warmup >= 0 && options.batch >= 1)) {
    throw new Error("--steps and --batch must be at least 1, --warmup at least 0");
  }
  return options;
}

/** Runs the benchmark and returns its records. */
export async function runBench(options: BenchOptions): Promise<BenchRecord[]> {
  const report = await initBackend({ backend: "wasm" });
  console.error(`backend: ${report.name}: ${report.reason}`);
  tf.env().set(FILTER_GRAD_METHOD, options.method);
  const records: BenchRecord[] = [];
  const models = MODELS.filter((m) => options.only === undefined || m.name === options.only);
  for (const spec of models) records.push(...benchModel(spec, options, options.method));
  if (options.compare) {
    records.push(...benchConvKernels(options));
    for (const method of ["conv", "im2col"] as const) {
      if (method === options.method) continue;
      tf.env().set(FILTER_GRAD_METHOD, method);
      for (const spec of models.filter((m) => m.attack)) records.push(...benchModel(spec, options, method));
    }
    tf.env().set(FILTER_GRAD_METHOD, options.method);
  }
  return records;
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  const records = await runBench(options);
  if (options.table) console.log(`\n${formatTable(records)}`);
}
