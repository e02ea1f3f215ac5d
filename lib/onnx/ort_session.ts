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
import { encodeModel } from "./model_proto.ts";
import {
  chooseOrtProvider,
  loadOrt,
  type OrtProviderReport,
  type OrtProviderRequest,
} from "./ort_provider.ts";
import { loadOnnx, type OnnxSource } from "./read.ts";
import { checkImageBatch, type ImageSignature, imageSignature, type SignatureOptions } from "./signature.ts";

/** Options of {@linkcode loadOrtModel}. */
export interface OrtModelOptions extends SignatureOptions {
  /** Execution provider; default: env `ADVEX_ORT_PROVIDER`, else "auto" (see {@linkcode chooseOrtProvider}). */
  provider?: OrtProviderRequest;
  /** Threads of the CPU provider within one operator; default: onnxruntime's choice. */
  threads?: number;
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
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(loaded.bytes ?? encodeModel(model), {
      executionProviders: [provider.name],
      logSeverityLevel: 3,
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    });
  } catch (e) {
    throw new Error(`${name}: onnxruntime could not load the model: ${(e as Error).message}`, { cause: e });
  }
  const batchDim = model.graph.inputs.find((i) => i.name === signature.inputName)?.shape?.[0];
  const fixedBatch = typeof batchDim === "number" && batchDim > 0 ? batchDim : undefined;
  const [h, w, c] = signature.inputShape;
  const per = h * w * c;
  const norm = signature.normalization;

  /** NHWC [0, 1] floats to the graph's input: normalised, transposed to NCHW when the graph wants it. */
  const prepare = (src: Float32Array, n: number): Float32Array => {
    if (!norm && signature.layout === "NHWC") return src;
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
  };

  let classes = signature.classes ?? 0;
  const runChunk = async (src: Float32Array, n: number): Promise<Float32Array> => {
    const dims = signature.layout === "NCHW" ? [n, c, h, w] : [n, h, w, c];
    const feeds = { [signature.inputName]: new ort.Tensor("float32", prepare(src, n), dims) };
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
    classes = data.length / n;
    return data;
  };

  const logits = async (images: tf.Tensor4D | Float32Array, n?: number): Promise<Float32Array> => {
    let src: Float32Array;
    let count: number;
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
      count = n ?? images.length / per;
      if (!Number.isInteger(count) || images.length !== count * per) {
        throw new RangeError(
          `${name} takes images [N, ${
            signature.inputShape.join(", ")
          }] (NHWC): ${images.length} floats do not make whole images`,
        );
      }
      src = images;
    } else {
      checkImageBatch(signature, images.shape, name);
      count = images.shape[0];
      src = (await images.data()) as Float32Array;
    }
    if (count === 0) return new Float32Array(0);
    if (!fixedBatch) return await runChunk(src, count);
    const parts: Float32Array[] = [];
    for (let i = 0; i < count; i += fixedBatch) {
      const m = Math.min(fixedBatch, count - i);
      let chunk = src.subarray(i * per, (i + m) * per);
      if (m < fixedBatch) {
        const padded = new Float32Array(fixedBatch * per);
        padded.set(chunk);
        chunk = padded;
      }
      const out = await runChunk(chunk, fixedBatch);
      parts.push(out.subarray(0, m * (out.length / fixedBatch)));
    }
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    classes = all.length / count;
    return all;
  };

  const model_: OrtModel = {
    name,
    signature,
    get classes() {
      return classes;
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

/** Row-wise argmax of `n` rows of logits. */
export function argmaxRows(logits: Float32Array, n: number): Int32Array {
  const k = n ? logits.length / n : 0;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

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
