/**
 * The native kernels (`native/*.c` through `lib/backend/native_kernels.ts`) against tfjs's cpu backend,
 * forward and gradient, on shapes with odd sizes, strides, paddings and dilations, and on matrix products
 * with every transpose and batch broadcast. Convolutions and pooling run twice: through the direct AVX-512
 * kernels (where this CPU has them) and through im2col and BLAS (the path of other CPUs). The library must
 * load here: `scripts/install.sh` builds it. Set ADVEX_NATIVE=0 to run the suite without it (these tests
 * then check nothing and say so).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertLessOrEqual, assertThrows } from "@std/assert";
import {
  ADVEX_KERNELS,
  CONV_GEOMETRY_FIELDS,
  initBackend,
  kernelNames,
  loadNative,
  NATIVE_DIRECT,
  NATIVE_ENV_VAR,
  NATIVE_KERNEL_NAMES,
  NATIVE_KERNELS,
  NATIVE_POLICY,
  nativeKernelsRegistered,
  nativeWorthIt,
  POOL_GEOMETRY_FIELDS,
  registerNativeKernels,
  registerWasmKernels,
  replacedKernel,
  unregisterKernels,
  WASM_KERNELS,
} from "../../lib/backend/mod.ts";
import {
  CONV_CASES,
  type ConvCase,
  describeCase,
  relativeError,
  seededFloats,
  sizeOf,
  valuesOn,
  withFlags,
} from "./_compare.ts";

const TOLERANCE = 1e-4;
const off = ["0", "off", "false", "no"].includes((Deno.env.get(NATIVE_ENV_VAR) ?? "").trim().toLowerCase());

registerWasmKernels();
await initBackend({ backend: "cpu" });
const status = await loadNative({ build: true });
if (status.ok) registerNativeKernels(status.library);
const ignore = off;
// Every test below but the policy test runs the native code on every shape, small ones included.
tf.env().set(NATIVE_POLICY, "always");

Deno.test("the native kernel library builds and loads with a BLAS library", { ignore }, () => {
  assert(status.ok, `native kernels unavailable: ${status.detail}`);
  assert(nativeKernelsRegistered());
  assert(status.library.threads >= 1);
});

Deno.test("the native library lays out the geometry structs as conv_geometry.ts does", { ignore }, () => {
  assert(status.ok, status.detail);
  assertEquals(status.library.symbols.advex_geometry_fields(0), CONV_GEOMETRY_FIELDS.length);
  assertEquals(status.library.symbols.advex_geometry_fields(1), POOL_GEOMETRY_FIELDS.length);
});

Deno.test("ADVEX_KERNELS lists the wasm kernels, then the native ones over them", { ignore }, () => {
  assertEquals(ADVEX_KERNELS, [...WASM_KERNELS, ...NATIVE_KERNELS]);
  assertEquals(NATIVE_KERNEL_NAMES, kernelNames(NATIVE_KERNELS));
  // Where both layers have a kernel, the native one replaced advex's wasm kernel.
  for (const wasm of WASM_KERNELS) {
    const native = NATIVE_KERNELS.find((c) => c.kernelName === wasm.kernelName);
    if (native !== undefined) assert(replacedKernel(native)?.kernelFunc === wasm.kernelFunc, wasm.kernelName);
  }
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
  // The direct kernel's tile shapes: 4 vectors of output channels with a partly masked block (70), 2
  // vectors (32, whose input gradient from 3 channels takes the narrow kernel), 1 full vector (16) and a
  // strided one, each with enough work to be split between threads.
  { x: [3, 9, 8, 20], filter: [3, 3, 20, 70], strides: 1, pad: "same" },
  { x: [2, 11, 9, 3], filter: [5, 5, 3, 32], strides: 1, pad: "same" },
  { x: [2, 10, 10, 32], filter: [3, 3, 32, 16], strides: 1, pad: "valid" },
  { x: [2, 11, 10, 16], filter: [3, 3, 16, 48], strides: 2, pad: "same" },
];

/** Whether this CPU runs the direct kernels (then every convolution test runs with them on and off). */
const direct = status.ok && status.library.directThreads > 0;
const PATHS: { name: string; direct: boolean }[] = direct
  ? [{ name: "direct", direct: true }, { name: "blas", direct: false }]
  : [{ name: "blas", direct: false }];

