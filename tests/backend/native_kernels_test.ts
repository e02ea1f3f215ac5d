/**
 * The native kernels (`native/advex_native.c` through `lib/backend/native_kernels.ts`) against tfjs's cpu
 * backend, forward and gradient, on shapes with odd sizes, strides, paddings and dilations, and on matrix
 * products with every transpose and batch broadcast. The library must load here: `scripts/install.sh`
 * builds it. Set ADVEX_NATIVE=0 to run the suite without it (these tests then check nothing and say so).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertLessOrEqual, assertThrows } from "@std/assert";
import {
  initBackend,
  loadNative,
  NATIVE_ENV_VAR,
  NATIVE_KERNELS,
  nativeKernelsRegistered,
  nativeWorthIt,
  registerNativeKernels,
  registerWasmKernels,
  setNativePolicy,
  unregisterNativeKernels,
} from "../../lib/backend/mod.ts";
import {
  CONV_CASES,
  type ConvCase,
  describeCase,
  relativeError,
  seededFloats,
  sizeOf,
  valuesOn,
} from "./_compare.ts";

const TOLERANCE = 1e-4;
const off = ["0", "off", "false", "no"].includes((Deno.env.get(NATIVE_ENV_VAR) ?? "").trim().toLowerCase());

registerWasmKernels();
await initBackend({ backend: "cpu" });
const status = await loadNative({ build: true });
if (status.ok) registerNativeKernels(status.library);
const ignore = off;
// Every test below but the policy test runs the native code on every shape, small ones included.
setNativePolicy("always");

Deno.test("the native kernel library builds and loads with a BLAS library", { ignore }, () => {
  assert(status.ok, `native kernels unavailable: ${status.detail}`);
  assert(nativeKernelsRegistered());
  assert(status.library.threads >= 1);
});

/** The shared cases, plus the plain-product and the chunked paths of the native code. */
const NATIVE_CONV_CASES: ConvCase[] = [
  ...CONV_CASES,
  // 1x1 convolutions: the plain-product path (stride 1) and the patch path (stride 2).
  { x: [3, 6, 5, 7], filter: [1, 1, 7, 5], strides: 1, pad: "valid" },
  { x: [3, 7, 7, 4], filter: [1, 1, 4, 6], strides: 2, pad: "valid" },
  // The Madry CNN's layers at a small batch, and a chunked patch matrix (many images of a large layer).
  { x: [2, 28, 28, 1], filter: [5, 5, 1, 8], strides: 1, pad: "same" },
  { x: [40, 14, 14, 16], filter: [5, 5, 16, 8], strides: 1, pad: "same" },
];

/** conv2d(x, w) and [dx, dw] of sum(conv2d(x, w) * weights), for fixed seeded x, w and weights. */
function convAndGradients(c: ConvCase): tf.Tensor[] {
  const x = tf.tensor4d(seededFloats(sizeOf(c.x), 1), c.x);
  const w = tf.tensor4d(seededFloats(sizeOf(c.filter), 2), c.filter);
  const y = tf.conv2d(x, w, c.strides, c.pad, "NHWC", c.dilations ?? 1);
  const weights = tf.tensor(seededFloats(sizeOf(y.shape), 3), y.shape);
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad).mul(weights).sum()
  )([x, w]);
  return [y, ...grads];
}

Deno.test(
  "native Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter match the cpu backend",
  { ignore },
  async () => {
    for (const c of NATIVE_CONV_CASES) {
      const expected = await valuesOn("cpu", () => convAndGradients(c));
      const actual = await valuesOn("wasm", () => convAndGradients(c));
      ["output", "input gradient", "filter gradient"].forEach((what, i) => {
        const err = relativeError(actual[i], expected[i]);
        assertLessOrEqual(err, TOLERANCE, `${what}: ${describeCase(c)}: relative error ${err}`);
      });
    }
  },
);

