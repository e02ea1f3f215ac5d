/**
 * Trains the project's "pretrained" ResNet-50 on MNIST (no pretrained weights can be downloaded here),
 * caches it under a key made of its configuration, exports it to ONNX, and checks the export.
 *
 * ```
 * deno task pretrain [--scale smoke|course|full|paper] [--config configs/pretrain-resnet50.yaml]
 *                    [--provider auto|cuda|webgpu|cpu] [--progress auto|terminal|silent]
 * ```
 *
 * After training (or loading) it evaluates the model on the test split twice, with tfjs and with
 * onnxruntime on the exported file, compares the two sets of logits, times both forward passes, prints a
 * summary and commits the numbers as the results artifact `pretrain-resnet50-<scale>`. Running it again with
 * the same configuration loads the cached model instead of training; an interrupted run resumes from its
 * last checkpoint.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { basename } from "node:path";
import { describeBackend, initBackend } from "../lib/backend/mod.ts";
import { currentScale, loadExperiment, type Scale } from "../lib/config/mod.ts";
import { testData } from "../lib/train/mod.ts";
import { evaluate } from "../lib/eval/mod.ts";
import { describeModel, parameterCount } from "../lib/models/mod.ts";
import { describeOrtProvider, loadOrtModel, ortPredict, type OrtProviderRequest } from "../lib/onnx/mod.ts";
import { pretrainedModel, pretrainedSchema } from "../lib/experiments/mod.ts";
import { imagesTensor, size, slice } from "../lib/data/mod.ts";
import { saveResults } from "../lib/report/mod.ts";
import type { ProgressMode } from "../lib/util/mod.ts";
import * as tf from "@tensorflow/tfjs";

/** What one run of the tool measured. */
export interface PretrainSummary {
  scale: Scale;
  model: string;
  parameters: number;
  onnxPath: string;
  onnxBytes: number;
  fromCache: boolean;
  trainSeconds: number;
  trainImagesPerSecond: number;
  epochLoss: number[];
  testSize: number;
  tfjsAccuracy: number;
  ortAccuracy: number;
  maxLogitDifference: number;
  tfjsImagesPerSecond: number;
  ortImagesPerSecond: number;
  ortProvider: string;
  backend: string;
}

/** Runs the whole job for `scale`; see the module description. */
export async function pretrain(options: {
  scale?: Scale;
  config?: string;
  provider?: OrtProviderRequest;
  progress?: ProgressMode;
  log?: (line: string) => void;
} = {}): Promise<PretrainSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const backend = await initBackend();
  log(`backend: ${describeBackend(backend)}`);
  const scale = options.scale ?? currentScale();
  const configPath = options.config ?? new URL("../configs/pretrain-resnet50.yaml", import.meta.url).pathname;
  const cfg = await loadExperiment(configPath, pretrainedSchema, scale);
  log(`${basename(configPath)} at scale ${scale}: ${describeModel(cfg.model)}, ${cfg.train.epochs} epoch(s)`);

  const { trained, onnxPath } = await pretrainedModel(cfg, { progress: options.progress });
  const report = trained.report;
  const trainImages = report.totalSteps * cfg.train.batchSize;
  log(
    trained.fromCache
      ? `loaded from the cache (${trained.dir}); trained in ${report.totalSeconds.toFixed(0)} s`
      : `trained in ${report.totalSeconds.toFixed(0)} s (${
        (trainImages / report.totalSeconds).toFixed(0)
      } img/s)`,
  );

  const test = await testData({
    dataset: cfg.data.dataset,
    testSize: cfg.data.testSize,
    seed: cfg.data.seed,
  });
  const tfjsEval = await evaluate(trained.classifier, test, { batchSize: 256 });
  const ort = await loadOrtModel(onnxPath, { provider: options.provider });
  log(`onnxruntime: ${describeOrtProvider(ort.provider)}`);
  const ortRun = await ortPredict(ort, test, { batchSize: 256 });
  let right = 0;
  for (let i = 0; i < size(test); i++) if (ortRun.predictions[i] === test.labels[i]) right++;

  // The two runtimes' logits on the first 256 test images.
  const head = slice(test, 0, Math.min(256, size(test)));
  const x = imagesTensor(head);
  const reference = tf.tidy(() => trained.classifier(x));
  const ref = (await reference.data()) as Float32Array;
  tf.dispose([x, reference]);
  const got = ortRun.logits.subarray(0, ref.length);
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
  await ort.dispose();

  const summary: PretrainSummary = {
    scale,
    model: describeModel(cfg.model),
    parameters: parameterCount(trained.model),
    onnxPath,
    onnxBytes: (await Deno.stat(onnxPath)).size,
    fromCache: trained.fromCache,
    trainSeconds: report.totalSeconds,
    trainImagesPerSecond: trainImages / report.totalSeconds,
    epochLoss: report.epochLoss,
    testSize: size(test),
    tfjsAccuracy: tfjsEval.accuracy,
    ortAccuracy: size(test) ? right / size(test) : 0,
    maxLogitDifference: maxDiff,
    tfjsImagesPerSecond: size(test) / tfjsEval.seconds,
    ortImagesPerSecond: size(test) / ortRun.seconds,
    ortProvider: ort.provider.name,
    backend: backend.name,
  };
  log(
    `test accuracy ${(100 * summary.tfjsAccuracy).toFixed(2)}% (tfjs), ${
      (100 * summary.ortAccuracy).toFixed(2)
    }% ` +
      `(onnxruntime) on ${summary.testSize} images; largest logit difference ${maxDiff.toExponential(2)}`,
  );
  log(
    `forward throughput: tfjs ${summary.tfjsImagesPerSecond.toFixed(0)} img/s, onnxruntime ` +
      `${summary.ortImagesPerSecond.toFixed(0)} img/s; ONNX file ${onnxPath} (${
        (summary.onnxBytes / 1e6).toFixed(1)
      } MB)`,
  );
  const results = await saveResults("pretrain-resnet50", scale, { ...summary });
  log(`results: ${results}`);
  return summary;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scale: { type: "string" },
      config: { type: "string" },
      provider: { type: "string" },
      progress: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "deno task pretrain [--scale smoke|course|full|paper] [--config FILE] [--provider auto|cuda|webgpu|cpu] [--progress MODE]",
    );
    Deno.exit(0);
  }
  try {
    await pretrain({
      scale: values.scale === undefined ? undefined : currentScale(values.scale),
      config: values.config,
      provider: values.provider as OrtProviderRequest | undefined,
      progress: values.progress as ProgressMode | undefined,
    });
  } catch (e) {
    console.error(`pretrain: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
