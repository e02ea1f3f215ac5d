/**
 * Threat models: the set of perturbations an adversary may use. Each has four operations — project onto the
 * ball (and the pixel range), take the steepest-ascent step for a gradient, draw a random start, and say
 * how far a point is from the centre — and every attack is written once against them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The norms advex supports. */
export type Norm = "linf" | "l2";

/** Options shared by the balls. */
export interface BallOptions {
  /** Lower pixel bound. Default 0. */
  clipMin?: number;
  /** Upper pixel bound. Default 1. */
  clipMax?: number;
}

/** A norm ball of radius `eps` intersected with the pixel range [clipMin, clipMax]. */
export interface ThreatModel {
  readonly norm: Norm;
  readonly eps: number;
  readonly clipMin: number;
  readonly clipMax: number;
  /** The point of the ball around `x` (and of the pixel range) closest to `xAdv`. */
  project(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D;
  /** The steepest-ascent step of length `size` in this norm for gradient `grad` (a perturbation, not a point). */
  step(grad: tf.Tensor4D, size: number): tf.Tensor4D;
  /** A random point of the ball around `x`, within the pixel range, drawn with tfjs seed `seed`. */
  randomStart(x: tf.Tensor4D, seed: number): tf.Tensor4D;
  /** Per-example distance of `xAdv` from `x` in this norm, shape [N]. */
  distance(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor1D;
}

/**
 * The name of the fused l-inf step kernel (`lib/backend/linf_step.ts` registers it for wasm): inputs `x`,
 * `g`, `lo`, `hi`, attribute `size`; output min(max(x + size * sign(g), lo), hi). Attacks ask tfjs's kernel
 * registry whether the backend in use has it, and otherwise run the same ops; they know nothing more of the
 * backend.
 */
export const LINF_STEP_KERNEL = "AdvexLinfStep";

/** A projection onto one ball, prepared for the many steps of an attack around the same `x`. */
export interface Projector {
  /** `threat.project(v, x)`. */
  project(v: tf.Tensor4D): tf.Tensor4D;
  /** `threat.project(xAdv + threat.step(grad, size), x)`: a gradient step, projected. */
  step(xAdv: tf.Tensor4D, grad: tf.Tensor4D, size: number): tf.Tensor4D;
  /** Releases what was prepared. */
  dispose(): void;
}

/**
 * The projection onto `threat`'s ball around `x`, prepared once: for l-inf the ball within the pixel range is
 * a box, whose corners are computed here instead of at every step (two full passes saved per step); the
 * results are `threat.project`'s, bit for bit. Dispose it when the attack ends, error paths included.
 */
export function projectorOf(threat: ThreatModel, x: tf.Tensor4D): Projector {
  if (threat.norm !== "linf") {
    return {
      project: (v) => threat.project(v, x),
      step: (xAdv, grad, size) =>
        tf.tidy(() => threat.project(tf.add(xAdv, threat.step(grad, size)) as tf.Tensor4D, x)),
      dispose: () => {},
    };
  }
  const [lo, hi] = tf.tidy(() => [
    tf.maximum(tf.sub(x, threat.eps), threat.clipMin),
    tf.minimum(tf.add(x, threat.eps), threat.clipMax),
  ]);
  const project = (v: tf.Tensor4D) => tf.tidy(() => tf.minimum(tf.maximum(v, lo), hi) as tf.Tensor4D);
  return {
    project,
    step(xAdv, grad, size) {
      if (
        xAdv.dtype === "float32" && grad.dtype === "float32" && tf.util.arraysEqual(xAdv.shape, grad.shape) &&
        tf.util.arraysEqual(xAdv.shape, lo.shape) &&
        tf.getKernel(LINF_STEP_KERNEL, tf.getBackend()) !== undefined
      ) {
        return tf.engine().runKernel(LINF_STEP_KERNEL, { x: xAdv, g: grad, lo, hi }, { size }) as tf.Tensor4D;
      }
      return tf.tidy(() => project(tf.add(xAdv, threat.step(grad, size)) as tf.Tensor4D));
    },
    dispose: () => tf.dispose([lo, hi]),
  };
}

function perExampleL2(t: tf.Tensor4D): tf.Tensor4D {
  const n = t.shape[0];
  return tf.sqrt(tf.sum(tf.square(t.reshape([n, -1])), 1)).reshape([n, 1, 1, 1]);
}

/**
 * sign(t) from two comparisons. The wasm backend's `Sign` kernel returns 0 for |t| below float32 epsilon
 * (about 1.2e-7), which would silently drop the small input gradients of confidently classified examples.
 */
export function exactSign<T extends tf.Tensor>(t: T): T {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(t, 0), "float32"), tf.cast(tf.less(t, 0), "float32")) as T);
}

