import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import {
  FILTER_GRAD_METHOD,
  type FilterGradMethod,
  initBackend,
  INPUT_GRAD_METHOD,
  type InputGradMethod,
  overrideKernel,
  PATCH_MATRIX_LIMIT,
  registerWasmKernels,
  replacedKernelFunc,
  restoreKernel,
  WASM_KERNEL_OVERRIDES,
  WASM_KERNELS,
  wasmKernelsRegistered,
} from "../../lib/backend/mod.ts";
import { imagesPerChunk } from "../../lib/backend/patch_limit.ts";
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

registerWasmKernels();
// Initializing cpu through the library keeps its Node.js greeting out of the test output.
await initBackend({ backend: "cpu" });

/** [dx, dw] of sum(conv2d(x, w) * weights), for fixed seeded x, w and weights. */
function convGradients(c: ConvCase): tf.Tensor[] {
  const x = tf.tensor4d(seededFloats(sizeOf(c.x), 1), c.x);
  const w = tf.tensor4d(seededFloats(sizeOf(c.filter), 2), c.filter);
  const outShape = tf.conv2d(x, w, c.strides, c.pad).shape;
  const weights = tf.tensor(seededFloats(sizeOf(outShape), 3), outShape);
  return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad).mul(weights).sum()
  )([x, w]);
}

/** Runs `fn` with the formulations of the gradient kernels set by their flags, and sets them back. */
function withMethods<T>(
  methods: { filter?: FilterGradMethod; input?: InputGradMethod },
  fn: () => Promise<T>,
): Promise<T> {
  const flags: Record<string, string> = {};
  if (methods.filter !== undefined) flags[FILTER_GRAD_METHOD] = methods.filter;
  if (methods.input !== undefined) flags[INPUT_GRAD_METHOD] = methods.input;
  return withFlags(flags, fn);
}

/**
 * Runs the wasm kernel `name` once on `inputs` and returns how often it called each of the kernels in
 * `watched` (counted by overrides registered over them for the call).
 */
function kernelCalls(
  name: string,
  inputs: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap,
  watched: string[],
): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(watched.map((k) => [k, 0]));
  const counters = watched.map((k) => {
    const counter: tf.KernelConfig = {
      kernelName: k,
      backendName: "wasm",
      kernelFunc: (args) => {
        counts[k]++;
        return replacedKernelFunc(counter)(args);
      },
    };
    return counter;
  });
  counters.forEach(overrideKernel);
  try {
    tf.dispose(tf.engine().runKernel(name, inputs, attrs) as tf.Tensor);
  } finally {
    [...counters].reverse().forEach(restoreKernel);
  }
  return counts;
}

Deno.test("registerWasmKernels() makes conv2d filter gradients match the cpu backend", async () => {
  for (const c of CONV_CASES) {
    const [, expected] = await valuesOn("cpu", () => convGradients(c));
    for (const method of ["auto", "conv", "im2col"] as const) {
      const [, actual] = await withMethods(
        { filter: method },
        () => valuesOn("wasm", () => convGradients(c)),
      );
      const err = relativeError(actual, expected);
      assertLessOrEqual(err, TOLERANCE, `${method}: ${describeCase(c)}: relative error ${err}`);
    }
  }
});

Deno.test("registerWasmKernels() makes conv2d input gradients match the cpu backend", async () => {
  for (const c of CONV_CASES) {
    const [expected] = await valuesOn("cpu", () => convGradients(c));
    for (const method of ["auto", "conv", "col2im"] as const) {
      const [actual] = await withMethods({ input: method }, () => valuesOn("wasm", () => convGradients(c)));
      const err = relativeError(actual, expected);
      assertLessOrEqual(err, TOLERANCE, `${method}: ${describeCase(c)}: relative error ${err}`);
    }
  }
});

