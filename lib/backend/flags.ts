/**
 * The settings of advex's kernels, as `tf.env()` flags (registered when this module loads, as tfjs's
 * backends register theirs). The kernels read them with `tf.env().get(...)` on every call; tests and
 * benchmarks set them with `tf.env().set(name, value)` and put them back with `tf.env().set` (or
 * `tf.env().reset()`, which returns every flag to its default).
 *
 * | flag                        | values                          | default   |
 * | --------------------------- | ------------------------------- | --------- |
 * | `ADVEX_FILTER_GRAD_METHOD`  | "auto", "conv", "im2col"        | "auto"    |
 * | `ADVEX_INPUT_GRAD_METHOD`   | "auto", "conv", "col2im"        | "auto"    |
 * | `ADVEX_PATCH_MATRIX_LIMIT`  | a number of floats, at least 1  | 2^24      |
 * | `ADVEX_NATIVE_POLICY`       | "auto", "always"                | "auto"    |
 * | `ADVEX_NATIVE_DIRECT`       | true, false                     | true      |
 *
 * Setting a value outside these throws a RangeError naming the flag and the value, and leaves the flag at
 * its default.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FILTER_GRAD_METHOD } from "./flags.ts";
 * tf.env().set(FILTER_GRAD_METHOD, "im2col");
 * // ... the filter gradients now build patch matrices ...
 * tf.env().set(FILTER_GRAD_METHOD, "auto");
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Formulation of the wasm convolution filter gradient: "conv" (dilated convolution), "im2col" (patch matrix
 * and one matmul) or "auto" (picked per shape by `chooseFilterGradMethod`).
 */
export const FILTER_GRAD_METHOD = "ADVEX_FILTER_GRAD_METHOD";

/**
 * Formulation of the wasm convolution input gradient: "conv" (convolution with the flipped filter),
 * "col2im" (matmul and scatter-add) or "auto" (picked per shape by `chooseInputGradMethod`).
 */
export const INPUT_GRAD_METHOD = "ADVEX_INPUT_GRAD_METHOD";

/**
 * The largest patch matrix, in floats, that the im2col and col2im formulations build in one piece; above it
 * the batch goes in chunks of images (at least one image's worth is always used).
 */
export const PATCH_MATRIX_LIMIT = "ADVEX_PATCH_MATRIX_LIMIT";

/**
 * When the native kernels take a product: "auto" only when it is large enough (see `nativeWorthIt`),
 * "always" for every shape they support (for tests).
 */
export const NATIVE_POLICY = "ADVEX_NATIVE_POLICY";

/**
 * Whether the native library's direct AVX-512 kernels run where the CPU has AVX-512 (true); false sends
 * convolutions through im2col and BLAS as on other CPUs (for tests and benchmarks of both paths).
 */
export const NATIVE_DIRECT = "ADVEX_NATIVE_DIRECT";

/** How the filter gradient is computed: a fixed formulation, or "auto" to pick one per shape. */
export type FilterGradMethod = "auto" | "conv" | "im2col";
/** How the input gradient is computed: a fixed formulation, or "auto" to pick one per shape. */
export type InputGradMethod = "auto" | "conv" | "col2im";
/** The values of {@linkcode NATIVE_POLICY}. */
export type NativePolicy = "auto" | "always";

/** The default of {@linkcode PATCH_MATRIX_LIMIT}: 16M floats (64 MiB). */
export const DEFAULT_PATCH_MATRIX_LIMIT = 1 << 24;

type FlagValue = number | boolean | string;

/** One of advex's flags: its name, its default and the check of a value set. */
interface FlagSpec {
  name: string;
  defaultValue: FlagValue;
  /** What a valid value is, for the error message. */
  expected: string;
  valid: (value: FlagValue) => boolean;
}

const oneOf = (values: readonly string[]) => (value: FlagValue) => values.includes(value as string);
const quoted = (values: readonly string[]) => values.map((v) => `"${v}"`).join(", ");

/** The flags, each registered once with tfjs. */
export const BACKEND_FLAGS: readonly FlagSpec[] = [
  {
    name: FILTER_GRAD_METHOD,
    defaultValue: "auto",
    expected: quoted(["auto", "conv", "im2col"]),
    valid: oneOf(["auto", "conv", "im2col"]),
  },
  {
    name: INPUT_GRAD_METHOD,
    defaultValue: "auto",
    expected: quoted(["auto", "conv", "col2im"]),
    valid: oneOf(["auto", "conv", "col2im"]),
  },
  {
    name: PATCH_MATRIX_LIMIT,
    defaultValue: DEFAULT_PATCH_MATRIX_LIMIT,
    expected: "a finite number of floats, at least 1",
    valid: (v) => typeof v === "number" && Number.isFinite(v) && v >= 1,
  },
  {
    name: NATIVE_POLICY,
    defaultValue: "auto",
    expected: quoted(["auto", "always"]),
    valid: oneOf(["auto", "always"]),
  },
  {
    name: NATIVE_DIRECT,
    defaultValue: true,
    expected: "true or false",
    valid: (v) => typeof v === "boolean",
  },
];

for (const spec of BACKEND_FLAGS) {
  tf.env().registerFlag(spec.name, () => spec.defaultValue, (value) => {
    if (spec.valid(value)) return;
    // tf.env().set stores the value before calling this hook: drop it, so the flag reads its default.
    delete tf.env().getFlags()[spec.name];
    throw new RangeError(`invalid ${spec.name} ${JSON.stringify(value)}: use ${spec.expected}`);
  });
}
