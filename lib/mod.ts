/**
 * advex: adversarial examples and the defences against them, as a tested TypeScript library behind the
 * course notebooks: the library's core (data, models, attacks, training, evaluation, defences, ONNX,
 * figures, reports). Each notebook imports this and its own chapter module from lib/experiments/; the
 * backend's kernel switches and registries stay in lib/backend/mod.ts.
 *
 * @example
 * ```ts
 * import * as advex from "./mod.ts";
 * await advex.initBackend();
 * const test = await advex.loadDataset("mnist", "test");
 * ```
 * @module
 */
export * as tf from "@tensorflow/tfjs";
export * from "./attacks/mod.ts";
// The backend's public surface; its kernel switches and registries (for tests and benchmarks) stay in
// lib/backend/mod.ts.
export {
  BACKEND_REQUESTS,
  type BackendName,
  type BackendReport,
  type BackendRequest,
  describeBackend,
  GradientScopeError,
  initBackend,
  type InitBackendOptions,
  inputGradientsOnly,
} from "./backend/mod.ts";
export * from "./config/mod.ts";
export * from "./data/mod.ts";
export * from "./datasets/mod.ts";
export * from "./eval/mod.ts";
export * from "./models/mod.ts";
export * from "./onnx/mod.ts";
export * from "./plot/mod.ts";
export * from "./random/mod.ts";
export * from "./report/mod.ts";
export * from "./report/markdown.ts";
export {
  type ArtifactRef,
  artifactRef,
  CacheDirError,
  cacheRoot,
  canonicalJson,
  commitArtifact,
  CorruptUnitError,
  loadArtifact,
  LockTimeoutError,
  refOf,
  removeArtifact,
  specKey,
} from "./store/mod.ts";
export * from "./train/mod.ts";
export * from "./util/mod.ts";
export * from "./defenses/mod.ts";
