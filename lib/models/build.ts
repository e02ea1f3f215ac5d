/**
 * Model builders: logistic regression, MLP, the Madry MNIST CNN with a capacity scale, a small ResNet,
 * ResNet-50, and the LeNet-5, VGG-style and DenseNet-style families of `families.ts`. All take a seed so
 * that initial weights are reproducible.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { denseNet, lenet, vgg } from "./families.ts";
import type { ModelShape } from "./shape.ts";
import { resnet50, type ResNetStem } from "./resnet50.ts";

export type { ModelShape } from "./shape.ts";

/** What to build, as written in a config file. */
export type ModelSpec =
  | { kind: "logistic" }
  | { kind: "mlp"; hidden: number[] }
  | { kind: "madry-cnn"; scale: number }
  | { kind: "resnet"; widths: number[]; blocksPerStage: number }
  | { kind: "lenet" }
  | { kind: "vgg"; widths: number[]; convsPerStage: number; dense: number[] }
  | { kind: "densenet"; growthRate: number; blocks: number[] }
  | {
    kind: "resnet50";
    baseWidth: number;
    stem?: ResNetStem;
    stemStride?: number;
    zeroInitResidual?: boolean;
  };

/** A short readable name for a spec, e.g. "madry-cnn x4". */
export function describeModel(spec: ModelSpec): string {
  switch (spec.kind) {
    case "logistic":
      return "logistic regression";
    case "mlp":
      return `mlp ${spec.hidden.join("-")}`;
    case "madry-cnn":
      return `madry-cnn x${spec.scale}`;
    case "resnet":
      return `resnet ${spec.widths.join("-")} x${spec.blocksPerStage}`;
    case "lenet":
      return "lenet-5";
    case "vgg":
      return `vgg ${spec.widths.map((w) => `${w}x${spec.convsPerStage}`).join("-")}${
        spec.dense.length ? `, dense ${spec.dense.join("-")}` : ""
      }`;
    case "densenet":
      return `densenet k${spec.growthRate} ${spec.blocks.join("-")}`;
    case "resnet50":
      return `resnet-50 width ${spec.baseWidth}${
        spec.stem ? ` (${spec.stem} stem${spec.stemStride === 2 ? ", stride 2" : ""})` : ""
      }`;
  }
}

class Seeds {
  constructor(private s: number) {}
  kernel(): ReturnType<typeof tf.initializers.glorotUniform> {
    return tf.initializers.glorotUniform({ seed: this.s++ });
  }
  he(): ReturnType<typeof tf.initializers.heNormal> {
    return tf.initializers.heNormal({ seed: this.s++ });
  }
}

/** Logistic regression: flatten, then one dense layer to the class logits. */
export function logisticRegression(shape: ModelShape, seed = 0): tf.LayersModel {
  const seeds = new Seeds(seed);
  return tf.sequential({
    name: "logistic",
    layers: [
      tf.layers.flatten({ inputShape: shape.inputShape }),
      tf.layers.dense({ units: shape.classes, kernelInitializer: seeds.kernel() }),
    ],
  });
}

/** A multilayer perceptron with ReLU hidden layers. */
export function mlp(shape: ModelShape, hidden: number[], seed = 0): tf.LayersModel {
  const seeds = new Seeds(seed);
  const layers: tf.layers.Layer[] = [tf.layers.flatten({ inputShape: shape.inputShape })];
  for (const units of hidden) {
    layers.push(tf.layers.dense({ units, activation: "relu", kernelInitializer: seeds.he() }));
  }
  layers.push(tf.layers.dense({ units: shape.classes, kernelInitializer: seeds.kernel() }));
  return tf.sequential({ name: "mlp", layers });
}

/**
 * The Madry et al. MNIST network at capacity scale `scale`: conv 5x5 with 2s filters, max-pool 2, conv 5x5
 * with 4s filters, max-pool 2, dense 64s, dense to the classes. Scale 16 is the paper's network (32, 64,
 * 1024); the capacity study uses scales 1, 2, 4, 8, 16.
 */
export function madryCnn(shape: ModelShape, scale: number, seed = 0): tf.LayersModel {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`madryCnn: scale must be an integer >= 1, got ${scale}`);
  }
  const seeds = new Seeds(seed);
  return tf.sequential({
    name: `madry_cnn_x${scale}`,
    layers: [
      tf.layers.conv2d({
        inputShape: shape.inputShape,
        filters: 2 * scale,
        kernelSize: 5,
        padding: "same",
        activation: "relu",
        kernelInitializer: seeds.he(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({
        filters: 4 * scale,
        kernelSize: 5,
        padding: "same",
        activation: "relu",
        kernelInitializer: seeds.he(),
      }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64 * scale, activation: "relu", kernelInitializer: seeds.he() }),
      tf.layers.dense({ units: shape.classes, kernelInitializer: seeds.kernel() }),
    ],
  });
}

/**
 * A small ResNet: a 3x3 stem, then one stage per entry of `widths` with `blocksPerStage` basic blocks
 * (conv-BN-ReLU-conv-BN plus shortcut; stages after the first halve the resolution with stride 2 and a 1x1
 * projection), global average pooling and a dense layer.
 */
export function smallResNet(
  shape: ModelShape,
  widths = [16, 32, 64],
  blocksPerStage = 1,
  seed = 0,
): tf.LayersModel {
  const seeds = new Seeds(seed);
  const input = tf.input({ shape: shape.inputShape });
  const conv = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: seeds.he(),
    })
      .apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor) =>
    tf.layers.batchNormalization({ axis: -1 }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor) => tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  let x = relu(bn(conv(input, widths[0], 3, 1)));
  let channels = widths[0];
  widths.forEach((width, stage) => {
    for (let b = 0; b < blocksPerStage; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      let shortcut = x;
      if (stride !== 1 || channels !== width) shortcut = bn(conv(x, width, 1, stride));
      let y = relu(bn(conv(x, width, 3, stride)));
      y = bn(conv(y, width, 3, 1));
      x = relu(tf.layers.add().apply([y, shortcut]) as tf.SymbolicTensor);
      channels = width;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: shape.classes, kernelInitializer: seeds.kernel() }).apply(
    pooled,
  ) as tf.SymbolicTensor;
  return tf.model({ name: "resnet", inputs: input, outputs: logits });
}

/** Builds the model a spec describes. */
export function buildModel(spec: ModelSpec, shape: ModelShape, seed = 0): tf.LayersModel {
  switch (spec.kind) {
    case "logistic":
      return logisticRegression(shape, seed);
    case "mlp":
      return mlp(shape, spec.hidden, seed);
    case "madry-cnn":
      return madryCnn(shape, spec.scale, seed);
    case "resnet":
      return smallResNet(shape, spec.widths, spec.blocksPerStage, seed);
    case "lenet":
      return lenet(shape, seed);
    case "vgg":
      return vgg(shape, spec.widths, spec.convsPerStage, spec.dense, seed);
    case "densenet":
      return denseNet(shape, spec.growthRate, spec.blocks, seed);
    case "resnet50":
      return resnet50(shape, {
        baseWidth: spec.baseWidth,
        stem: spec.stem,
        stemStride: spec.stemStride,
        zeroInitResidual: spec.zeroInitResidual,
      }, seed);
    default:
      throw new RangeError(
        `buildModel: unknown model kind ${JSON.stringify((spec as { kind: unknown }).kind)}`,
      );
  }
}

/** Number of trainable parameters. */
export function parameterCount(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
