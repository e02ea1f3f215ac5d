/**
 * Schemas for the pieces every experiment config shares: datasets, models, optimizers, training and
 * attacks. Chapter configs compose these.
 * @module
 */
import type { AttackSpec } from "../attacks/make.ts";
import { attackSchemas } from "../attacks/registry.ts";
import type { ModelSpec } from "../models/build.ts";
import type { OptimizerSpec } from "../train/optimizers.ts";
import { bool, ConfigError, int, list, num, obj, optional, type Schema, str } from "./schema.ts";

/** A schema choosing one of several mapping schemas by the value of a tag field (e.g. `kind`). */
export function tagged<T>(tag: string, variants: Record<string, Schema<unknown>>): Schema<T> {
  const names = Object.keys(variants);
  return {
    describe: `a mapping with ${tag} one of ${names.join(", ")}`,
    validate(v, path) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        throw new ConfigError(`${path}: expected ${this.describe}`);
      }
      const kind = (v as Record<string, unknown>)[tag];
      if (typeof kind !== "string" || !(kind in variants)) {
        throw new ConfigError(
          `${path}.${tag}: expected one of ${names.map((n) => JSON.stringify(n)).join(", ")}, got ${
            JSON.stringify(kind)
          }`,
        );
      }
      return variants[kind].validate(v, path) as T;
    },
  };
}

const kindIs = (k: string) => str([k]);

/** A model spec: logistic, mlp, madry-cnn, resnet or resnet50. */
export const modelSpecSchema: Schema<ModelSpec> = tagged<ModelSpec>("kind", {
  "logistic": obj({ kind: kindIs("logistic") }),
  "mlp": obj({ kind: kindIs("mlp"), hidden: list(int({ min: 1 })) }),
  "madry-cnn": obj({ kind: kindIs("madry-cnn"), scale: int({ min: 1, max: 64 }) }),
  "resnet": obj({
    kind: kindIs("resnet"),
    widths: list(int({ min: 1 }), { minLength: 1 }),
    blocksPerStage: int({ min: 1 }),
  }),
  "lenet": obj({ kind: kindIs("lenet") }),
  "vgg": obj({
    kind: kindIs("vgg"),
    widths: list(int({ min: 1 }), { minLength: 1 }),
    convsPerStage: int({ min: 1 }),
    dense: list(int({ min: 1 })),
  }),
  "densenet": obj({
    kind: kindIs("densenet"),
    growthRate: int({ min: 1 }),
    blocks: list(int({ min: 1 }), { minLength: 1 }),
  }),
  "resnet50": obj({
    kind: kindIs("resnet50"),
    baseWidth: int({ min: 1 }),
    stem: optional(str(["imagenet", "small"]), undefined as unknown as "imagenet" | "small"),
    stemStride: optional(int({ min: 1, max: 2 }), undefined as unknown as number),
    zeroInitResidual: optional(bool(), undefined as unknown as boolean),
  }),
});

/** An optimizer spec: adam or sgd. */
export const optimizerSchema: Schema<OptimizerSpec> = tagged<OptimizerSpec>("name", {
  "adam": obj({ name: kindIs("adam"), learningRate: num({ min: 0 }) }),
  "sgd": obj({
    name: kindIs("sgd"),
    learningRate: num({ min: 0 }),
    momentum: optional(num({ min: 0, max: 1 }), 0),
  }),
});

/**
 * An attack spec: one of the kinds of the attack registry (`lib/attacks/registry.ts`: fgsm, pgd, rfgsm, ...),
 * each validated by its own descriptor's schema.
 */
export const attackSpecSchema: Schema<AttackSpec> = tagged<AttackSpec>("kind", attackSchemas());

/**
 * An optional `backend` key of an experiment config: "auto", "webgpu", "wasm" or "cpu". Absent, the
 * `ADVEX_BACKEND` environment variable (else "auto") decides; present, it wins over the variable.
 */
export const backendSchema = optional(
  str(["auto", "webgpu", "wasm", "cpu"]),
  undefined as unknown as "auto" | "webgpu" | "wasm" | "cpu",
);

/** Training data: which dataset, and optionally a stratified subset of it. */
export const trainDataSchema = obj({
  dataset: str(["mnist", "fashion-mnist"]),
  trainSize: optional(int({ min: 0 }), 0),
  testSize: optional(int({ min: 0 }), 0),
  seed: optional(int({ min: 0 }), 0),
});

/** The minibatch schedule. */
export const trainSchema = obj({
  epochs: int({ min: 1 }),
  batchSize: int({ min: 1 }),
  optimizer: optimizerSchema,
  seed: int({ min: 0 }),
  schedule: optional(str(["constant", "cosine"]), "constant" as "constant" | "cosine"),
  /** Adversarial training: the attack run on every minibatch and the weight alpha of the clean loss. */
  adversarial: optional(
    obj({
      attack: attackSpecSchema,
      alpha: optional(num({ min: 0, max: 1 }), 0),
      /** Share of the run over which eps grows from 0 (absent: no warm-up). */
      warmup: optional(num({ min: 0, max: 1 }), undefined as unknown as number),
    }),
    undefined as unknown as { attack: AttackSpec; alpha: number; warmup?: number },
  ),
  /** Data augmentation: random shifts of up to `shift` pixels (absent: none). */
  augment: optional(obj({ shift: int({ min: 0, max: 8 }) }), undefined as unknown as { shift: number }),
});

/** The fields of a model a chapter trains: architecture, initial seed and training schedule. */
export const modelJobFields = {
  model: modelSpecSchema,
  initSeed: int({ min: 0 }),
  train: trainSchema,
};
