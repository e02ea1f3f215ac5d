import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import {
  initBackend,
  kernelInstalled,
  kernelNames,
  originalKernel,
  overrideKernel,
  registerKernels,
  replacedKernel,
  replacedKernelFunc,
  restoreKernel,
  unregisterKernels,
} from "../../lib/backend/mod.ts";

await initBackend({ backend: "cpu" });

/** A kernel on the cpu backend that returns `x` plus `offset` (through the kernel it replaced when asked). */
function addingKernel(name: string, offset: number, below = false): tf.KernelConfig {
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: "cpu",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const base = below ? replacedKernelFunc(config)(args) as tf.TensorInfo : { ...x, dataId: x.dataId };
      const backend = args.backend as unknown as {
        readSync(id: unknown): Float32Array;
        makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      };
      const values = backend.readSync(base.dataId).map((v) => v + offset);
      return backend.makeTensorInfo(base.shape, "float32", values);
    },
  };
  return config;
}

function run(name: string): number {
  return tf.tidy(() => (tf.engine().runKernel(name, { x: tf.scalar(1) }) as tf.Tensor).dataSync()[0]);
}

Deno.test("overrideKernel() stacks kernels and replacedKernel() reaches the one below", () => {
  const name = "AdvexTestStack";
  const base = addingKernel(name, 10);
  const top = addingKernel(name, 100, true);
  tf.registerKernel(base);
  try {
    overrideKernel(top);
    assertEquals(run(name), 111, "the override ran on top of the kernel it replaced");
    assertStrictEquals(replacedKernel(top), base);
    assertStrictEquals(originalKernel(name, "cpu"), base);
    assert(kernelInstalled(top));
    overrideKernel(top);
    assertEquals(run(name), 111, "a second override of the same config changes nothing");
    restoreKernel(top);
    assert(!kernelInstalled(top));
    assertStrictEquals(tf.getKernel(name, "cpu"), base);
    assertEquals(replacedKernel(top), undefined);
    assertEquals(run(name), 11);
  } finally {
    tf.unregisterKernel(name, "cpu");
  }
});

Deno.test("registerKernels() installs a list in order and unregisterKernels() takes it out last first", () => {
  const name = "AdvexTestList";
  const first = addingKernel(name, 1);
  const second = addingKernel(name, 20, true);
  const list = [first, second];
  registerKernels(list);
  try {
    assertEquals(run(name), 22);
    assertStrictEquals(replacedKernel(second)?.kernelFunc, first.kernelFunc);
    assertEquals(replacedKernel(first), undefined, "the first replaced nothing");
    registerKernels([first]);
    assertEquals(run(name), 22, "a config installed under another one is not installed again");
    assertEquals(kernelNames(list), [name]);
    assertThrows(() => restoreKernel(first), Error, "another kernel was registered over advex's");
  } finally {
    unregisterKernels(list);
  }
  assertEquals(tf.getKernel(name, "cpu"), undefined);
  assertThrows(() => replacedKernelFunc(first), Error, `${name} on cpu: no kernel was registered`);
});

Deno.test("overrideKernel() keeps the setup and dispose hooks of the kernel it replaces", () => {
  const name = "AdvexTestHooks";
  const setupFunc = () => {};
  const disposeFunc = () => {};
  const base: tf.KernelConfig = { ...addingKernel(name, 0), setupFunc, disposeFunc };
  const top = addingKernel(name, 5, true);
  tf.registerKernel(base);
  try {
    overrideKernel(top);
    const installed = tf.getKernel(name, "cpu")!;
    assertStrictEquals(installed.setupFunc, setupFunc);
    assertStrictEquals(installed.disposeFunc, disposeFunc);
    assertStrictEquals(installed.kernelFunc, top.kernelFunc);
    restoreKernel(top);
  } finally {
    tf.unregisterKernel(name, "cpu");
  }
});