Deno.test("registerWasmKernels() keeps conv2d gradients exact when patch matrices are built in chunks", async () => {
  const c: ConvCase = { x: [5, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: "same" };
  const expected = await valuesOn("cpu", () => convGradients(c));
  // Two images per chunk: chunks of 2, 2 and 1.
  await withFlags({ [PATCH_MATRIX_LIMIT]: 2 * 27 * 20 }, async () => {
    assertEquals(imagesPerChunk(5, 27 * 20), 2);
    const actual = await withMethods(
      { filter: "im2col", input: "col2im" },
      () => valuesOn("wasm", () => convGradients(c)),
    );
    assertLessOrEqual(relativeError(actual[0], expected[0]), TOLERANCE, "input gradient");
    assertLessOrEqual(relativeError(actual[1], expected[1]), TOLERANCE, "filter gradient");
  });
  assertEquals(imagesPerChunk(5, 27 * 20), 5, "the default limit holds every image");
});

Deno.test("the gradient-method flags pick the formulation the wasm gradient kernels run", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor4d(seededFloats(2 * 6 * 6 * 3, 21), [2, 6, 6, 3]);
  const dy = tf.tensor4d(seededFloats(2 * 6 * 6 * 4, 22), [2, 6, 6, 4]);
  const filter = tf.tensor4d(seededFloats(3 * 3 * 3 * 4, 23), [3, 3, 3, 4]);
  const attrs = { strides: 1, pad: "same", dataFormat: "NHWC" } as unknown as tf.NamedAttrMap;
  const watched = ["Conv2D", "BatchMatMul"];
  try {
    const filterGrad = (method: FilterGradMethod) =>
      withMethods({ filter: method }, () =>
        Promise.resolve(
          kernelCalls("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] }, watched),
        ));
    assertEquals(await filterGrad("conv"), { Conv2D: 1, BatchMatMul: 0 });
    assertEquals(await filterGrad("im2col"), { Conv2D: 0, BatchMatMul: 1 });
    const inputGrad = (method: InputGradMethod) =>
      withMethods({ input: method }, () =>
        Promise.resolve(
          kernelCalls("Conv2DBackpropInput", { dy, filter }, { ...attrs, inputShape: [2, 6, 6, 3] }, watched),
        ));
    assertEquals(await inputGrad("conv"), { Conv2D: 1, BatchMatMul: 0 });
    assertEquals(await inputGrad("col2im"), { Conv2D: 0, BatchMatMul: 1 });
  } finally {
    tf.dispose([x, dy, filter]);
  }
});

Deno.test("registerWasmKernels() makes NCHW filter gradients match the cpu backend", async () => {
  const x = [2, 3, 7, 9];
  const dy = [2, 4, 4, 5];
  const attrs = { strides: [2, 2], pad: "same", dataFormat: "NCHW", filterShape: [3, 3, 3, 4] };
  const run = () =>
    tf.engine().runKernel("Conv2DBackpropFilter", {
      x: tf.tensor(seededFloats(sizeOf(x), 4), x),
      dy: tf.tensor(seededFloats(sizeOf(dy), 5), dy),
    }, attrs) as tf.Tensor;
  const [expected] = await valuesOn("cpu", run);
  const [actual] = await valuesOn("wasm", run);
  assertLessOrEqual(relativeError(actual, expected), TOLERANCE);
});

Deno.test("registerWasmKernels() makes maxPool gradients match the cpu backend, negative inputs included", async () => {
  const cases: {
    x: [number, number, number, number];
    size: number;
    strides: number;
    pad: "same" | "valid" | number;
  }[] = [
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: "valid" },
    { x: [2, 9, 7, 5], size: 3, strides: 2, pad: "same" },
    { x: [1, 7, 9, 2], size: 3, strides: 1, pad: "same" },
    { x: [1, 7, 9, 2], size: 2, strides: 2, pad: 1 },
  ];
  for (const c of cases) {
    for (const shift of [0, -2]) {
      // A shift of -2 makes every value negative, which the stock wasm kernel gets wrong.
      const run = () => {
        const x = tf.tensor4d(seededFloats(sizeOf(c.x), 15), [...c.x]).add(
          shift,
        ) as tf.Tensor4D;
        const outShape = tf.maxPool(x, c.size, c.strides, c.pad).shape;
        const weights = tf.tensor(seededFloats(sizeOf(outShape), 16), outShape);
        return tf.grad((v: tf.Tensor) =>
          tf.maxPool(v as tf.Tensor4D, c.size, c.strides, c.pad).mul(weights).sum()
        )(x);
      };
      const [expected] = await valuesOn("cpu", run);
      const [actual] = await valuesOn("wasm", run);
      assertLessOrEqual(relativeError(actual, expected), TOLERANCE, `${JSON.stringify(c)}, shift ${shift}`);
    }
  }
});