/** Runs `fn` once per native path (direct kernels on, then off), naming the path; sets the flag back. */
async function onEachPath(fn: (path: string) => Promise<void>): Promise<void> {
  for (const p of PATHS) await withFlags({ [NATIVE_DIRECT]: p.direct }, () => fn(p.name));
}

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
      await onEachPath(async (path) => {
        const actual = await valuesOn("wasm", () => convAndGradients(c));
        ["output", "input gradient", "filter gradient"].forEach((what, i) => {
          const err = relativeError(actual[i], expected[i]);
          assertLessOrEqual(err, TOLERANCE, `${path} ${what}: ${describeCase(c)}: relative error ${err}`);
        });
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
    await onEachPath(async (path) => {
      const [actual] = await valuesOn("wasm", run);
      assertLessOrEqual(relativeError(actual, expected), TOLERANCE, `${path}: ${describeCase(c)}`);
    });
  }
});

Deno.test("native FusedConv2D adds the bias and applies the activation", { ignore }, async () => {
  // Linear and relu are applied by the native code itself (4 and 40 output channels: one masked vector,
  // and a 4-vector tile with its last one masked); the others by the wasm kernels after it.
  for (const [ci, co] of [[3, 4], [5, 40]]) {
    for (const activation of ["linear", "relu", "sigmoid", "elu"] as const) {
      for (const withBias of [true, false]) {
        const run = () => {
          const x = tf.tensor4d(seededFloats(2 * 6 * 7 * ci, 6), [2, 6, 7, ci]);
          const w = tf.tensor4d(seededFloats(3 * 3 * ci * co, 7), [3, 3, ci, co]);
          const bias = withBias ? tf.tensor1d(seededFloats(co, 8)) : undefined;
          return tf.fused.conv2d({ x, filter: w, strides: 2, pad: "same", bias, activation });
        };
        const [expected] = await valuesOn("cpu", run);
        await onEachPath(async (path) => {
          const [actual] = await valuesOn("wasm", run);
          const what = `${path}: ${co} channels, ${activation}${withBias ? ", bias" : ""}`;
          assertLessOrEqual(relativeError(actual, expected), TOLERANCE, what);
        });
      }
    }
  }
});

