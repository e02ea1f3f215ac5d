/**
 * "Pretrained" models: no pretrained weights can be downloaded here, so the models a chapter treats as
 * pretrained (the ResNet-50 of the transferability chapter, first of all) are trained by advex itself as
 * cached jobs and exported to ONNX as artifacts of the store. `deno task pretrain` runs this ahead of the
 * notebooks; a notebook calling {@linkcode pretrainedModel} with the same settings loads the cached result.
 * @module
 */
import { join } from "node:path";
import { type Infer, int, obj, optional, str } from "../config/schema.ts";
import { modelSpecSchema, trainDataSchema, trainSchema } from "../config/specs.ts";
import type { ProgressMode } from "../util/progress.ts";
import { trainCached, trainDataOf, type TrainedModel, type TrainJob } from "../train/cached.ts";
import { artifactRef, commitArtifact, loadArtifact, withArtifactLock } from "../store/store.ts";
import { exportOnnx } from "../onnx/export.ts";

/** Settings of a pretrained model (e.g. configs/pretrain-resnet50.yaml). */
export const pretrainedSchema = obj({
  data: trainDataSchema,
  model: modelSpecSchema,
  initSeed: int({ min: 0 }),
  train: trainSchema,
  onnx: optional(
    obj({
      /** Input layout of the exported graph. Default NHWC (advex's own); NCHW is the model-zoo convention. */
      inputLayout: optional(str(["NHWC", "NCHW"]), "NHWC" as "NHWC" | "NCHW"),
    }),
    { inputLayout: "NHWC" as "NHWC" | "NCHW" },
  ),
});

/** The typed settings of a pretrained model. */
export type PretrainedConfig = Infer<typeof pretrainedSchema>;

/** Bumped when the exporter changes what it writes, so that cached ONNX files are written again. */
export const ONNX_EXPORT_VERSION = 1;

/** The training job (the cache key) of a pretrained model. */
export function pretrainedJob(cfg: PretrainedConfig): TrainJob {
  return {
    data: trainDataOf(cfg.data),
    model: cfg.model,
    initSeed: cfg.initSeed,
    train: cfg.train,
  };
}

/** A pretrained model: the trained tfjs model and its ONNX file. */
export interface PretrainedModel {
  trained: TrainedModel;
  /** Path of the exported `.onnx` file (in the job's cache folder). */
  onnxPath: string;
  /** Whether the ONNX file was written by this call (false: it was there already). */
  exported: boolean;
}

/**
 * Trains (or loads from the cache) the model `cfg` describes and makes sure its ONNX export exists. Training
 * is checkpointed and resumes after an interruption; the export is written atomically.
 */
export async function pretrainedModel(
  cfg: PretrainedConfig,
  options: { progress?: ProgressMode; label?: string } = {},
): Promise<PretrainedModel> {
  const trained = await trainCached(pretrainedJob(cfg), options);
  if (!trained.report.finished) throw new Error(`pretrainedModel: training of ${trained.dir} did not finish`);
  const { path: onnxPath, exported } = await ensureOnnx(trained, {
    inputLayout: cfg.onnx.inputLayout,
    docString: `trained by advex on ${cfg.data.dataset}`,
  });
  return { trained, onnxPath, exported };
}

/**
 * The ONNX export of a cached trained model, as an artifact of the store keyed by the model's job key, the
 * layout and {@linkcode ONNX_EXPORT_VERSION}: committed (and verified on load) the first time, found on later
 * calls. Returns the path of its `model.onnx`.
 */
export async function ensureOnnx(
  trained: TrainedModel,
  options: { inputLayout?: "NHWC" | "NCHW"; docString?: string } = {},
): Promise<{ path: string; exported: boolean }> {
  const layout = options.inputLayout ?? "NHWC";
  const ref = await artifactRef("onnx", { model: trained.key, layout, version: ONNX_EXPORT_VERSION });
  const path = join(ref.dir, ONNX_FILE);
  if (await loadArtifact(ref)) return { path, exported: false };
  return await withArtifactLock(ref, `export ${trained.key} to ONNX`, async () => {
    if (await loadArtifact(ref)) return { path, exported: false };
    const bytes = exportOnnx(trained.model, { inputLayout: layout, docString: options.docString });
    await commitArtifact(ref, { [ONNX_FILE]: bytes }, { spec: { model: trained.key, layout } });
    return { path, exported: true };
  });
}

/** The file name of the model inside an ONNX artifact. */
export const ONNX_FILE = "model.onnx";