Deno.test("registerWasmKernels() makes matMul match the cpu backend for every transpose combination", async () => {
  // [5x7]x[7x3] runs as is; [2x7]x[7x9] is computed transposed, packing the smaller operand.
  for (const [m, k, n] of [[5, 7, 3], [2, 7, 9]]) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        for (const lead of [[], [1], [2]]) {
          const aShape = [...lead, ...(transposeA ? [k, m] : [m, k])];
          const bShape = [...lead, ...(transposeB ? [n, k] : [k, n])];
          const run = () => {
            const a = tf.tensor(seededFloats(sizeOf(aShape), 6), aShape);
            const b = tf.tensor(seededFloats(sizeOf(bShape), 7), bShape);
            const bias = tf.tensor1d(seededFloats(n, 8));
            // Each product twice: the second use of the same right operand may take another orientation.
            return [
              tf.matMul(a, b, transposeA, transposeB),
              tf.matMul(a, b, transposeA, transposeB),
              tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: "relu" }),
              tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: "relu" }),
            ];
          };
          const expected = await valuesOn("cpu", run);
          const actual = await valuesOn("wasm", run);
          const label =
            `[${m}x${k}]x[${k}x${n}], transposeA ${transposeA}, transposeB ${transposeB}, lead [${lead}]`;
          actual.forEach((values, i) => {
            const what = i < 2 ? "matMul" : "fused matMul";
            assertEquals(values.length, expected[i].length, `${what} size, ${label}`);
            assertLessOrEqual(relativeError(values, expected[i]), TOLERANCE, `${what}, ${label}`);
          });
        }
      }
    }
  }
});

/** Gives every weight of `model` seeded values, the same on any backend. */
function seedWeights(model: tf.LayersModel, seed: number): void {
  model.setWeights(
    model.getWeights().map((w, i) => {
      const scale = 1 / Math.sqrt(sizeOf(w.shape.slice(0, -1)) || 1);
      return tf.tidy(() => tf.tensor(seededFloats(w.size, seed + i), w.shape).mul(scale));
    }),
  );
}

/** Losses of `steps` optimizer steps from seeded weights, and the final weights. */
async function trainSteps(
  backend: string,
  build: () => tf.LayersModel,
  options: { optimizer: () => tf.Optimizer; logSoftmax: boolean; steps: number },
): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await tf.setBackend(backend);
  const model = build();
  seedWeights(model, 40);
  const inShape = [6, ...(model.inputs[0].shape.slice(1) as number[])];
  const x = tf.tensor(seededFloats(sizeOf(inShape), 9), inShape);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1, 0, 2], "int32"), 3);
  const optimizer = options.optimizer();
  const loss = () =>
    tf.tidy(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor2D;
      if (!options.logSoftmax) return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
      return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), -1))) as tf.Scalar;
    });
  const losses: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const value = optimizer.minimize(loss, true)!;
    losses.push(value.dataSync()[0]);
    value.dispose();
  }
  const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
  tf.dispose([x, labels]);
  optimizer.dispose();
  model.dispose();
  return { losses, weights };
}

function tinyCnn(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [9, 7, 1],
        filters: 4,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: "valid", activation: "relu" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
}

function layerZoo(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 7, 3], filters: 4, kernelSize: 3, padding: "same" }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.averagePooling2d({ poolSize: 2, padding: "same" }),
      tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 8, activation: "relu" }),
      tf.layers.dense({ units: 3 }),
    ],
  });
}

function assertSameTraining(
  actual: { losses: number[]; weights: Float32Array[] },
  expected: { losses: number[]; weights: Float32Array[] },
  label: string,
): void {
  assertEquals(actual.losses.length, expected.losses.length);
  actual.losses.forEach((loss, i) => {
    const err = Math.abs(loss - expected.losses[i]) / Math.max(1, Math.abs(expected.losses[i]));
    assertLessOrEqual(err, TOLERANCE, `${label}: loss ${i}: wasm ${loss}, cpu ${expected.losses[i]}`);
  });
  actual.weights.forEach((w, i) => {
    assertLessOrEqual(relativeError(w, expected.weights[i]), 1e-3, `${label}: weight ${i}`);
  });
}

