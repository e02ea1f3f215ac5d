/**
 * Fixtures of the ONNX tests: one small model per exported architecture, with batch-normalisation
 * statistics drawn at random (a freshly built model has mean 0 and variance 1, which would hide layout
 * mistakes in them), and the two comparisons every round trip makes.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "../../lib/attacks/loss.ts";
import { buildModel, type Classifier, type ModelSpec } from "../../lib/models/mod.ts";
import { resnet50 } from "../../lib/models/resnet50.ts";
import {
  DataType,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from "../../lib/onnx/model_proto.ts";

const mnist = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };

/** Draws every batch-normalisation layer's gamma, beta, moving mean and moving variance from `seed`. */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const shapes = layer.getWeights().map((w) => w.shape);
    const values = shapes.map((shape, i) =>
      i === shapes.length - 1
        ? tf.randomUniform(shape, 0.5, 1.5, "float32", s++)
        : i === 0
        ? tf.randomUniform(shape, 0.6, 1.4, "float32", s++)
        : tf.randomUniform(shape, -0.3, 0.3, "float32", s++)
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** One model per architecture the exporter supports, named. */
export function architectures(): { name: string; model: tf.LayersModel }[] {
  const specs: [string, ModelSpec][] = [
    ["logistic", { kind: "logistic" }],
    ["mlp", { kind: "mlp", hidden: [32, 16] }],
    ["madry-cnn", { kind: "madry-cnn", scale: 1 }],
    ["resnet", { kind: "resnet", widths: [4, 8], blocksPerStage: 1 }],
    ["resnet50", { kind: "resnet50", baseWidth: 1, stem: "small", stemStride: 2 }],
    ["lenet", { kind: "lenet" }],
    ["vgg", { kind: "vgg", widths: [4, 6], convsPerStage: 2, dense: [16] }],
    ["densenet", { kind: "densenet", growthRate: 3, blocks: [2, 3, 2] }],
  ];
  const out = specs.map(([name, spec], i) => ({ name, model: buildModel(spec, mnist, 10 + i) }));
  // The ImageNet stem (7x7 stride-2 conv, padded max-pool) on a small colour image, one block per stage.
  out.push({
    name: "resnet50-imagenet-stem",
    model: resnet50({ inputShape: [40, 40, 3], classes: 5 }, {
      baseWidth: 2,
      stem: "imagenet",
      blocks: [1, 1, 1, 1],
    }, 7),
  });
  out.forEach(({ model }, i) => randomizeBatchNorm(model, 100 * i));
  return out;
}

/** Largest absolute difference between two arrays of equal length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Logits and the input gradient of the summed cross-entropy, as arrays. */
export function logitsAndGradient(
  c: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): { logits: Float32Array; grad: Float32Array } {
  return tf.tidy(() => {
    const logits = c(x).dataSync() as Float32Array;
    const grad = tf.grad((xi: tf.Tensor) => tf.sum(crossEntropy(c(xi as tf.Tensor4D), y)))(x)
      .dataSync() as Float32Array;
    return { logits: logits.slice(), grad: grad.slice() };
  });
}

/** A model from nodes and float initializers, with one float input and one output, at `opset`. */
export function graphModel(
  nodes: OnnxNode[],
  initializers: OnnxTensor[],
  input: { name: string; shape: (number | string)[] },
  output: { name: string; shape: (number | string)[] },
  opset = 13,
): OnnxModel {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    producerName: "advex tests",
    producerVersion: "",
    docString: "",
    graph: {
      name: "test",
      nodes,
      initializers,
      inputs: [{ name: input.name, elemType: DataType.float, shape: input.shape }],
      outputs: [{ name: output.name, elemType: DataType.float, shape: output.shape }],
    },
    metadata: {},
  };
}

/** A node with attributes. */
export function node(
  opType: string,
  inputs: string[],
  output: string,
  attributes: OnnxAttribute[] = [],
): OnnxNode {
  return { opType, inputs, outputs: [output], name: output, domain: "", attributes };
}

/** Seeded uniform values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  });
}
