/**
 * The child process of the crash tests (tests/train/crash_test.ts): trains one small cached job with a
 * checkpoint after every step under ADVEX_CACHE_DIR, and prints one JSON line with the SHA-256 of the final
 * weights. It prints "ready" on stdout just before training starts, so that the parent can time its kills.
 * Not a test file itself (its name starts with an underscore).
 */
import { initBackend } from "../../lib/backend/mod.ts";
import { serializeWeights } from "../../lib/models/mod.ts";
import { sha256Hex } from "../../lib/store/mod.ts";
import { trainCached, trainingData, type TrainJob } from "../../lib/train/mod.ts";

/** The job every child trains: 96 steps of an MLP on 384 MNIST images, a checkpoint after each step. */
export const CRASH_JOB: TrainJob = {
  data: { dataset: "mnist", trainSize: 384, seed: 2 },
  model: { kind: "mlp", hidden: [32] },
  initSeed: 4,
  train: {
    epochs: 6,
    batchSize: 24,
    optimizer: { name: "adam", learningRate: 2e-3 },
    seed: 9,
    checkpointEvery: 1,
  },
};

if (import.meta.main) {
  await initBackend();
  const data = await trainingData(CRASH_JOB.data);
  const encoder = new TextEncoder();
  await Deno.stdout.write(encoder.encode("ready\n"));
  const trained = await trainCached(CRASH_JOB, { progress: "silent", data });
  const line = {
    sha256: await sha256Hex(serializeWeights(trained.model)),
    fromCache: trained.fromCache,
    resumedFrom: trained.report.resumedFrom,
    steps: trained.report.steps,
    key: trained.key,
  };
  await Deno.stdout.write(encoder.encode(JSON.stringify(line) + "\n"));
}