Deno.test("registerWasmKernels() lets a tiny CNN take the same Adam steps on wasm as on cpu", async () => {
  const options = { optimizer: () => tf.train.adam(0.01), logSoftmax: false, steps: 3 };
  const expected = await trainSteps("cpu", tinyCnn, options);
  const actual = await trainSteps("wasm", tinyCnn, options);
  assert(expected.losses.every(Number.isFinite));
  assertSameTraining(actual, expected, "tiny CNN, Adam");
});

Deno.test("registerWasmKernels() leaves no kernel missing for training the layers the lab uses", async () => {
  for (
    const [name, optimizer] of [["adam", () => tf.train.adam(0.01)], [
      "sgd",
      () => tf.train.sgd(0.1),
    ]] as const
  ) {
    for (const logSoftmax of [false, true]) {
      const options = { optimizer, logSoftmax, steps: 2 };
      const expected = await trainSteps("cpu", layerZoo, options);
      const actual = await trainSteps("wasm", layerZoo, options);
      assertSameTraining(actual, expected, `${name}, ${logSoftmax ? "logSoftmax" : "softmaxCrossEntropy"}`);
    }
  }
  const attackStep = () => {
    const x = tf.tensor2d(seededFloats(24, 10), [4, 6]);
    return tf.grad((v: tf.Tensor) =>
      tf.clipByValue(tf.add(v, tf.mul(0.3, tf.sign(v))), -0.5, 0.5).square().sum()
    )(x);
  };
  const [expected] = await valuesOn("cpu", attackStep);
  const [actual] = await valuesOn("wasm", attackStep);
  assertLessOrEqual(relativeError(actual, expected), TOLERANCE, "sign and clipByValue gradient");
});

Deno.test("registerWasmKernels() keeps tensor and wasm buffer counts flat over 100 gradient calls", async () => {
  await tf.setBackend("wasm");
  const backend = tf.backend() as unknown as BackendWasm;
  const x = tf.tensor4d(seededFloats(2 * 8 * 10 * 3, 11), [2, 8, 10, 3]);
  const w1 = tf.tensor4d(seededFloats(3 * 3 * 3 * 4, 12), [3, 3, 3, 4]);
  const w2 = tf.tensor4d(seededFloats(3 * 3 * 4 * 5, 13), [3, 3, 4, 5]);
  const dense = tf.tensor2d(seededFloats(60 * 2, 14), [60, 2]);
  const f = (input: tf.Tensor, a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => {
    const h = tf.maxPool(tf.conv2d(input as tf.Tensor4D, a as tf.Tensor4D, 1, "same"), 2, 1, "same");
    const g = tf.conv2d(h, b as tf.Tensor4D, 2, "valid");
    return tf.matMul(g.reshape([2, -1]), d).square().sum();
  };
  const once = () => tf.dispose(tf.grads(f)([x, w1, w2, dense]));
  try {
    await withFlags({ [FILTER_GRAD_METHOD]: "auto", [INPUT_GRAD_METHOD]: "auto" }, () => {
      once();
      const tensors = tf.memory().numTensors;
      const buffers = backend.numDataIds();
      for (let i = 0; i < 100; i++) {
        tf.env().set(FILTER_GRAD_METHOD, i % 2 === 0 ? "conv" : "im2col");
        tf.env().set(INPUT_GRAD_METHOD, i % 4 < 2 ? "conv" : "col2im");
        once();
      }
      assertEquals(tf.memory().numTensors, tensors);
      assertEquals(backend.numDataIds(), buffers);
    });
  } finally {
    tf.dispose([x, w1, w2, dense]);
  }
});

Deno.test("registerWasmKernels() can be called twice without throwing or stacking wrappers", () => {
  const kernels = WASM_KERNEL_OVERRIDES;
  const first = kernels.map((name) => tf.getKernel(name, "wasm"));
  registerWasmKernels();
  registerWasmKernels();
  const second = kernels.map((name) => tf.getKernel(name, "wasm"));
  assert(wasmKernelsRegistered());
  second.forEach((config, i) => assert(config === first[i], `${kernels[i]} was registered again`));
  assertEquals(kernels, WASM_KERNELS.map((c) => c.kernelName), "the names are the list's");
});
