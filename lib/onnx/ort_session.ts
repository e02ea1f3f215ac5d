/**
 * Running ONNX image classifiers with onnxruntime: loading a model into a session on the chosen execution
 * provider, and batched forward passes for everything that needs no gradient (predictions, accuracies,
 * transfer rates). Inputs are advex images `[N, H, W, C]` in [0, 1], as everywhere in advex; the model's
 * normalisation and NCHW layout are applied here.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type * as Ort from "onnxruntime-node";
import { type Dataset, pixelsPerImage, size } from "../data/dataset.ts";
import type { Evaluation } from "../eval/evaluate.ts";
import type { ProgressMode } from "../util/progress.ts";
import { forEachRange } from "../data/batches.ts";
import { argmaxRows } from "../models/classifier.ts";
import { encodeModel, type OnnxModel } from "./model_proto.ts";
import {
  chooseOrtProvider,
  loadOrt,
  type OrtProviderReport,
  type OrtProviderRequest,
} from "./ort_provider.ts";
import { type LoadedOnnx, loadOnnx, type OnnxSource } from "./read.ts";
import { checkImageBatch, type ImageSignature, imageSignature, type SignatureOptions } from "./signature.ts";

/** Options of {@linkcode loadOrtModel}. */
export interface OrtModelOptions extends SignatureOptions {
  /** Execution provider; default: env `ADVEX_ORT_PROVIDER`, else "auto" (see {@linkcode chooseOrtProvider}). */
  provider?: OrtProviderRequest;
  /** Threads of the CPU provider within one operator; default: onnxruntime's choice. */
  threads?: number;
  /**
   * Whether the CPU provider's threads spin after a run, waiting for the next (onnxruntime's default: yes).
   * `false` lets them sleep at once: better where other work runs between calls (tfjs's kernels on the same
   * cores), which spinning threads slow down.
   */
  spinning?: boolean;
}

