/**
 * A faster `Classifier` (`classifier.ts`, which uses this module) for the sequential networks advex builds
 * (the Madry CNN, MLPs, logistic regression): the same function as the layers model's forward pass, with each convolution or dense layer,
 * its bias and its relu computed by one fused kernel when gradients are recorded too. tfjs fuses them only
 * when no gradient is recorded: under `tf.grad` its layers fall back to three kernels (the product, a bias
 * add, a relu), each a full pass over the activations, and compute the bias gradient even where only the
 * input gradient is asked for. A relu convolution followed by a max pool is one op more, whose backward pass
 * computes the pool's and the relu's gradients in one pass (`lib/backend/max_pool_relu_grad.ts`). Attacks take
 * input gradients at every step, so the fused form saves those passes at every step; the outputs and
 * gradients are the layers model's, bit for bit (tested).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { reluGrad } from "../backend/relu_grad.ts";
import { maxPoolReluGrad, type PoolAttrs } from "../backend/max_pool_relu_grad.ts";
import { noteSkippedGradient, parameterGradientsSkipped } from "../util/gradient_scope.ts";

type Activation = "linear" | "relu";

/** A fused op of three tensors: its value and its gradients with respect to each (tfjs's customGrad form). */
type FusedOp = (
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor,
  save: tf.GradSaveFunc,
) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.Tensor[] };

const custom = (op: FusedOp) =>
  tf.customGrad(op as unknown as Parameters<typeof tf.customGrad>[0]) as (
    x: tf.Tensor,
    w: tf.Tensor,
    b: tf.Tensor,
  ) => tf.Tensor;

/** One step of the network, with the layer's live variables (read at each call, so training shows). */
type Step =
  | { kind: "conv"; kernel: tf.LayerVariable; bias: tf.LayerVariable; pad: "same" | "valid"; act: Activation }
  | { kind: "dense"; kernel: tf.LayerVariable; bias: tf.LayerVariable; act: Activation }
  | { kind: "maxpool"; size: [number, number]; strides: [number, number]; pad: "same" | "valid" }
  | { kind: "flatten" }
  | { kind: "convpool"; conv: Extract<Step, { kind: "conv" }>; op: ReturnType<typeof custom> };

// deno-lint-ignore no-explicit-any
type LayerConfig = Record<string, any>;

const pair = (v: number | number[]): [number, number] => Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];

/** The steps of one layer, or undefined when it is not one this module computes. */
function stepOf(layer: tf.layers.Layer): Step | undefined {
  const cfg = layer.getConfig() as LayerConfig;
  const act = cfg.activation as string | undefined;
  const weights = layer.weights as tf.LayerVariable[];
  const plainAct = act === "linear" || act === "relu";
  switch (layer.getClassName()) {
    case "Conv2D": {
      const ok = plainAct && cfg.useBias && weights.length === 2 && cfg.dataFormat === "channelsLast" &&
        pair(cfg.strides).every((s) => s === 1) && pair(cfg.dilationRate ?? 1).every((d) => d === 1) &&
        (cfg.padding === "same" || cfg.padding === "valid");
      return ok ? { kind: "conv", kernel: weights[0], bias: weights[1], pad: cfg.padding, act } : undefined;
    }
    case "Dense":
      return plainAct && cfg.useBias && weights.length === 2
        ? { kind: "dense", kernel: weights[0], bias: weights[1], act }
        : undefined;
    case "MaxPooling2D":
      return cfg.dataFormat === "channelsLast" && (cfg.padding === "same" || cfg.padding === "valid")
        ? {
          kind: "maxpool",
          size: pair(cfg.poolSize),
          strides: pair(cfg.strides ?? cfg.poolSize),
          pad: cfg.padding,
        }
        : undefined;
    case "Flatten":
      return { kind: "flatten" };
    default:
      return undefined;
  }
}

/**
 * A parameter's gradient, or zeros inside `inputGradientsOnly` (a custom gradient computes every input's
 * gradient, where tfjs's own ops compute only those asked for: an attack would pay for the weights' too).
 */
function paramGrad(param: tf.Tensor, grad: () => tf.Tensor): tf.Tensor {
  if (parameterGradientsSkipped()) {
    const z = tf.zeros(param.shape);
    noteSkippedGradient(z.dataId);
    return z;
  }
  return grad();
}

/** The bias gradient: the sum of `g` over every axis but the last. */
const biasGrad = (g: tf.Tensor, bias: tf.Tensor) =>
  paramGrad(bias, () => tf.sum(g, [...Array(g.rank - 1).keys()]));

/** conv 2-D (stride 1) + bias + relu in one kernel: its output, the relu's. */
function convReluForward(
  x: tf.Tensor,
  filter: tf.Tensor,
  bias: tf.Tensor,
  pad: "same" | "valid",
): tf.Tensor4D {
  return tf.engine().runKernel("FusedConv2D", { x, filter, bias }, {
    strides: [1, 1],
    pad,
    dataFormat: "NHWC",
    dilations: [1, 1],
    activation: "relu",
  }) as tf.Tensor4D;
}