Deno.test("native BatchMatMul and _FusedMatMul match the cpu backend for every transpose and broadcast", {
  ignore,
}, async () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [];
  // Small products (BLAS), and ones wide enough for the direct kernel: 100 columns (a full 64-column panel
  // and a masked one), 13 rows (two 6-row tiles and a partial one), 150 inner (a 128 block and a partial).
  for (const [m, k, n] of [[5, 7, 3], [13, 150, 100]]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = ta ? [k, m] : [m, k];
        const b = tb ? [n, k] : [k, n];
        cases.push({ a, b, ta, tb });
        cases.push({ a: [4, ...a], b: [4, ...b], ta, tb });
        cases.push({ a: [1, ...a], b: [3, ...b], ta, tb });
        cases.push({ a: [3, ...a], b: [1, ...b], ta, tb });
      }
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
      const linear = tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias });
      const elu = tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias, activation: "elu" });
      return [plain, fused, linear, elu];
    };
    const expected = await valuesOn("cpu", run);
    await onEachPath(async (path) => {
      const actual = await valuesOn("wasm", run);
      const what = `${path}: a ${c.a}, b ${c.b}, transposeA ${c.ta}, transposeB ${c.tb}`;
      ["matMul", "fused relu matMul", "fused linear matMul", "fused elu matMul"].forEach((op, i) => {
        assertLessOrEqual(relativeError(actual[i], expected[i]), TOLERANCE, `${op} ${what}`);
      });
    });
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
    // 2x2 windows over odd sizes (the last row and column belong to no window), 17 channels (a masked
    // vector), and a batch large enough to be split between threads: the direct kernels' cases.
    { x: [2, 9, 7, 17], size: 2, strides: 2, pad: "valid" },
    { x: [16, 14, 14, 32], size: 2, strides: 2, pad: "valid" },
  ];
  for (const c of cases) {
    for (const shift of [0, -5]) {
      const run = () => {
        const x = tf.tensor4d(seededFloats(sizeOf(c.x), 12), c.x).add(shift) as tf.Tensor4D;
        // Ties too: rounding to a coarse grid makes equal values within windows.
        const xr = tf.div(tf.round(tf.mul(x, 4)), 4) as tf.Tensor4D;
        const pool = (v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, c.size, c.strides, c.pad);
        return [
          pool(x),
          tf.grad((v: tf.Tensor) => pool(v).mul(tf.scalar(1.5)).sum())(x),
          pool(xr),
          tf.grad((v: tf.Tensor) => pool(v).mul(tf.scalar(1.5)).sum())(xr),
        ];
      };
      const expected = await valuesOn("cpu", run);
      await onEachPath(async (path) => {
        const actual = await valuesOn("wasm", run);
        ["output", "gradient", "output with ties", "gradient with ties"].forEach((what, i) => {
          const err = relativeError(actual[i], expected[i]);
          assertLessOrEqual(err, TOLERANCE, `${path} ${what}: ${JSON.stringify(c)}, shift ${shift}`);
        });
      });
    }
  }
});

Deno.test("native Sum and Mean over leading axes match the cpu backend; other reductions are left to wasm", {
  ignore,
}, async () => {
  const cases: { shape: number[]; axis: number[]; keepDims: boolean }[] = [
    { shape: [16, 28, 28, 32], axis: [0, 1, 2], keepDims: false },
    { shape: [5, 7, 9, 3], axis: [0, 1, 2], keepDims: true },
    { shape: [128, 1024], axis: [0], keepDims: false },
    { shape: [6, 5, 4], axis: [1, 0], keepDims: false },
    { shape: [6, 5, 4], axis: [1, 2], keepDims: false },
    { shape: [6, 5, 4], axis: [0, 1, 2], keepDims: false },
    { shape: [0, 5, 4], axis: [0, 1], keepDims: false },
  ];
  for (const c of cases) {
    for (const reduce of [tf.sum, tf.mean]) {
      const run = () => reduce(tf.tensor(seededFloats(sizeOf(c.shape), 13), c.shape), c.axis, c.keepDims);
      const what = `${reduce === tf.sum ? "sum" : "mean"} ${JSON.stringify(c)}`;
      const [expected] = await valuesOn("cpu", run);
      const [actual] = await valuesOn("wasm", run);
      assertLessOrEqual(relativeError(actual, expected), TOLERANCE, what);
      await tf.setBackend("wasm");
      const shape = tf.tidy(() => run().shape);
      await tf.setBackend("cpu");
      assertEquals(shape, tf.tidy(() => run().shape), what);
    }
  }
});

