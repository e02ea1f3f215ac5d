/**
 * An "input gradients only" scope. tfjs's fused convolution computes the filter gradient eagerly in its
 * backward pass even when only the gradient with respect to the input is asked for (an attack's gradient),
 * and then discards it. Inside {@linkcode inputGradientsOnly}, advex's own `Conv2DBackpropFilter` kernels
 * skip that work and return zeros; nothing inside the scope may use a filter gradient. On backends whose
 * kernels advex does not replace, the scope changes nothing.
 * @module
 */

let depth = 0;

/**
 * Runs `fn`, which computes gradients with respect to inputs only (never parameters), letting the backend
 * skip parameter gradients that tfjs would compute and throw away.
 *
 * @example
 * ```ts ignore
 * const g = inputGradientsOnly(() => tf.grad((x) => loss(model(x)))(images));
 * ```
 */
export function inputGradientsOnly<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}

/** Whether code is running inside {@linkcode inputGradientsOnly}. */
export function parameterGradientsSkipped(): boolean {
  return depth > 0;
}