/** An ONNX image classifier loaded into an onnxruntime session. */
export interface OrtModel {
  /** The file path, or a description of the in-memory source. */
  name: string;
  signature: ImageSignature;
  /** Number of classes (the length of each logits row). */
  classes: number;
  /** The execution provider the session runs on, and why. */
  provider: OrtProviderReport;
  /** The batch size the file fixes, if it fixes one (batches are then split or run one at a time). */
  fixedBatch?: number;
  /** Logits `[n * classes]` for `n` images given as a tensor or as NHWC floats. */
  logits(images: tf.Tensor4D | Float32Array, n?: number): Promise<Float32Array>;
  /** Predicted classes for a batch of images. */
  predict(images: tf.Tensor4D | Float32Array, n?: number): Promise<Int32Array>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/**
 * Loads an ONNX image classifier into an onnxruntime session on the provider {@linkcode chooseOrtProvider}
 * picks (or the one requested). A missing, truncated or non-ONNX file, and a model that is not a
 * single-input image classifier, are errors that say so.
 *
 * @example
 * ```ts
 * import type { Dataset } from "../data/dataset.ts";
 * import { loadOrtModel, ortEvaluate } from "./ort_session.ts";
 * declare const testSet: Dataset, pretrained: { onnxPath: string }; // e.g. from pretrainedModel()
 * const resnet = await loadOrtModel(pretrained.onnxPath);
 * const clean = await ortEvaluate(resnet, testSet);
 * ```
 */
export async function loadOrtModel(source: OnnxSource, options: OrtModelOptions = {}): Promise<OrtModel> {
  const loaded = await loadOnnx(source);
  const { model, name } = loaded;
  const signature = imageSignature(model, options, name);
  const provider = await chooseOrtProvider({ provider: options.provider });
  const ort = await loadOrt();
  const session = await createSession(ort, loaded, provider, options.threads, options.spinning);
  const fixedBatch = fixedBatchOf(model, signature);
  const [h, w, c] = signature.inputShape;
  const per = h * w * c;
  const state: OrtRunState = {
    ort,
    session,
    name,
    signature,
    fixedBatch,
    per,
    classes: signature.classes ?? 0,
  };
  const logits = (images: tf.Tensor4D | Float32Array, n?: number): Promise<Float32Array> =>
    runLogits(state, images, n);

  const model_: OrtModel = {
    name,
    signature,
    get classes() {
      return state.classes;
    },
    provider,
    fixedBatch,
    logits,
    async predict(images, n) {
      const out = await logits(images, n);
      const count = images instanceof Float32Array ? (n ?? images.length / per) : images.shape[0];
      return argmaxRows(out, count);
    },
    async dispose() {
      await session.release();
    },
  };
  return model_;
}

/** What the forward passes of a loaded model share: its session, its input, and the classes last seen. */
interface OrtRunState {
  ort: typeof Ort;
  session: Ort.InferenceSession;
  name: string;
  signature: ImageSignature;
  fixedBatch?: number;
  /** Floats per image (`H * W * C`). */
  per: number;
  /** Number of classes: the file's, then the length of the last logits row seen. */
  classes: number;
}

/** Creates the onnxruntime session of a loaded model, with an error naming the model when it cannot. */
async function createSession(
  ort: typeof Ort,
  loaded: LoadedOnnx,
  provider: OrtProviderReport,
  threads: number | undefined,
  spinning: boolean | undefined,
): Promise<Ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(loaded.bytes ?? encodeModel(loaded.model), {
      executionProviders: [provider.name],
      logSeverityLevel: 3,
      ...(threads ? { intraOpNumThreads: threads } : {}),
      ...(spinning === false ? { extra: { session: { intra_op: { allow_spinning: "0" } } } } : {}),
    });
  } catch (e) {
    throw new Error(`${loaded.name}: onnxruntime could not load the model: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The batch size the graph's input fixes, if it fixes one. */
function fixedBatchOf(model: OnnxModel, signature: ImageSignature): number | undefined {
  const batchDim = model.graph.inputs.find((i) => i.name === signature.inputName)?.shape?.[0];
  return typeof batchDim === "number" && batchDim > 0 ? batchDim : undefined;
}

/** NHWC [0, 1] floats to the graph's input: normalised, transposed to NCHW when the graph wants it. */
function prepareInput(signature: ImageSignature, src: Float32Array, n: number): Float32Array {
  const norm = signature.normalization;
  if (!norm && signature.layout === "NHWC") return src;
  const [h, w, c] = signature.inputShape;
  const per = h * w * c;
  const out = new Float32Array(n * per);
  const mean = norm?.mean ?? new Array(c).fill(0);
  const inv = (norm?.std ?? new Array(c).fill(1)).map((s) => 1 / s);
  for (let i = 0; i < n; i++) {
    const base = i * per;
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < c; k++) {
        const v = (src[base + p * c + k] - mean[k]) * inv[k];
        out[signature.layout === "NCHW" ? base + k * h * w + p : base + p * c + k] = v;
      }
    }
  }
  return out;
}

/** One session run on `n` images given as NHWC floats; records the number of classes. */
async function runChunk(state: OrtRunState, src: Float32Array, n: number): Promise<Float32Array> {
  const { ort, session, name, signature } = state;
  const [h, w, c] = signature.inputShape;
  const dims = signature.layout === "NCHW" ? [n, c, h, w] : [n, h, w, c];
  const feeds = { [signature.inputName]: new ort.Tensor("float32", prepareInput(signature, src, n), dims) };
  let out: Ort.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(feeds, [signature.outputName]);
  } catch (e) {
    throw new Error(`${name}: onnxruntime failed on a batch of ${n}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const t = out[signature.outputName] as Ort.Tensor;
  const data = t.data as Float32Array;
  state.classes = data.length / n;
  return data;
}

/** Logits `[n * classes]` of images given as a tensor or as NHWC floats (the model's `logits`). */
async function runLogits(
  state: OrtRunState,
  images: tf.Tensor4D | Float32Array,
  n?: number,
): Promise<Float32Array> {
  const { src, count } = await imageFloats(state, images, n);
  if (count === 0) return new Float32Array(0);
  if (!state.fixedBatch) return await runChunk(state, src, count);
  return await runFixedBatches(state, src, count, state.fixedBatch);
}

/** The images as NHWC floats and their number, checked: float32, and the shape the model takes. */
async function imageFloats(
  state: OrtRunState,
  images: tf.Tensor4D | Float32Array,
  n?: number,
): Promise<{ src: Float32Array; count: number }> {
  const { name, signature, per } = state;
  if (ArrayBuffer.isView(images) && !(images instanceof Float32Array)) {
    throw new TypeError(
      `${name} takes float32 images in [0, 1] (a Float32Array or a float32 tensor [N, ${
        signature.inputShape.join(", ")
      }]), got a ${(images as ArrayBufferView).constructor.name}`,
    );
  }
  if (!(images instanceof Float32Array) && images.dtype !== "float32") {
    throw new TypeError(
      `${name} takes float32 images in [0, 1], got a ${images.dtype} tensor of shape [${images.shape}] ` +
        `(convert with tf.cast(x, "float32") and divide by 255)`,
    );
  }
  if (images instanceof Float32Array) {
    const count = n ?? images.length / per;
    if (!Number.isInteger(count) || images.length !== count * per) {
      throw new RangeError(
        `${name} takes images [N, ${
          signature.inputShape.join(", ")
        }] (NHWC): ${images.length} floats do not make whole images`,
      );
    }
    return { src: images, count };
  }
  checkImageBatch(signature, images.shape, name);
  const count = images.shape[0];
  return { src: (await images.data()) as Float32Array, count };
}

/** Runs `count` images through a graph that fixes the batch size: in batches of it, the last one padded. */
async function runFixedBatches(
  state: OrtRunState,
  src: Float32Array,
  count: number,
  fixedBatch: number,
): Promise<Float32Array> {
  const { per } = state;
  const parts: Float32Array[] = [];
  for (let i = 0; i < count; i += fixedBatch) {
    const m = Math.min(fixedBatch, count - i);
    let chunk = src.subarray(i * per, (i + m) * per);
    if (m < fixedBatch) {
      const padded = new Float32Array(fixedBatch * per);
      padded.set(chunk);
      chunk = padded;
    }
    const out = await runChunk(state, chunk, fixedBatch);
    parts.push(out.subarray(0, m * (out.length / fixedBatch)));
  }
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  state.classes = all.length / count;
  return all;
}

export { argmaxRows };

/** Options of {@linkcode ortPredict} and {@linkcode ortEvaluate}. */
export interface OrtBatchOptions {
  /** Examples per session run. Default 256. */
  batchSize?: number;
  /** Progress label; progress is shown only when given. */
  label?: string;
  progress?: ProgressMode;
}

/** Logits and predicted classes of a whole dataset. */
export interface OrtPredictions {
  logits: Float32Array;
  predictions: Int32Array;
  classes: number;
  seconds: number;
}

/** Runs the model over a dataset in batches. */
export async function ortPredict(
  model: OrtModel,
  data: Dataset,
  options: OrtBatchOptions = {},
): Promise<OrtPredictions> {
  const n = size(data);
  const per = pixelsPerImage(data);
  checkImageBatch(model.signature, [n, ...data.shape], model.name);
  const batchSize = options.batchSize ?? 256;
  const t0 = performance.now();
  const chunks: Float32Array[] = [];
  await forEachRange(
    0,
    n,
    { batchSize, label: options.label, progress: options.progress },
    async (start, end) => {
      chunks.push(await model.logits(data.images.subarray(start * per, end * per), end - start));
    },
  );
  const classes = n ? chunks.reduce((a, c) => a + c.length, 0) / n : model.classes;
  const logits = new Float32Array(n * classes);
  let off = 0;
  for (const c of chunks) {
    logits.set(c, off);
    off += c.length;
  }
  return { logits, predictions: argmaxRows(logits, n), classes, seconds: (performance.now() - t0) / 1000 };
}

/** Clean accuracy and mean cross-entropy of the model on a dataset (the shape of {@linkcode Evaluation}). */
export async function ortEvaluate(
  model: OrtModel,
  data: Dataset,
  options: OrtBatchOptions = {},
): Promise<Evaluation> {
  const { logits, predictions, classes, seconds } = await ortPredict(model, data, options);
  const n = size(data);
  const correct = new Uint8Array(n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    loss += Math.log(sum) + max - row[data.labels[i]];
    correct[i] = predictions[i] === data.labels[i] ? 1 : 0;
  }
  const right = correct.reduce((a, b) => a + b, 0);
  return { accuracy: n ? right / n : 0, loss: n ? loss / n : 0, n, correct, seconds };
}