function checkEps(eps: number) {
  if (!(eps >= 0) || !Number.isFinite(eps)) {
    throw new RangeError(`eps must be a finite number >= 0, got ${eps}`);
  }
}

/** The l-infinity ball: every pixel moves by at most `eps`. */
export class LinfBall implements ThreatModel {
  readonly norm = "linf" as const;
  readonly clipMin: number;
  readonly clipMax: number;
  constructor(readonly eps: number, options: BallOptions = {}) {
    checkEps(eps);
    this.clipMin = options.clipMin ?? 0;
    this.clipMax = options.clipMax ?? 1;
  }
  project(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const lo = tf.maximum(tf.sub(x, this.eps), this.clipMin);
      const hi = tf.minimum(tf.add(x, this.eps), this.clipMax);
      return tf.minimum(tf.maximum(xAdv, lo), hi);
    });
  }
  step(grad: tf.Tensor4D, size: number): tf.Tensor4D {
    return tf.tidy(() => tf.mul(exactSign(grad), size));
  }
  randomStart(x: tf.Tensor4D, seed: number): tf.Tensor4D {
    return tf.tidy(() =>
      tf.clipByValue(
        tf.add(x, tf.randomUniform(x.shape, -this.eps, this.eps, "float32", seed)),
        this.clipMin,
        this.clipMax,
      )
    );
  }
  distance(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => tf.max(tf.abs(tf.sub(xAdv, x)).reshape([x.shape[0], -1]), 1) as tf.Tensor1D);
  }
}

/** The l2 ball: the perturbation's Euclidean norm is at most `eps`. */
export class L2Ball implements ThreatModel {
  readonly norm = "l2" as const;
  readonly clipMin: number;
  readonly clipMax: number;
  constructor(readonly eps: number, options: BallOptions = {}) {
    checkEps(eps);
    this.clipMin = options.clipMin ?? 0;
    this.clipMax = options.clipMax ?? 1;
  }
  project(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
    // Clip to the pixel range first, then shrink into the ball: the ball is centred on a point of the box, so
    // scaling the perturbation towards x keeps every pixel inside the box.
    return tf.tidy(() => {
      const delta = tf.sub(tf.clipByValue(xAdv, this.clipMin, this.clipMax), x);
      const norm = perExampleL2(delta as tf.Tensor4D);
      const factor = tf.minimum(1, tf.div(this.eps, tf.maximum(norm, 1e-12)));
      return tf.add(x, tf.mul(delta, factor));
    });
  }
  step(grad: tf.Tensor4D, size: number): tf.Tensor4D {
    return tf.tidy(() => tf.mul(tf.div(grad, tf.maximum(perExampleL2(grad), 1e-12)), size));
  }
  randomStart(x: tf.Tensor4D, seed: number): tf.Tensor4D {
    // Uniform in the ball: a Gaussian direction, radius eps * U^(1/d).
    return tf.tidy(() => {
      const n = x.shape[0];
      const d = x.size / n;
      const dir = tf.randomNormal(x.shape, 0, 1, "float32", seed) as tf.Tensor4D;
      const u = tf.randomUniform([n, 1, 1, 1], 0, 1, "float32", seed + 1);
      const radius = tf.mul(tf.pow(u, 1 / d), this.eps);
      const delta = tf.mul(tf.div(dir, tf.maximum(perExampleL2(dir), 1e-12)), radius);
      return this.project(tf.add(x, delta), x);
    });
  }
  distance(xAdv: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => perExampleL2(tf.sub(xAdv, x) as tf.Tensor4D).reshape([x.shape[0]]) as tf.Tensor1D);
  }
}

/** The ball of `norm` with radius `eps`. */
export function ball(norm: Norm, eps: number, options: BallOptions = {}): ThreatModel {
  if (norm === "linf") return new LinfBall(eps, options);
  if (norm === "l2") return new L2Ball(eps, options);
  throw new RangeError(`unknown norm ${JSON.stringify(norm)}; use "linf" or "l2"`);
}
