/**
 * More architecture families for the transferability chapter, each at MNIST size and built from layers the
 * ONNX exporter supports:
 *
 * - {@linkcode lenet}: LeNet-5 (LeCun et al. 1998): two 5x5 tanh convolutions with average pooling and two
 *   tanh dense layers (120, 84).
 * - {@linkcode vgg}: VGG-style (Simonyan and Zisserman 2015): stages of stacked 3x3 ReLU convolutions, each
 *   stage ending in a 2x2 max-pool, then dense layers.
 * - {@linkcode denseNet}: DenseNet-style (Huang et al. 2017): dense blocks in which every layer
 *   (BN - ReLU - 3x3 conv with `growthRate` filters) sees the concatenation of all earlier feature maps of
 *   its block, joined by transitions (BN - ReLU - 1x1 conv halving the channels - 2x2 average pool).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelShape } from "./shape.ts";

function seeded(seed: number) {
  let s = seed;
  return {
    he: () => tf.initializers.heNormal({ seed: s++ }),
    glorot: () => tf.initializers.glorotUniform({ seed: s++ }),
  };
}

function positiveInts(name: string, what: string, values: readonly number[], minLength = 1): void {
  if (values.length < minLength || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new RangeError(`${name}: ${what} must be at least ${minLength} integer(s) >= 1, got [${values}]`);
  }
}

/** LeNet-5: conv 5x5 (6, same) - avg-pool 2 - conv 5x5 (16) - avg-pool 2 - dense 120 - dense 84, all tanh. */
export function lenet(shape: ModelShape, seed = 0): tf.LayersModel {
  const init = seeded(seed);
  return tf.sequential({
    name: "lenet",
    layers: [
      tf.layers.conv2d({
        inputShape: shape.inputShape,
        filters: 6,
        kernelSize: 5,
        padding: "same",
        activation: "tanh",
        kernelInitializer: init.glorot(),
      }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "tanh", kernelInitializer: init.glorot() }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: "tanh", kernelInitializer: init.glorot() }),
      tf.layers.dense({ units: 84, activation: "tanh", kernelInitializer: init.glorot() }),
      tf.layers.dense({ units: shape.classes, kernelInitializer: init.glorot() }),
    ],
  });
}

/**
 * VGG-style: for each entry of `widths` a stage of `convsPerStage` 3x3 ReLU convolutions ("same") and a 2x2
 * max-pool, then ReLU dense layers of `dense` units and the class layer.
 */
export function vgg(
  shape: ModelShape,
  widths: readonly number[] = [16, 32, 64],
  convsPerStage = 2,
  dense: readonly number[] = [128],
  seed = 0,
): tf.LayersModel {
  positiveInts("vgg", "widths", widths);
  positiveInts("vgg", "convsPerStage", [convsPerStage]);
  positiveInts("vgg", "dense", dense, 0);
  const init = seeded(seed);
  const layers: tf.layers.Layer[] = [];
  let first = true;
  for (const filters of widths) {
    for (let i = 0; i < convsPerStage; i++) {
      layers.push(tf.layers.conv2d({
        ...(first ? { inputShape: shape.inputShape } : {}),
        filters,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: init.he(),
      }));
      first = false;
    }
    layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  layers.push(tf.layers.flatten());
  for (const units of dense) {
    layers.push(tf.layers.dense({ units, activation: "relu", kernelInitializer: init.he() }));
  }
  layers.push(tf.layers.dense({ units: shape.classes, kernelInitializer: init.glorot() }));
  return tf.sequential({ name: "vgg", layers });
}

/**
 * DenseNet-style: a 3x3 stem conv with 2 x `growthRate` filters, then one dense block per entry of `blocks`
 * (that many BN - ReLU - conv 3x3 layers, each adding `growthRate` channels by concatenation), with a
 * transition (BN - ReLU - conv 1x1 to half the channels - avg-pool 2) between blocks, and BN - ReLU - global
 * average pooling - dense at the end.
 */
export function denseNet(
  shape: ModelShape,
  growthRate = 8,
  blocks: readonly number[] = [4, 4, 4],
  seed = 0,
): tf.LayersModel {
  positiveInts("denseNet", "growthRate", [growthRate]);
  positiveInts("denseNet", "blocks", blocks);
  const init = seeded(seed);
  const conv = (x: tf.SymbolicTensor, filters: number, kernelSize: number) =>
    tf.layers.conv2d({ filters, kernelSize, padding: "same", useBias: false, kernelInitializer: init.he() })
      .apply(x) as tf.SymbolicTensor;
  const bnRelu = (x: tf.SymbolicTensor) =>
    tf.layers.reLU().apply(tf.layers.batchNormalization({ axis: -1 }).apply(x)) as tf.SymbolicTensor;
  const input = tf.input({ shape: shape.inputShape });
  let x = conv(input, 2 * growthRate, 3);
  let channels = 2 * growthRate;
  blocks.forEach((layers, b) => {
    for (let i = 0; i < layers; i++) {
      const y = conv(bnRelu(x), growthRate, 3);
      x = tf.layers.concatenate({ axis: -1 }).apply([x, y]) as tf.SymbolicTensor;
      channels += growthRate;
    }
    if (b < blocks.length - 1) {
      channels = Math.max(1, Math.floor(channels / 2));
      x = conv(bnRelu(x), channels, 1);
      x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(bnRelu(x)) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: shape.classes, kernelInitializer: init.glorot() })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ name: "densenet", inputs: input, outputs: logits });
}