/** The gradients of a stride-1 convolution's input, filter and bias, from `g`, the gradient of its output. */
function convGrads(xs: tf.Tensor4D, f: tf.Tensor4D, bias: tf.Tensor, g: tf.Tensor4D, pad: "same" | "valid") {
  return [
    tf.conv2dTranspose(g, f, xs.shape, 1, pad),
    paramGrad(f, () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x: xs, dy: g }, {
        strides: [1, 1],
        pad,
        dataFormat: "NHWC",
        filterShape: f.shape,
      }) as tf.Tensor),
    biasGrad(g, bias),
  ];
}

/** The first gradient a custom gradient gets (tfjs passes one tensor or a list). */
const first = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor => Array.isArray(dy) ? dy[0] : dy;

/**
 * conv 2-D (stride 1) + bias + relu as one kernel, with the gradients of tfjs's unfused ops; with `pool`, a max
 * pool after it, whose gradient and the relu's are computed as one in the backward pass (`maxPoolReluGrad`).
 */
const convRelu = (pad: "same" | "valid", pool?: PoolAttrs) =>
  custom((x, filter, bias, save) => {
    const y = convReluForward(x, filter, bias, pad);
    const p = pool &&
      tf.engine().runKernel(
        "MaxPool",
        { x: y },
        { ...pool, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor4D;
    save(p ? [x, filter, y, p] : [x, filter, y]);
    return {
      value: p ?? y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, f, ys, ps] = saved as tf.Tensor4D[];
        const g = pool
          ? maxPoolReluGrad(first(dy) as tf.Tensor4D, ys, ps, pool)
          : reluGrad(first(dy), ys) as tf.Tensor4D;
        return convGrads(xs, f, bias, g, pad);
      },
    };
  });

/** matmul + bias + relu as one kernel, with the gradients of tfjs's unfused ops. */
const denseRelu = custom((a, b, bias, save) => {
  // The kernel takes batched [1, m, k] x [1, k, n] operands, as tfjs's fused matMul op hands them over.
  const [m, k] = a.shape, n = b.shape[1] as number;
  const y3 = tf.engine().runKernel("_FusedMatMul", {
    a: tf.reshape(a, [1, m, k]),
    b: tf.reshape(b, [1, k, n]),
    bias,
  }, { transposeA: false, transposeB: false, activation: "relu" }) as tf.Tensor3D;
  const y = tf.reshape(y3, [m, n]) as tf.Tensor2D;
  save([a, b, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [as, bs, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const g = reluGrad(first(dy), ys) as tf.Tensor2D;
      return [
        tf.matMul(g, bs, false, true),
        paramGrad(bs, () => tf.matMul(as, g, true, false)),
        biasGrad(g, bias),
      ];
    },
  };
});

const convReluSame = convRelu("same"), convReluValid = convRelu("valid");

function apply(step: Step, x: tf.Tensor): tf.Tensor {
  switch (step.kind) {
    case "conv": {
      const [filter, bias] = [step.kernel.read(), step.bias.read()];
      if (step.act === "relu") return (step.pad === "same" ? convReluSame : convReluValid)(x, filter, bias);
      return tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: filter as tf.Tensor4D,
        strides: 1,
        pad: step.pad,
        bias,
      });
    }
    case "dense": {
      const [b, bias] = [step.kernel.read(), step.bias.read()];
      if (step.act === "relu") return denseRelu(x, b, bias);
      return tf.fused.matMul({ a: x as tf.Tensor2D, b: b as tf.Tensor2D, bias });
    }
    case "maxpool":
      return tf.maxPool(x as tf.Tensor4D, step.size, step.strides, step.pad);
    case "flatten":
      return tf.reshape(x, [x.shape[0], -1]);
    case "convpool":
      return step.op(x, step.conv.kernel.read(), step.conv.bias.read());
  }
}

/**
 * The fused classifier of `model` when it is a sequential stack of layers this module computes (Conv2D of
 * stride 1 and Dense, each with a bias and a linear or relu activation; MaxPooling2D; Flatten), with
 * float32 weights; undefined otherwise (use the layers model's own forward pass then).
 */
export function fusedClassifier(
  model: tf.LayersModel,
): ((images: tf.Tensor4D) => tf.Tensor2D) | undefined {
  if (model.getClassName() !== "Sequential") return undefined;
  const steps: Step[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const step = stepOf(layer);
    if (!step) return undefined;
    steps.push(step);
  }
  if (steps.length === 0 || model.weights.some((w) => w.dtype !== "float32")) return undefined;
  // A relu convolution right before a max pool: one op, whose backward pass fuses the two gradients.
  for (let i = 0; i + 1 < steps.length; i++) {
    const [conv, pool] = [steps[i], steps[i + 1]];
    if (conv.kind === "conv" && conv.act === "relu" && pool.kind === "maxpool") {
      const attrs: PoolAttrs = { filterSize: pool.size, strides: pool.strides, pad: pool.pad };
      steps.splice(i, 2, { kind: "convpool", conv, op: convRelu(conv.pad, attrs) });
    }
  }
  return (images) =>
    tf.tidy(() => steps.reduce((x, step) => apply(step, x), images as tf.Tensor) as tf.Tensor2D);
}
