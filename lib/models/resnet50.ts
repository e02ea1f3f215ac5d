/**
 * ResNet-50 with torchvision's topology: a stem, four stages of bottleneck blocks (3, 4, 6, 3 of them), global
 * average pooling and a dense layer to the classes. A bottleneck is conv 1x1 (width) - BN - ReLU - conv 3x3
 * (width, carrying the stage's stride, as in torchvision's "ResNet v1.5") - BN - ReLU - conv 1x1 (4 x width)
 * - BN, plus the shortcut (a 1x1 strided projection with BN where the shape changes), then ReLU. Stage
 * widths are 1, 2, 4 and 8 times `baseWidth` (64 in the original, 25.6 M parameters at 1000 classes).
 *
 * Two stems:
 * - "imagenet": conv 7x7 stride 2 (pad 3) - BN - ReLU - max-pool 3x3 stride 2 (pad 1), for 224x224 inputs;
 * - "small": conv 3x3 - BN - ReLU and no max-pool, for 28x28 digits, which the ImageNet stem would shrink to
 *   7x7 before the first block. With stride 1 (the usual adaptation for CIFAR-sized images) the stages see
 *   28, 14, 7 and 4 pixels; `stemStride: 2` makes that 14, 7, 4 and 2, four times less work, which is what
 *   makes training on a 2-core CPU practical.
 *
 * Padding follows PyTorch exactly (explicit symmetric zero padding before strided convolutions and the
 * max-pool, which follows a ReLU, so zeros pad like minus infinity), so that a network trained elsewhere
 * and this one compute the same function from the same weights.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelShape } from "./shape.ts";

/** Bottleneck blocks per stage of ResNet-50. */
export const RESNET50_BLOCKS: readonly number[] = [3, 4, 6, 3];

/** The stem of a ResNet-50. */
export type ResNetStem = "imagenet" | "small";

/** Options of {@linkcode resnet50}. */
export interface ResNet50Options {
  /** Width of the first stage (64 in the original); stages use 1, 2, 4, 8 times it, block outputs 4 times that. */
  baseWidth?: number;
  /** The stem; default "small" for inputs up to 64 pixels high, else "imagenet". */
  stem?: ResNetStem;
  /** Stride of the "small" stem's convolution: 1 (default) or 2. The "imagenet" stem always reduces by 4. */
  stemStride?: number;
  /**
   * Start each block's last batch-norm scale at zero, so that every block begins as the identity
   * (torchvision's `zero_init_residual`; off by default there and here). Deep narrow networks trained for
   * few steps learn markedly faster with it.
   */
  zeroInitResidual?: boolean;
  /** Blocks per stage; default {@linkcode RESNET50_BLOCKS}. Other counts give other depths (e.g. [3, 4, 23, 3]: ResNet-101). */
  blocks?: readonly number[];
}

/** The stem {@linkcode resnet50} uses for an input height when none is given. */
export function defaultStem(height: number): ResNetStem {
  return height <= 64 ? "small" : "imagenet";
}

/** Builds a ResNet-50 (see the module description) for `shape`, with weights drawn from `seed`. */
export function resnet50(shape: ModelShape, options: ResNet50Options = {}, seed = 0): tf.LayersModel {
  const baseWidth = options.baseWidth ?? 64;
  if (!Number.isInteger(baseWidth) || baseWidth < 1) {
    throw new RangeError(`resnet50: baseWidth must be an integer >= 1, got ${baseWidth}`);
  }
  const blocks = options.blocks ?? RESNET50_BLOCKS;
  if (blocks.length !== 4 || blocks.some((b) => !Number.isInteger(b) || b < 1)) {
    throw new RangeError(`resnet50: blocks must be four integers >= 1, got [${blocks}]`);
  }
  const stem = options.stem ?? defaultStem(shape.inputShape[0]);
  if (stem !== "imagenet" && stem !== "small") {
    throw new RangeError(`resnet50: stem must be "imagenet" or "small", got ${JSON.stringify(stem)}`);
  }
  const stemStride = options.stemStride ?? 1;
  if (stemStride !== 1 && stemStride !== 2) {
    throw new RangeError(`resnet50: stemStride must be 1 or 2, got ${stemStride}`);
  }
  if (stem === "imagenet" && options.stemStride !== undefined) {
    throw new RangeError(`resnet50: stemStride applies to the "small" stem only`);
  }
  let s = seed;
  const conv = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string) => {
    let input = x;
    // PyTorch pads (k - 1) / 2 on every side; "same" would put the odd pixel at the end for strided convs.
    const pad = (kernelSize - 1) / 2;
    if (strides > 1 && pad > 0) {
      input = tf.layers.zeroPadding2d({ padding: pad, name: `${name}.pad` }).apply(x) as tf.SymbolicTensor;
    }
    return tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: strides > 1 ? "valid" : "same",
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: s++ }),
      name,
    }).apply(input) as tf.SymbolicTensor;
  };
  const bn = (x: tf.SymbolicTensor, name: string, zeroGamma = false) =>
    tf.layers.batchNormalization({
      axis: -1,
      epsilon: 1e-5,
      momentum: 0.9,
      name,
      ...(zeroGamma ? { gammaInitializer: "zeros" } : {}),
    }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor, name: string) => tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: shape.inputShape, name: "input" });
  let x: tf.SymbolicTensor;
  if (stem === "imagenet") {
    x = relu(bn(conv(input, baseWidth, 7, 2, "conv1"), "bn1"), "relu");
    x = tf.layers.zeroPadding2d({ padding: 1, name: "maxpool.pad" }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: "maxpool" }).apply(
      x,
    ) as tf.SymbolicTensor;
  } else {
    x = relu(bn(conv(input, baseWidth, 3, stemStride, "conv1"), "bn1"), "relu");
  }
  let channels = baseWidth;
  blocks.forEach((count, stage) => {
    const width = baseWidth * 2 ** stage;
    const out = 4 * width;
    for (let b = 0; b < count; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${b}`;
      let shortcut = x;
      if (stride !== 1 || channels !== out) {
        shortcut = bn(conv(x, out, 1, stride, `${p}.downsample.0`), `${p}.downsample.1`);
      }
      let y = relu(bn(conv(x, width, 1, 1, `${p}.conv1`), `${p}.bn1`), `${p}.relu1`);
      y = relu(bn(conv(y, width, 3, stride, `${p}.conv2`), `${p}.bn2`), `${p}.relu2`);
      y = bn(conv(y, out, 1, 1, `${p}.conv3`), `${p}.bn3`, options.zeroInitResidual ?? false);
      x = relu(tf.layers.add({ name: `${p}.add` }).apply([y, shortcut]) as tf.SymbolicTensor, `${p}.relu3`);
      channels = out;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({ name: "avgpool" }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({
    units: shape.classes,
    kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }),
    name: "fc",
  }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ name: `resnet50_w${baseWidth}`, inputs: input, outputs: logits });
}
