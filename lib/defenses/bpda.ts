/**
 * BPDA, the Backward Pass Differentiable Approximation (Athalye et al. 2018): keep a non-differentiable
 * transform in the forward pass, and in the backward pass use the derivative of a smooth surrogate that
 * approximates it (often the identity, since a quantiser returns roughly its input). An attack that ascends
 * this gradient sees the defended model's true outputs and a useful direction.
 *
 * The surrogates here act pixel by pixel (as the identity and the soft quantiser do), so the backward pass
 * is the incoming gradient times the surrogate's derivative at x.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Attack } from "../attacks/types.ts";
import type { Classifier } from "../models/classifier.ts";
import type { Transform } from "./transform.ts";

/** The derivative of a pixel-wise surrogate, evaluated at every pixel of `x`. */
export type Derivative = (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * The transform that computes `forward(x)` exactly and back-propagates as a pixel-wise surrogate would:
 * the incoming gradient times `derivative(x)`. With no derivative, the identity's: the incoming gradient
 * passes through unchanged (the straight-through estimator).
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import { bpda } from "./bpda.ts";
 * import { quantizer, softQuantizeDerivative } from "./quantize.ts";
 * import { withTransform } from "./transform.ts";
 * declare const net: Classifier;
 * const attackView = withTransform(net, bpda(quantizer(8)));         // forward: quantised, backward: identity
 * const softView = withTransform(net, bpda(quantizer(8), softQuantizeDerivative(8)));
 * ```
 */
export function bpda(forward: Transform, derivative?: Derivative): Transform {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    save([x]);
    return {
      value: forward(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        derivative ? tf.mul(dy, derivative(saved[0] as tf.Tensor4D)) : tf.clone(dy),
    };
  });
  return (x) => op(x) as tf.Tensor4D;
}

/**
 * `attack` run against `view` instead of the model it is handed: its gradients come from `view` (a BPDA view
 * of a defended model, or any other stand-in), while an evaluation that applies it, such as `evaluate`,
 * still judges the adversarial images on the model itself.
 *
 * @example
 * ```ts
 * import { makeAttack } from "../attacks/make.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { evaluate } from "../eval/evaluate.ts";
 * import type { Classifier } from "../models/classifier.ts";
 * import { attackVia, bpda } from "./bpda.ts";
 * import { quantizer } from "./quantize.ts";
 * import { withTransform } from "./transform.ts";
 * declare const net: Classifier, testSet: Dataset;
 * const defended = withTransform(net, quantizer(8));
 * const viaBpda = attackVia(withTransform(net, bpda(quantizer(8))), makeAttack({ kind: "fgsm", eps: 0.3 }));
 * const r = await evaluate(defended, testSet, { attack: viaBpda });
 * ```
 */
export function attackVia(view: Classifier, attack: Attack): Attack {
  return (_model, x, y) => attack(view, x, y);
}
