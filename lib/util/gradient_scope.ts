/**
 * An "input gradients only" scope: a declaration, by code that computes gradients with respect to its
 * inputs only (an attack's gradient), that parameter gradients computed on the way will be thrown away.
 * tfjs's fused convolution computes the filter gradient eagerly in its backward pass even when only the
 * input gradient is asked for, and then discards it; inside {@linkcode inputGradientsOnly}, advex's
 * `Conv2DBackpropFilter` kernels (lib/backend) skip that work and return zeros.
 *
 * The scope is guarded, so that it cannot hand out zeros to code that asked for parameter gradients (a
 * classifier that adapts its weights at test time, say): assigning a variable inside the scope is an error,
 * and every zero gradient a kernel hands out inside it is recorded ({@linkcode noteSkippedGradient}); when
 * the outermost scope ends, any of them still alive (kept past the scope) is an error too. Keep the scope's
 * work inside `tf.tidy`, so that discarded gradients are disposed.
 *
 * This module holds only the declaration; it knows nothing of backends, so attacks can use it.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

let depth = 0;
const handedOut: object[] = [];

/** Thrown when a parameter gradient computed inside {@linkcode inputGradientsOnly} outlives the scope. */
export class GradientScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GradientScopeError";
  }
}

function alive(dataId: object): boolean {
  // deno-lint-ignore no-explicit-any
  const info = (tf.engine() as any).state?.tensorInfo as WeakMap<object, unknown> | undefined;
  return info ? info.has(dataId) : false;
}

/**
 * Runs `fn`, which computes gradients with respect to inputs only (never parameters), letting the backend
 * skip parameter gradients that tfjs would compute and throw away. Throws a {@linkcode GradientScopeError}
 * when a parameter gradient the backend skipped (returned as zeros) is still in use when the scope ends.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { inputGradientsOnly } from "./gradient_scope.ts";
 * const g = inputGradientsOnly(() => tf.tidy(() => tf.grad((x) => tf.sum(tf.square(x)))(tf.ones([2]))));
 * g.dispose();
 * ```
 */
export function inputGradientsOnly<T>(fn: () => T): T {
  if (depth === 0) guardVariables();
  depth++;
  let kept = 0;
  let out: T;
  try {
    out = fn();
  } finally {
    depth--;
    if (depth === 0) {
      unguardVariables();
      kept = handedOut.filter(alive).length;
      handedOut.length = 0;
    }
  }
  if (kept > 0) {
    throw new GradientScopeError(
      `inputGradientsOnly(): ${kept} parameter gradient(s) computed inside the scope are still in use, ` +
        `but inside it the backend returns them as zeros; compute parameter gradients outside ` +
        `inputGradientsOnly() (and keep the scope's own work inside tf.tidy)`,
    );
  }
  return out;
}

type Assign = (this: tf.Variable, value: tf.Tensor) => void;
let originalAssign: Assign | undefined;

/** While a scope runs, `Variable.assign` refuses: a parameter update there would use zero gradients. */
function guardVariables(): void {
  const proto = tf.Variable.prototype as unknown as { assign: Assign };
  originalAssign = proto.assign;
  const original = originalAssign;
  proto.assign = function (this: tf.Variable, value: tf.Tensor) {
    if (depth > 0) {
      throw new GradientScopeError(
        `inputGradientsOnly(): variable ${this.name} was assigned inside the scope, where parameter ` +
          `gradients are returned as zeros; update parameters outside inputGradientsOnly()`,
      );
    }
    return original.call(this, value);
  };
}

function unguardVariables(): void {
  if (originalAssign) (tf.Variable.prototype as unknown as { assign: Assign }).assign = originalAssign;
  originalAssign = undefined;
}

/** Whether code is running inside {@linkcode inputGradientsOnly}: kernels may skip parameter gradients. */
export function parameterGradientsSkipped(): boolean {
  return depth > 0;
}

/** Records the data of a zero parameter gradient a kernel returned inside the scope (see the guard above). */
export function noteSkippedGradient(dataId: object): void {
  if (depth > 0) handedOut.push(dataId);
}
