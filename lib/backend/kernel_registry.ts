/**
 * Registering advex's kernels over tfjs's own, as a stack per kernel name: {@linkcode overrideKernel}
 * registers a `KernelConfig` over the kernel registered before and remembers the config it replaced, which
 * the new kernel reaches with {@linkcode replacedKernel} (for the shapes it leaves alone) and which
 * {@linkcode restoreKernel} puts back. The wasm kernels override tfjs-backend-wasm's, the native kernels
 * override those in turn; {@linkcode registerKernels} and {@linkcode unregisterKernels} take one ordered
 * list, so the order lives in the list.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What {@linkcode overrideKernel} installed: the config registered with tfjs, and the one it replaced. */
interface Override {
  /** The object registered with tfjs (the config, with the replaced kernel's setup and dispose hooks). */
  installed: tf.KernelConfig;
  /** The config registered before, undefined when there was none. */
  replaced: tf.KernelConfig | undefined;
}

/** Every config installed by {@linkcode overrideKernel} and not restored since. */
const overrides = new Map<tf.KernelConfig, Override>();
/** The config behind each registered object (the object differs when the replaced kernel had hooks). */
const configOf = new WeakMap<tf.KernelConfig, tf.KernelConfig>();

/** The config that {@linkcode overrideKernel} installed as `registered`, or undefined for a kernel of tfjs. */
function sourceOf(registered: tf.KernelConfig | undefined): tf.KernelConfig | undefined {
  return registered === undefined ? undefined : configOf.get(registered);
}

/**
 * Whether `config` is installed now, on top of its kernel's stack or under other overrides.
 */
export function kernelInstalled(config: tf.KernelConfig): boolean {
  let c = sourceOf(tf.getKernel(config.kernelName, config.backendName));
  while (c !== undefined) {
    if (c === config) return true;
    c = sourceOf(overrides.get(c)?.replaced);
  }
  return false;
}

/**
 * Registers `config` over the kernel now registered under its name and backend, and remembers that kernel
 * (see {@linkcode replacedKernel}). The replaced kernel's setup and dispose hooks are kept, since they
 * initialize the backend functions it calls. Does nothing when `config` is installed already, also under a
 * later override.
 */
export function overrideKernel(config: tf.KernelConfig): void {
  if (kernelInstalled(config)) return;
  const { kernelName, backendName } = config;
  const replaced = tf.getKernel(kernelName, backendName);
  if (replaced !== undefined) tf.unregisterKernel(kernelName, backendName);
  const installed: tf.KernelConfig = {
    ...config,
    setupFunc: config.setupFunc ?? replaced?.setupFunc,
    disposeFunc: config.disposeFunc ?? replaced?.disposeFunc,
  };
  configOf.set(installed, config);
  overrides.set(config, { installed, replaced });
  tf.registerKernel(installed);
}

/** The kernel that `config` replaced when it was installed; undefined when there was none or it is not installed. */
export function replacedKernel(config: tf.KernelConfig): tf.KernelConfig | undefined {
  return overrides.get(config)?.replaced;
}

/**
 * The kernel function `config` replaced, for the inputs it leaves alone; throws an Error naming the kernel
 * when it replaced nothing.
 */
export function replacedKernelFunc(config: tf.KernelConfig): tf.KernelFunc {
  const replaced = overrides.get(config)?.replaced;
  if (replaced === undefined) {
    throw new Error(
      `${config.kernelName} on ${config.backendName}: no kernel was registered under advex's to take these inputs`,
    );
  }
  return replaced.kernelFunc;
}

/**
 * Unregisters `config` and registers the kernel it replaced again (if any). Does nothing when `config` is not
 * installed; throws an Error when another override is registered over it (restore that one first).
 */
export function restoreKernel(config: tf.KernelConfig): void {
  const entry = overrides.get(config);
  if (entry === undefined) return;
  const { kernelName, backendName } = config;
  const current = tf.getKernel(kernelName, backendName);
  if (current !== entry.installed) {
    throw new Error(
      `cannot restore ${kernelName} on ${backendName}: another kernel was registered over advex's since`,
    );
  }
  tf.unregisterKernel(kernelName, backendName);
  if (entry.replaced !== undefined) tf.registerKernel(entry.replaced);
  overrides.delete(config);
}

/** Installs every config of `list` with {@linkcode overrideKernel}, in order: later entries override earlier ones. */
export function registerKernels(list: readonly tf.KernelConfig[]): void {
  for (const config of list) overrideKernel(config);
}

/** Restores every config of `list` with {@linkcode restoreKernel}, last first (the reverse of registering it). */
export function unregisterKernels(list: readonly tf.KernelConfig[]): void {
  for (let i = list.length - 1; i >= 0; i--) restoreKernel(list[i]);
}

/**
 * The kernel registered as `kernelName` on `backendName` before any override of {@linkcode overrideKernel}
 * (the backend's own; undefined where it has none). Meant for benchmarks and debugging.
 */
export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  let c: tf.KernelConfig | undefined = tf.getKernel(kernelName, backendName);
  for (let source = sourceOf(c); source !== undefined; source = sourceOf(c)) {
    c = overrides.get(source)?.replaced;
  }
  return c;
}

/** The names of the kernels of `list`, in order, each once. */
export function kernelNames(list: readonly tf.KernelConfig[]): readonly string[] {
  return [...new Set(list.map((c) => c.kernelName))];
}
