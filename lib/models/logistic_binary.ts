/**
 * Binary logistic regression with labels y in {-1, +1}, p(y | x) = sigmoid(y (w'x + b)), and the closed form
 * of its FGSM adversarial loss (Goodfellow et al.; lecture section 5.2, equation 3):
 *
 *     max over ||d||_inf <= eps of softplus(-y (w'(x + d) + b)) = softplus(-y (w'x + b) + eps ||w||_1),
 *
 * reached at d = -eps y sign(w), which is exactly the FGSM step: the gradient of the loss with respect to x
 * is -y sigmoid(-y (w'x + b)) w, whose sign is -y sign(w). Adversarial training of logistic regression is
 * therefore an l1 penalty inside the softplus. The identity needs the perturbed input to be free to leave
 * the pixel range: with pixels clipped to [0, 1] the attack is weaker and the closed form is only an upper
 * bound.
 *
 * The model is a {@linkcode Classifier} like every other one: its two logits are (-z / 2, z / 2) with
 * z = w'x + b, so that the softmax cross-entropy of label 1 (y = +1) is softplus(-z) and of label 0
 * (y = -1) softplus(z), and every attack and training loop of the library applies unchanged. (Symmetric
 * logits keep the input gradient from rounding to zero in float32 on examples classified with a large
 * margin, which a (0, z) pair would do as soon as the softmax saturates.)
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The last layer of {@linkcode binaryLogistic}: one score z becomes the two logits (-z / 2, z / 2). */
export class BinaryLogits extends tf.layers.Layer {
  /** Class name for tfjs serialization. */
  static className = "BinaryLogits";
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], 2];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const z = Array.isArray(inputs) ? inputs[0] : inputs;
      const half = tf.mul(z, 0.5);
      return tf.concat([tf.neg(half), half], 1);
    });
  }
}
tf.serialization.registerClass(BinaryLogits);

/**
 * Binary logistic regression on inputs of `inputShape`: flatten, one dense unit (w, b), then
 * {@linkcode BinaryLogits}. The weights start at w = 0, b = 0: the problem is convex, so no random start is
 * needed, and training runs that should agree start from the same point.
 */
export function binaryLogistic(inputShape: [number, number, number]): tf.LayersModel {
  return tf.sequential({
    name: "logistic_binary",
    layers: [
      tf.layers.flatten({ inputShape }),
      tf.layers.dense({ units: 1, kernelInitializer: "zeros", biasInitializer: "zeros", name: "score" }),
      new BinaryLogits({ name: "binary_logits" }),
    ],
  });
}

/** The weight vector and bias of a {@linkcode binaryLogistic} model, copied out. */
export function binaryWeights(model: tf.LayersModel): { w: Float32Array; b: number } {
  const [kernel, bias] = model.getLayer("score").getWeights();
  return { w: Float32Array.from(kernel.dataSync()), b: bias.dataSync()[0] };
}

/** Sets the weight vector and bias of a {@linkcode binaryLogistic} model. */
export function setBinaryWeights(model: tf.LayersModel, w: ArrayLike<number>, b: number): void {
  const layer = model.getLayer("score");
  const [kernel] = layer.getWeights();
  if (w.length !== kernel.size) {
    throw new RangeError(`setBinaryWeights: expected ${kernel.size} weights, got ${w.length}`);
  }
  const values = [tf.tensor2d(Array.from(w), [w.length, 1]), tf.tensor1d([b])];
  layer.setWeights(values);
  tf.dispose(values);
}

/** log(1 + e^t), without overflow for large t, in float64. */
export function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/** Labels {0, 1} as y in {-1, +1}. */
export function signedLabels(labels: ArrayLike<number>): Int8Array {
  return Int8Array.from(labels, (l) => (l === 1 ? 1 : -1));
}

function checkShapes(w: ArrayLike<number>, x: ArrayLike<number>, y: ArrayLike<number>, fn: string): number {
  const d = w.length;
  if (d === 0 || x.length !== y.length * d) {
    throw new RangeError(`${fn}: x must hold ${y.length} x ${d} values, got ${x.length}`);
  }
  return d;
}

/** Per-example scores z_i = w'x_i + b in float64; `x` is row-major [N, d]. */
export function logisticScores(
  w: ArrayLike<number>,
  b: number,
  x: ArrayLike<number>,
  n: number,
): Float64Array {
  const d = w.length;
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b;
    for (let j = 0; j < d; j++) s += w[j] * x[i * d + j];
    z[i] = s;
  }
  return z;
}

/** Per-example logistic loss softplus(-y (w'x + b)) in float64. */
export function logisticLoss(
  w: ArrayLike<number>,
  b: number,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
): Float64Array {
  checkShapes(w, x, y, "logisticLoss");
  const z = logisticScores(w, b, x, y.length);
  return Float64Array.from(z, (zi, i) => softplus(-y[i] * zi));
}

/** Per-example closed form of the FGSM adversarial loss, softplus(-y (w'x + b) + eps ||w||_1), in float64. */
export function closedFormAdversarialLoss(
  w: ArrayLike<number>,
  b: number,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  eps: number,
): Float64Array {
  checkShapes(w, x, y, "closedFormAdversarialLoss");
  let l1 = 0;
  for (let j = 0; j < w.length; j++) l1 += Math.abs(w[j]);
  const z = logisticScores(w, b, x, y.length);
  return Float64Array.from(z, (zi, i) => softplus(-y[i] * zi + eps * l1));
}

/**
 * FGSM on binary logistic regression in float64, with no pixel range: the input gradient of the loss,
 * g = -y sigmoid(-y z) w, then x' = x + eps sign(g). Returns the adversarial inputs (row-major [N, d]).
 */
export function logisticFgsm(
  w: ArrayLike<number>,
  b: number,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  eps: number,
): Float64Array {
  const d = checkShapes(w, x, y, "logisticFgsm");
  const z = logisticScores(w, b, x, y.length);
  const out = new Float64Array(x.length);
  for (let i = 0; i < y.length; i++) {
    const t = -y[i] * z[i];
    const sigma = t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
    for (let j = 0; j < d; j++) {
      const g = -y[i] * sigma * w[j];
      out[i * d + j] = x[i * d + j] + eps * Math.sign(g);
    }
  }
  return out;
}