Deno.test("native per-channel Add, Sub, Multiply and RealDiv match the cpu backend in either order", {
  ignore,
}, async () => {
  const pairs: [number[], number[]][] = [
    [[16, 14, 14, 32], [32]],
    [[4, 5, 6, 3], [1, 1, 1, 3]],
    [[7, 5], [1, 5]],
    [[3, 4], [4]],
    // Not per-channel: left to wasm (and still right).
    [[3, 4], [3, 1]],
    [[2, 3, 4], [2, 3, 4]],
  ];
  const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div };
  for (const [big, small] of pairs) {
    for (const [name, op] of Object.entries(ops)) {
      for (const smallFirst of [false, true]) {
        const run = () => {
          const x = tf.tensor(seededFloats(sizeOf(big), 14), big);
          // Away from zero, so that division is well conditioned.
          const y = tf.add(tf.tensor(seededFloats(sizeOf(small), 15), small), 2);
          return smallFirst ? op(y, x) : op(x, y);
        };
        const what = `${name} ${smallFirst ? `${small} by ${big}` : `${big} by ${small}`}`;
        const [expected] = await valuesOn("cpu", run);
        const [actual] = await valuesOn("wasm", run);
        assertLessOrEqual(relativeError(actual, expected), TOLERANCE, what);
      }
    }
  }
});

Deno.test(
  "the fused Adam kernel gives exactly the op-by-op update, and leaks nothing",
  { ignore },
  async () => {
    const { createOptimizer } = await import("../../lib/train/optimizers.ts");
    const { FUSED_ADAM, fusedAdamAvailable } = await import("../../lib/backend/mod.ts");
    /** Three Adam steps on two variables (one large enough to be split between threads). */
    const run = () => {
      const shapes = [[300, 257], [7]];
      // tidy frees the initial values; variables survive it.
      const vars = tf.tidy(() =>
        shapes.map((s, i) => tf.variable(tf.tensor(seededFloats(sizeOf(s), 20 + i), s)))
      );
      const opt = createOptimizer({ name: "adam", learningRate: 0.01 }, vars);
      for (let step = 0; step < 3; step++) {
        tf.tidy(() =>
          opt.apply(shapes.map((s, i) => tf.tensor(seededFloats(sizeOf(s), 30 + 10 * step + i), s)))
        );
      }
      const [step, ...slots] = opt.state();
      step.dispose();
      const out = [...vars, ...slots].map((t) => Float32Array.from(t.dataSync()));
      opt.dispose();
      tf.dispose(vars);
      return out;
    };
    await tf.setBackend("wasm");
    assert(fusedAdamAvailable());
    const before = tf.memory().numTensors;
    const fused = run();
    assertEquals(tf.memory().numTensors, before);
    const kernel = tf.getKernel(FUSED_ADAM, "wasm")!;
    tf.unregisterKernel(FUSED_ADAM, "wasm");
    let ops: Float32Array[];
    try {
      assert(!fusedAdamAvailable());
      ops = run();
    } finally {
      tf.registerKernel(kernel);
    }
    fused.forEach((values, i) => assertEquals(values, ops[i], `tensor ${i}`));
    await tf.setBackend("cpu");
    const cpu = run();
    fused.forEach((values, i) =>
      assertLessOrEqual(relativeError(values, cpu[i]), 1e-6, `tensor ${i} vs cpu`)
    );
  },
);

Deno.test("nativeWorthIt() under the auto policy takes large products and leaves small ones to wasm", {
  ignore,
}, async () => {
  await withFlags({ [NATIVE_POLICY]: "auto" }, () => {
    // The Madry CNN's second convolution at batch 128: rows 25,088, patch 800, 64 channels.
    assert(nativeWorthIt(25088, 64, 800));
    // A 3x3 convolution from 8 to 8 channels, and a 1x1 from 16 to 4: too narrow.
    assert(!nativeWorthIt(100352, 8, 72));
    assert(!nativeWorthIt(25088, 4, 16));
    // A dense layer's product with 10 logits: too narrow; a tiny square product: too small.
    assert(!nativeWorthIt(128, 10, 1024));
    assert(!nativeWorthIt(64, 64, 64));
    // With the direct kernels, a 3x3 convolution from 8 to 8 channels goes native; a tiny one does not.
    assert(nativeWorthIt(100352, 8, 72, true));
    assert(!nativeWorthIt(64, 8, 72, true));
  });
  assertEquals(tf.env().get(NATIVE_POLICY), "always");
  assert(nativeWorthIt(1, 1, 1));
  assertThrows(() => tf.env().set(NATIVE_POLICY, "sometimes"), RangeError, `invalid ${NATIVE_POLICY}`);
  tf.env().set(NATIVE_POLICY, "always");
});

