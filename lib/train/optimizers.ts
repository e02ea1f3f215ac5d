/**
 * Adam and SGD (with momentum) written over tf.Variables, with their state exposed as plain tensors so that a
 * checkpoint holds everything needed to resume a run exactly.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedAdam, fusedAdamAvailable } from "../backend/fused_adam.ts";

/** An optimizer as written in a config. */
export type OptimizerSpec =
  | { name: "adam"; learningRate: number; beta1?: number; beta2?: number; epsilon?: number }
  | { name: "sgd"; learningRate: number; momentum?: number };

/** A first-order optimizer over a fixed list of variables. */
export interface Optimizer {
  /** Applies one update for `grads` (same order as the variables). Disposes nothing it was given. */
  apply(grads: tf.Tensor[]): void;
  /** The state to checkpoint (step counter first, then slot tensors). */
  state(): tf.Tensor[];
  /** Restores a state made by {@linkcode Optimizer.state}. */
  load(state: tf.Tensor[]): void;
  /** Changes the learning rate for the following updates (for schedules). */
  setLearningRate(lr: number): void;
  /** Frees the slot variables. */
  dispose(): void;
}

function slots(vars: tf.Variable[]): tf.Variable[] {
  // tidy frees the zero tensors; variables survive it.
  return tf.tidy(() => vars.map((v) => tf.variable(tf.zerosLike(v), false)));
}

class Adam implements Optimizer {
  private m: tf.Variable[];
  private v: tf.Variable[];
  private t = 0;
  constructor(
    private vars: tf.Variable[],
    private lr: number,
    private b1: number,
    private b2: number,
    private eps: number,
  ) {
    this.m = slots(vars);
    this.v = slots(vars);
  }
  apply(grads: tf.Tensor[]): void {
    this.t++;
    const lrT = this.lr * Math.sqrt(1 - this.b2 ** this.t) / (1 - this.b1 ** this.t);
    const fused = fusedAdamAvailable();
    tf.tidy(() => {
      grads.forEach((g, i) => {
        if (fused) {
          // One pass on the backend's fused kernel; the same float32 operations as below.
          const [x, m, v] = fusedAdam(this.vars[i], this.m[i], this.v[i], g, {
            learningRate: lrT,
            beta1: this.b1,
            beta2: this.b2,
            epsilon: this.eps,
          });
          this.m[i].assign(m);
          this.v[i].assign(v);
          this.vars[i].assign(x);
          return;
        }
        const m = tf.add(tf.mul(this.m[i], this.b1), tf.mul(g, 1 - this.b1));
        const v = tf.add(tf.mul(this.v[i], this.b2), tf.mul(tf.square(g), 1 - this.b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        this.vars[i].assign(tf.sub(this.vars[i], tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.eps)), lrT)));
      });
    });
  }
  setLearningRate(lr: number): void {
    this.lr = lr;
  }
  state(): tf.Tensor[] {
    return [tf.scalar(this.t), ...this.m, ...this.v];
  }
  load(state: tf.Tensor[]): void {
    const n = this.vars.length;
    if (state.length !== 1 + 2 * n) {
      throw new Error(`adam state holds ${state.length} tensors, expected ${1 + 2 * n}`);
    }
    this.t = state[0].dataSync()[0];
    this.m.forEach((m, i) => m.assign(state[1 + i]));
    this.v.forEach((v, i) => v.assign(state[1 + n + i]));
  }
  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

class Sgd implements Optimizer {
  private velocity: tf.Variable[];
  private t = 0;
  constructor(private vars: tf.Variable[], private lr: number, private momentum: number) {
    this.velocity = momentum > 0 ? slots(vars) : [];
  }
  apply(grads: tf.Tensor[]): void {
    this.t++;
    tf.tidy(() => {
      grads.forEach((g, i) => {
        let update: tf.Tensor = g;
        if (this.momentum > 0) {
          update = tf.add(tf.mul(this.velocity[i], this.momentum), g);
          this.velocity[i].assign(update);
        }
        this.vars[i].assign(tf.sub(this.vars[i], tf.mul(update, this.lr)));
      });
    });
  }
  setLearningRate(lr: number): void {
    this.lr = lr;
  }
  state(): tf.Tensor[] {
    return [tf.scalar(this.t), ...this.velocity];
  }
  load(state: tf.Tensor[]): void {
    if (state.length !== 1 + this.velocity.length) {
      throw new Error(`sgd state holds ${state.length} tensors, expected ${1 + this.velocity.length}`);
    }
    this.t = state[0].dataSync()[0];
    this.velocity.forEach((v, i) => v.assign(state[1 + i]));
  }
  dispose(): void {
    tf.dispose(this.velocity);
  }
}

/** Creates the optimizer a spec describes over `vars`. */
export function createOptimizer(spec: OptimizerSpec, vars: tf.Variable[]): Optimizer {
  if (!(spec.learningRate > 0)) {
    throw new RangeError(`optimizer: learningRate must be > 0, got ${spec.learningRate}`);
  }
  switch (spec.name) {
    case "adam":
      return new Adam(vars, spec.learningRate, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
    case "sgd":
      return new Sgd(vars, spec.learningRate, spec.momentum ?? 0);
    default:
      throw new RangeError(
        `unknown optimizer ${JSON.stringify((spec as { name: unknown }).name)}; use "adam" or "sgd"`,
      );
  }
}