Deno.test("native Conv2D with dilations matches the cpu backend", { ignore }, async () => {
  for (
    const c of [
      { x: [2, 9, 11, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same", dilations: 2 },
      { x: [1, 10, 9, 2], filter: [2, 3, 2, 3], strides: 1, pad: "valid", dilations: [2, 3] },
    ] as ConvCase[]
  ) {
    const run = () => {
      const x = tf.tensor4d(seededFloats(sizeOf(c.x), 4), c.x);
      const w = tf.tensor4d(seededFloats(sizeOf(c.filter), 5), c.filter);
      return tf.conv2d(x, w, c.strides, c.pad, "NHWC", c.dilations);
    };
    const [expected] = await valuesOn("cpu", run);
    const [actual] = await valuesOn("wasm", run);
    assertLessOrEqual(relativeError(actual, expected), TOLERANCE, describeCase(c));
  }
});

Deno.test("native FusedConv2D adds the bias and applies the activation", { ignore }, async () => {
  for (const activation of ["linear", "relu", "sigmoid", "elu"] as const) {
    const run = () => {
      const x = tf.tensor4d(seededFloats(2 * 6 * 7 * 3, 6), [2, 6, 7, 3]);
      const w = tf.tensor4d(seededFloats(3 * 3 * 3 * 4, 7), [3, 3, 3, 4]);
      const bias = tf.tensor1d(seededFloats(4, 8));
      return tf.fused.conv2d({ x, filter: w, strides: 2, pad: "same", bias, activation });
    };
    const [expected] = await valuesOn("cpu", run);
    const [actual] = await valuesOn("wasm", run);
    assertLessOrEqual(relativeError(actual, expected), TOLERANCE, activation);
  }
});

Deno.test("native BatchMatMul and _FusedMatMul match the cpu backend for every transpose and broadcast", {
  ignore,
}, async () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [];
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const [m, k, n] = [5, 7, 3];
      const a = ta ? [k, m] : [m, k];
      const b = tb ? [n, k] : [k, n];
      cases.push({ a, b, ta, tb });
      cases.push({ a: [4, ...a], b: [4, ...b], ta, tb });
      cases.push({ a: [1, ...a], b: [3, ...b], ta, tb });
      cases.push({ a: [3, ...a], b: [1, ...b], ta, tb });
    }
  }
  cases.push({ a: [128, 800], b: [800, 64], ta: false, tb: false });
  for (const c of cases) {
    const run = () => {
      const a = tf.tensor(seededFloats(sizeOf(c.a), 9), c.a);
      const b = tf.tensor(seededFloats(sizeOf(c.b), 10), c.b);
      const plain = tf.matMul(a, b, c.ta, c.tb);
      const bias = tf.tensor1d(seededFloats(plain.shape.at(-1)!, 11));
      const fused = tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias, activation: "relu" });
      return [plain, fused];
    };
    const expected = await valuesOn("cpu", run);
    const actual = await valuesOn("wasm", run);
    const what = `a ${c.a}, b ${c.b}, transposeA ${c.ta}, transposeB ${c.tb}`;
    assertLessOrEqual(relativeError(actual[0], expected[0]), TOLERANCE, `matMul ${what}`);
    assertLessOrEqual(relativeError(actual[1], expected[1]), TOLERANCE, `fused matMul ${what}`);
  }
});

Deno.test("native MaxPoolGrad matches the cpu backend, windows of negative values and padding included", {
  ignore,
}, async () => {
  const cases: {
    x: [number, number, number, number];
    size: number;
    strides: number;
    pad: "same" | "valid" | number;
  }[] = [
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: "valid" },
    { x: [2, 7, 9, 5], size: 3, strides: 2, pad: "same" },
    { x: [1, 9, 7, 2], size: 3, strides: 1, pad: 1 },
    { x: [3, 28, 28, 4], size: 2, strides: 2, pad: "same" },
  ];
  for (const c of cases) {
    for (const shift of [0, -5]) {
      const run = () => {
        const x = tf.tensor4d(seededFloats(sizeOf(c.x), 12), c.x).add(shift) as tf.Tensor4D;
        return tf.grad((v: tf.Tensor) =>
          tf.maxPool(v as tf.Tensor4D, c.size, c.strides, c.pad).mul(tf.scalar(1.5)).sum()
        )(x);
      };
      const [expected] = await valuesOn("cpu", run);
      const [actual] = await valuesOn("wasm", run);
      assertLessOrEqual(relativeError(actual, expected), TOLERANCE, `${JSON.stringify(c)}, shift ${shift}`);
    }
  }
});

Deno.test("nativeWorthIt() under the auto policy takes large products and leaves small ones to wasm", {
  ignore,
}, () => {
  setNativePolicy("auto");
  try {
    // The Madry CNN's second convolution at batch 128: rows 25,088, patch 800, 64 channels.
    assert(nativeWorthIt(25088, 64, 800));
    // A 3x3 convolution from 8 to 8 channels, and a 1x1 from 16 to 4: too narrow.
    assert(!nativeWorthIt(100352, 8, 72));
    assert(!nativeWorthIt(25088, 4, 16));
    // A dense layer's product with 10 logits: too narrow; a tiny square product: too small.
    assert(!nativeWorthIt(128, 10, 1024));
    assert(!nativeWorthIt(64, 64, 64));
  } finally {
    setNativePolicy("always");
  }
  assert(nativeWorthIt(1, 1, 1));
  assertThrows(() => setNativePolicy("sometimes" as "auto"), Error, "unknown native policy");
});

Deno.test("native kernels leak no tensors and unregister cleanly", { ignore }, async () => {
  await tf.setBackend("wasm");
  const c = NATIVE_CONV_CASES[2];
  tf.dispose(tf.tidy(() => convAndGradients(c)));
  const before = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(() => convAndGradients(c)));
  assertEquals(tf.memory().numTensors, before);
  assertEquals(tf.memory().numBytes, bytes);
  unregisterNativeKernels();
  try {
    assert(!nativeKernelsRegistered());
    for (const name of NATIVE_KERNELS) assert(tf.getKernel(name, "wasm") !== undefined, name);
    const [plainWasm] = await valuesOn("wasm", () => convAndGradients(c));
    const [expected] = await valuesOn("cpu", () => convAndGradients(c));
    assertLessOrEqual(relativeError(plainWasm, expected), TOLERANCE);
  } finally {
    if (status.ok) registerNativeKernels(status.library);
  }
  assert(nativeKernelsRegistered());
});