Deno.test("the ADVEX_NATIVE_DIRECT flag turns the library's direct kernels off and on", {
  ignore: ignore || !direct,
}, async () => {
  assert(status.ok);
  const lib = status.library;
  await tf.setBackend("wasm");
  const c = NATIVE_CONV_CASES[2];
  await withFlags({ [NATIVE_DIRECT]: false }, () => {
    tf.dispose(tf.tidy(() => convAndGradients(c)));
    assertEquals(lib.symbols.advex_direct_threads(), 0, "off after a kernel ran with the flag false");
  });
  tf.dispose(tf.tidy(() => convAndGradients(c)));
  assertEquals(lib.symbols.advex_direct_threads(), lib.directThreads, "on again with the flag back");
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
  const replaced = NATIVE_KERNELS.map((config) => replacedKernel(config));
  unregisterKernels(NATIVE_KERNELS);
  try {
    assert(!nativeKernelsRegistered());
    // Each name is back to the kernel its native one replaced (none for advex's own three kernels).
    NATIVE_KERNELS.forEach((config, i) =>
      assert(tf.getKernel(config.kernelName, "wasm") === replaced[i], config.kernelName)
    );
    assertEquals(replaced.filter((r) => r === undefined).length, 3);
    const [plainWasm] = await valuesOn("wasm", () => convAndGradients(c));
    const [expected] = await valuesOn("cpu", () => convAndGradients(c));
    assertLessOrEqual(relativeError(plainWasm, expected), TOLERANCE);
  } finally {
    if (status.ok) registerNativeKernels(status.library);
  }
  assert(nativeKernelsRegistered());
});

Deno.test(
  "relu's gradient through the native kernel equals tfjs's dy * step(x), NaN, zeros and second order included",
  {
    ignore,
  },
  async () => {
    const { RELU_GRAD } = await import("../../lib/backend/mod.ts");
    const x = (): tf.Tensor => {
      const v = seededFloats(16 * 14 * 14 * 8, 16);
      v[0] = NaN;
      v[1] = 0;
      v[2] = -0;
      return tf.tensor(v, [16, 14, 14, 8]);
    };
    const weights = () => tf.tensor(seededFloats(16 * 14 * 14 * 8, 17), [16, 14, 14, 8]);
    const run = () => {
      const w = weights();
      const first = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w)))(x());
      // d/dx of sum(relu'(x) * w * x): relu'(x) * w again (relu'' is zero).
      const second = tf.grad((v: tf.Tensor) =>
        tf.sum(tf.mul(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.relu(u), w)))(v), v))
      )(x());
      return [first, second];
    };
    const expected = await valuesOn("cpu", run);
    await tf.setBackend("wasm");
    assert(tf.getKernel(RELU_GRAD, "wasm") !== undefined);
    const profile = await tf.profile(() => tf.tidy(() => run()[0]));
    assert(profile.kernels.some((k) => k.name === RELU_GRAD), "the fused kernel ran");
    const actual = await valuesOn("wasm", run);
    actual.forEach((values, i) => {
      assertEquals(Number.isNaN(values[0]), true, `output ${i}: NaN at a NaN input`);
      assertEquals(values.slice(1), expected[i].slice(1), `output ${i}`);
    });
  },
);

