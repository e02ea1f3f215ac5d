/**
 * onnxruntime's forward pass of a tfjs layers model, for the queries of gradient-free attacks: the model is
 * exported to ONNX in memory and loaded into a session, and its logits come back as a
 * {@linkcode ForwardLogits}. On two CPU cores it is about a fifth faster than tfjs's forward pass of the
 * Madry CNN (`deno task bench`, task ort-inference), and Square's 5,000 queries per example are all forward
 * passes.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { ForwardLogits } from "../models/classifier.ts";
import { exportOnnx } from "./export.ts";
import { loadOrtModel } from "./ort_session.ts";

/** An onnxruntime forward pass: its logits, the execution provider it runs on, and its release. */
export interface OrtForward {
  forward: ForwardLogits;
  /** The execution provider, e.g. "cpu". */
  provider: string;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/**
 * The onnxruntime forward pass of `model`, or, where the model cannot be exported or onnxruntime cannot load
 * it, the reason as a string (callers then keep tfjs's forward pass).
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import { ortForward } from "./ort_forward.ts";
 * declare const model: tf.LayersModel;
 * const ort = await ortForward(model);
 * if (typeof ort !== "string") {
 *   const logits = await ort.forward(new Float32Array(2 * 28 * 28), 2);
 *   await ort.dispose();
 * }
 * ```
 */
export async function ortForward(model: tf.LayersModel): Promise<OrtForward | string> {
  try {
    // Attacks call it between tfjs's gradient steps (FAB-T), which onnxruntime's spinning threads would slow
    // down: on 2 cores FAB-T's iteration took 0.54 ms per image with spinning and 0.46 without, while
    // Square's query, with little work between calls, went from 0.090 to 0.095 ms.
    const ort = await loadOrtModel(exportOnnx(model), { spinning: false });
    return {
      forward: (images, n) => ort.logits(images, n),
      provider: ort.provider.name,
      dispose: () => ort.dispose(),
    };
  } catch (e) {
    return `onnxruntime cannot run ${model.name}: ${(e as Error).message}`;
  }
}

/** The forward-only path a run gets from {@linkcode withOrtForward}. */
export interface ForwardChoice {
  /** onnxruntime's forward pass; undefined where onnxruntime cannot run the model (use tfjs's then). */
  forward?: ForwardLogits;
  /** What runs the forward passes: "onnxruntime (cpu)", say, or "tfjs". */
  name: string;
  /** Why onnxruntime is not used, where it is not. */
  fallback?: string;
}

/**
 * Runs `fn` with the onnxruntime forward pass of `model` ({@linkcode ortForward}), or without one where
 * onnxruntime cannot run the model, and releases the session afterwards, error paths included.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import { withOrtForward } from "./ort_forward.ts";
 * declare const model: tf.LayersModel;
 * const name = await withOrtForward(model, ({ name }) => Promise.resolve(name)); // "onnxruntime (cpu)"
 * ```
 */
export async function withOrtForward<T>(
  model: tf.LayersModel,
  fn: (choice: ForwardChoice) => Promise<T>,
): Promise<T> {
  const ort = await ortForward(model);
  if (typeof ort === "string") return await fn({ name: "tfjs", fallback: ort });
  try {
    return await fn({ forward: ort.forward, name: `onnxruntime (${ort.provider})` });
  } finally {
    await ort.dispose();
  }
}
