/**
 * What an ONNX image classifier expects and returns: its input (name, layout, image shape), its output, and
 * the normalisation its inputs need. Both ways of running an ONNX model (onnxruntime and the tfjs import)
 * read the same signature, so that both take advex images `[N, H, W, C]` in [0, 1].
 * @module
 */
import { type InputLayout, LAYOUT_METADATA_KEY } from "./export.ts";
import type { OnnxModel } from "./model_proto.ts";

/** Per-channel normalisation applied to [0, 1] images before the graph: `(x - mean) / std`. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** The normalisation ImageNet classifiers of the ONNX model zoo (and torchvision) expect. */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** Options shared by the two ONNX loaders. */
export interface SignatureOptions {
  /** The input layout; default: the file's `advex.input_layout` metadata, else guessed from the input shape. */
  inputLayout?: InputLayout;
  /** Image shape `[H, W, C]`, needed only when the file leaves height or width symbolic. */
  inputShape?: [number, number, number];
  /** Normalisation applied to [0, 1] images before the graph (e.g. {@linkcode IMAGENET_NORMALIZATION}). */
  normalization?: Normalization;
}

/** An image classifier's interface as advex sees it. */
export interface ImageSignature {
  inputName: string;
  outputName: string;
  /** The layout of the graph input; advex images are always NHWC and are transposed when this is NCHW. */
  layout: InputLayout;
  /** Image shape `[H, W, C]` the model takes. */
  inputShape: [number, number, number];
  /** Number of classes (the output's last dimension), when the file states it. */
  classes?: number;
  normalization?: Normalization;
}

const isChannels = (d: number | string | undefined) => d === 1 || d === 3;

/** Works out a model's image signature. Throws when it has no single rank-4 image input. */
export function imageSignature(
  model: OnnxModel,
  options: SignatureOptions = {},
  name = "ONNX model",
): ImageSignature {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) {
    throw new Error(
      `${name}: expected one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(", ")})`,
    );
  }
  const input = inputs[0];
  const dims = input.shape;
  if (!dims || dims.length !== 4) {
    throw new Error(
      `${name}: input ${input.name} has shape [${
        dims ?? "unknown"
      }]; an image input [N, H, W, C] or [N, C, H, W] is needed`,
    );
  }
  let layout = options.inputLayout ?? (model.metadata[LAYOUT_METADATA_KEY] as InputLayout | undefined);
  if (layout === undefined) {
    if (isChannels(dims[1]) && !isChannels(dims[3])) layout = "NCHW";
    else if (isChannels(dims[3]) && !isChannels(dims[1])) layout = "NHWC";
    else {
      throw new Error(
        `${name}: cannot tell whether input ${input.name} [${dims}] is NCHW or NHWC; pass inputLayout`,
      );
    }
  }
  if (layout !== "NCHW" && layout !== "NHWC") {
    throw new Error(`${name}: unknown input layout ${JSON.stringify(layout)}`);
  }
  const [h, w, c] = layout === "NCHW" ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]];
  let inputShape: [number, number, number];
  if (typeof h === "number" && typeof w === "number" && typeof c === "number") {
    inputShape = [h, w, c];
    const given = options.inputShape;
    if (given && given.join("x") !== inputShape.join("x")) {
      throw new Error(`${name}: inputShape [${given}] given, but the file fixes it at [${inputShape}]`);
    }
  } else if (options.inputShape) {
    inputShape = options.inputShape;
  } else {
    throw new Error(
      `${name}: input ${input.name} [${dims}] has symbolic image dimensions; pass inputShape [H, W, C]`,
    );
  }
  const norm = options.normalization;
  if (norm && (norm.mean.length !== inputShape[2] || norm.std.length !== inputShape[2])) {
    throw new Error(
      `${name}: normalization needs ${
        inputShape[2]
      } means and stds, got ${norm.mean.length} and ${norm.std.length}`,
    );
  }
  const output = model.graph.outputs[0];
  const last = output.shape?.at(-1);
  return {
    inputName: input.name,
    outputName: output.name,
    layout,
    inputShape,
    classes: typeof last === "number" ? last : undefined,
    normalization: norm,
  };
}

/** Throws a RangeError unless `shape` is a batch of the images `sig` takes. */
export function checkImageBatch(sig: ImageSignature, shape: readonly number[], name: string): void {
  if (shape.length !== 4 || shape.slice(1).join("x") !== sig.inputShape.join("x")) {
    throw new RangeError(
      `${name} takes images [N, ${sig.inputShape.join(", ")}] (NHWC), got shape [${shape.join(", ")}]`,
    );
  }
}