Deno.test("the fused max-pool-and-relu gradient equals relu's gradient after MaxPoolGrad's, bit for bit", {
  ignore,
}, async () => {
  const { MAX_POOL_RELU_GRAD, maxPoolReluGrad } = await import("../../lib/backend/max_pool_relu_grad.ts");
  await tf.setBackend("wasm");
  assert(tf.getKernel(MAX_POOL_RELU_GRAD, "wasm") !== undefined, "registered with the native kernels");
  // Relu outputs with whole windows of zeros, on even and odd sizes (a last row and column outside the windows).
  for (const [h, w, c] of [[8, 8, 16], [7, 9, 20], [28, 28, 32]]) {
    const n = 3;
    const z = seededFloats(n * h * w * c, h * 31 + c).map((v) => v - 0.6);
    const attrs = {
      filterSize: [2, 2] as [number, number],
      strides: [2, 2] as [number, number],
      pad: "valid" as const,
    };
    const [fused, twoPass] = tf.tidy(() => {
      const y = tf.relu(tf.tensor4d(z, [n, h, w, c]));
      const p = tf.maxPool(y as tf.Tensor4D, 2, 2, "valid");
      const dy = tf.tensor4d(
        seededFloats(sizeOf(p.shape), 7).map((v) => v - 0.5),
        p.shape as [number, number, number, number],
      );
      const kernelAttrs = { ...attrs, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
      const g = tf.engine().runKernel("MaxPoolGrad", { dy, input: y, output: p }, kernelAttrs) as tf.Tensor;
      return [maxPoolReluGrad(dy, y as tf.Tensor4D, p, attrs), tf.mul(g, tf.step(y))];
    });
    const [a, b] = [fused.dataSync(), twoPass.dataSync()];
    let diff = 0, zeroWindows = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    for (let i = 0; i < b.length; i++) if (b[i] === 0) zeroWindows++;
    tf.dispose([fused, twoPass]);
    assertEquals(diff, 0, `${h}x${w}x${c}`);
    assert(zeroWindows > 0, "some gradients are cut by the relu");
  }
});

Deno.test("the native l-inf attack step equals the wasm kernel's bit for bit, NaNs, zeros and clamps too", {
  ignore,
}, async () => {
  const { LINF_STEP } = await import("../../lib/backend/linf_step.ts");
  const { nativeLinfStepConfig } = await import("../../lib/backend/native_elementwise.ts");
  await tf.setBackend("wasm");
  const shape = [7, 9, 11, 3];
  const n = sizeOf(shape);
  const x = seededFloats(n, 31).map((v) => Math.fround(0.5 + v / 2));
  const g = seededFloats(n, 32).map((v, i) => (i % 5 === 0 ? 0 : i % 7 === 0 ? v * 1e-30 : v));
  [x[0], g[1], g[2], x[3]] = [NaN, NaN, -0, 0.999];
  const lo = x.map((v) => Math.max(0, Math.fround(v - 0.3)));
  const hi = x.map((v) => Math.min(1, Math.fround(v + 0.3)));
  const step = (size: number) => {
    const out = tf.tidy(() => {
      const [tx, tg, tlo, thi] = [x, g, lo, hi].map((v) => tf.tensor(v, shape));
      return tf.engine().runKernel(LINF_STEP, { x: tx, g: tg, lo: tlo, hi: thi }, { size }) as tf.Tensor;
    });
    const values = Array.from(out.dataSync());
    out.dispose();
    return values;
  };
  assert(tf.getKernel(LINF_STEP, "wasm")?.kernelFunc === nativeLinfStepConfig.kernelFunc, "the native one");
  const sizes = [0.01, 0.05, 1 / 3];
  const native = sizes.map(step);
  unregisterKernels([nativeLinfStepConfig]);
  try {
    assert(tf.getKernel(LINF_STEP, "wasm") !== undefined, "the wasm kernel is back underneath");
    const wasm = sizes.map(step);
    sizes.forEach((s, i) => assertEquals(native[i], wasm[i], `size ${s}`));
    assert(Number.isNaN(native[0][0]), "a NaN pixel stays NaN");
    assertEquals(native[0][1], x[1], "a NaN gradient leaves the pixel");
  } finally {
    if (status.ok) registerNativeKernels(status.library);
  }
});
