/**
 * Chapter 4, "Gradient masking" (lecture section 5.1): the settings schema of its notebook, the models it
 * trains, and the table of attacks against the masked models, with the three ways through the masking, the
 * gradient-free Square attack and AutoAttack with its checks.
 * @module
 */
import { type AttackSpec, describeAttack, makeAttack } from "../attacks/make.ts";
import { square } from "../attacks/square.ts";
import type { Attack } from "../attacks/types.ts";
import { transferAttack } from "../eval/transfer.ts";
import { bool, int, num, obj, optional } from "../config/schema.ts";
import type { Infer } from "../config/schema.ts";
import {
  backendSchema,
  modelJobFields,
  modelSpecSchema,
  trainDataSchema,
  trainSchema,
} from "../config/specs.ts";
import { type Dataset, size, take } from "../data/dataset.ts";
import { attackVia } from "../defenses/bpda.ts";
import { selfFgsmJob } from "../defenses/single_step.ts";
import { autoAttack, type AutoAttackCheck, type AutoAttackResult } from "../eval/autoattack.ts";
import { evaluate } from "../eval/evaluate.ts";
import type { LossSurface } from "../eval/loss_surface.ts";
import type { Classifier } from "../models/classifier.ts";
import { createPrng } from "../random/prng.ts";
import { trainDataOf, type TrainJob } from "../train/cached.ts";
import type { ProgressMode } from "../util/progress.ts";

/** A model a chapter trains: architecture, initial seed and training schedule. */
export const chapterModelSchema = obj(modelJobFields);

/** Settings of notebook 04 (configs/04-gradient-masking.yaml). */
export const notebook04Schema = obj({
  backend: backendSchema,
  data: trainDataSchema,
  /** Radius of every attack (l-inf), and of the self-FGSM training. */
  eps: num({ min: 0 }),
  /** A standard network: the undefended reference, and the network behind the quantiser. */
  undefended: chapterModelSchema,
  /** The network trained against its own FGSM (no random start) at radius eps. */
  selfFgsm: obj({
    model: modelSpecSchema,
    initSeed: int({ min: 0 }),
    train: trainSchema,
    /** Weight of the clean loss in the mixed objective. */
    alpha: optional(num({ min: 0, max: 1 }), 0.5),
  }),
  /** The independently trained standard network the transfer attack crafts its examples on. */
  source: chapterModelSchema,
  quantizer: obj({
    /** Pixel levels of the quantiser in front of the undefended network. */
    levels: int({ min: 2 }),
    /** BPDA surrogate: the identity (straight-through), or the soft staircase of this temperature. */
    softSurrogate: optional(bool(), false),
    temperature: optional(num({ min: 0 }), 0.1),
  }),
  attack: obj({
    pgdSteps: int({ min: 1 }),
    pgdStepSize: num({ min: 0 }),
    /** R+FGSM's random step (default eps / 2). */
    rfgsmAlpha: optional(num({ min: 0 }), undefined as unknown as number),
    /** Test examples attacked (0: the whole test set). */
    testSize: int({ min: 0 }),
  }),
  surface: obj({
    /** The grid spans [-radius, radius] along both directions. */
    radius: num({ min: 0 }),
    /** Grid points per axis (odd). */
    points: int({ min: 3 }),
    /** How many test images (the first of the attacked subset) have their surfaces summarised. */
    examples: int({ min: 1 }),
  }),
  /** The gradient-free Square attack (Andriushchenko et al. 2020) on the attacked subset: its query budget. */
  square: obj({ queries: int({ min: 1 }) }),
  /**
   * AutoAttack `standard` (Croce and Hein 2020) on the first `testSize` images of the attacked subset: APGD and
   * FAB iterations, target classes of APGD-T and FAB-T, Square's queries (the authors': 100, 9, 5000).
   */
  autoAttack: obj({
    testSize: int({ min: 1 }),
    steps: int({ min: 1 }),
    targetClasses: int({ min: 1 }),
    squareQueries: int({ min: 1 }),
  }),
  /** Athalye et al.'s sanity checks (accuracy against eps, PGD vs FGSM, an unbounded attack). */
  checks: obj({ testSize: int({ min: 1 }), pgdSteps: int({ min: 1 }) }),
});

/** The typed settings of notebook 04. */
export type Notebook04Config = Infer<typeof notebook04Schema>;

/** The training jobs (cache keys) of the chapter's three networks. */
export function maskingJobs(
  cfg: Notebook04Config,
): { undefended: TrainJob; selfFgsm: TrainJob; source: TrainJob } {
  const data = trainDataOf(cfg.data);
  const job = (m: { model: TrainJob["model"]; initSeed: number; train: TrainJob["train"] }): TrainJob => ({
    data,
    model: m.model,
    initSeed: m.initSeed,
    train: m.train,
  });
  return {
    undefended: job(cfg.undefended),
    selfFgsm: selfFgsmJob(job(cfg.selfFgsm), { eps: cfg.eps, alpha: cfg.selfFgsm.alpha }),
    source: job(cfg.source),
  };
}

/** The white-box attacks of the chapter: from the data point, and with a random step first. */
export function maskingAttacks(cfg: Notebook04Config): {
  fgsm: AttackSpec;
  pgdFromX: AttackSpec;
  rfgsm: AttackSpec;
  pgd: AttackSpec;
} {
  const { eps } = cfg;
  const steps = cfg.attack.pgdSteps;
  const stepSize = cfg.attack.pgdStepSize;
  return {
    fgsm: { kind: "fgsm", eps },
    pgdFromX: { kind: "pgd", eps, steps, stepSize, randomStart: false },
    rfgsm: { kind: "rfgsm", eps, alpha: cfg.attack.rfgsmAlpha ?? eps / 2 },
    pgd: { kind: "pgd", eps, steps, stepSize, randomStart: true },
  };
}

/** A model of the comparison: its classifier and, for a defence with a non-differentiable part, a BPDA view. */
export interface MaskedModel {
  /** The model as deployed (what is evaluated). */
  classifier: Classifier;
  /** The same forward pass with a smooth backward pass; absent when BPDA does not apply. */
  bpda?: Classifier;
}

/** Which way through the masking an attack takes. */
export type WayThrough =
  | "no attack"
  | "none: from the data point"
  | "random step first"
  | "BPDA"
  | "transfer"
  | "no gradient"
  | "ensemble, worst case";

/** The attacks of the table, in order. */
export const MASKING_ATTACKS = [
  "clean",
  "fgsm",
  "pgd-from-x",
  "rfgsm",
  "pgd",
  "bpda-fgsm",
  "bpda-pgd",
  "transfer",
  "square",
  "autoattack",
] as const;

/** Identifies an attack of the table. */
export type MaskingAttackId = typeof MASKING_ATTACKS[number];

/** Short names of the attacks, for chart axes. */
export const MASKING_ATTACK_LABELS: Record<MaskingAttackId, string> = {
  "clean": "clean",
  "fgsm": "FGSM",
  "pgd-from-x": "PGD from x",
  "rfgsm": "R+FGSM",
  "pgd": "PGD, random start",
  "bpda-fgsm": "BPDA FGSM",
  "bpda-pgd": "BPDA PGD",
  "transfer": "transfer FGSM",
  "square": "Square",
  "autoattack": "AutoAttack",
};

/** The rows of the chapter's last section: the gradient-free Square attack and AutoAttack. */
export const GRADIENT_FREE_ROWS: readonly MaskingAttackId[] = ["square", "autoattack"];

/** One attack of the table: accuracy of each model under it (null where it does not apply). */
export interface MaskingRow {
  id: MaskingAttackId;
  attack: string;
  way: WayThrough;
  accuracy: Record<string, number | null>;
  /** Test images the row was measured on. */
  n: number;
  seconds: number;
  /** The AutoAttack row only: each model's full result (per-attack accuracy, checks, flags). */
  autoAttack?: Record<string, AutoAttackResult>;
}

/** Options of {@linkcode maskingTable}. */
export interface MaskingTableOptions {
  /** Seed of the attacks' random starts. Default 0. */
  seed?: number;
  /** Examples per batch. Default 250. */
  batchSize?: number;
  progress?: ProgressMode;
}

/**
 * Runs the chapter's attacks on every model: clean; FGSM and PGD from the data point; R+FGSM and PGD with a
 * random start; FGSM and PGD through the BPDA view (models that have one); FGSM crafted on `source` and
 * transferred; the Square attack (outputs only, `cfg.square.queries` queries); and AutoAttack `standard` on the
 * first `cfg.autoAttack.testSize` images with the budget of `cfg.autoAttack`. Returns one row per attack, in
 * that order.
 */
export async function maskingTable(
  models: Record<string, MaskedModel>,
  source: Classifier,
  data: Dataset,
  cfg: Notebook04Config,
  options: MaskingTableOptions = {},
): Promise<MaskingRow[]> {
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 250;
  const t: MaskingTableRun = {
    models,
    names: Object.keys(models),
    data,
    seed,
    batchSize,
    progress: options.progress,
    common: { batchSize, progress: options.progress },
    rows: [],
  };
  const a = maskingAttacks(cfg);
  const { rows } = t;

  await addRow(t, "clean", "clean", "no attack", cleanRun(t));
  await addRow(t, "fgsm", describeAttack(a.fgsm), "none: from the data point", whiteBoxRun(t, a.fgsm, 1));
  await addRow(
    t,
    "pgd-from-x",
    `${describeAttack(a.pgdFromX)}, from x`,
    "none: from the data point",
    whiteBoxRun(t, a.pgdFromX, 2),
  );
  await addRow(t, "rfgsm", describeAttack(a.rfgsm), "random step first", whiteBoxRun(t, a.rfgsm, 3));
  await addRow(
    t,
    "pgd",
    `${describeAttack(a.pgd)}, random start`,
    "random step first",
    whiteBoxRun(t, a.pgd, 4),
  );
  await addRow(t, "bpda-fgsm", `BPDA + ${describeAttack(a.fgsm)}`, "BPDA", bpdaRun(t, a.fgsm, 5));
  await addRow(t, "bpda-pgd", `BPDA + ${describeAttack(a.pgd)}`, "BPDA", bpdaRun(t, a.pgd, 6));
  rows.push(await transferRow(t, source, a.fgsm));
  await squareRow(t, cfg);
  rows.push(await autoAttackRow(t, cfg));
  return rows;
}

/** What the rows of one {@linkcode maskingTable} run share: the models, the data, the options, the rows so far. */
interface MaskingTableRun {
  models: Record<string, MaskedModel>;
  names: string[];
  data: Dataset;
  seed: number;
  batchSize: number;
  progress?: ProgressMode;
  /** The options every evaluation takes. */
  common: { batchSize: number; progress?: ProgressMode };
  rows: MaskingRow[];
}

/** One model's accuracy under an attack of the table (null where it does not apply). */
type ModelRun = (name: string, m: MaskedModel) => Promise<number | null>;

/** Runs one attack on every model, in turn, and adds its row. */
async function addRow(
  t: MaskingTableRun,
  id: MaskingAttackId,
  attack: string,
  way: WayThrough,
  run: ModelRun,
) {
  const t0 = performance.now();
  const accuracy: Record<string, number | null> = {};
  for (const name of t.names) accuracy[name] = await run(name, t.models[name]);
  t.rows.push({ id, attack, way, accuracy, n: size(t.data), seconds: (performance.now() - t0) / 1000 });
}

/** A model's clean accuracy. */
function cleanRun(t: MaskingTableRun): ModelRun {
  return async (name, m) =>
    (await evaluate(m.classifier, t.data, { ...t.common, label: `${name}: clean` })).accuracy;
}

/** A model's accuracy under a white-box attack on it, seeded `seed + k`. */
function whiteBoxRun(t: MaskingTableRun, spec: AttackSpec, k: number): ModelRun {
  return async (name, m) =>
    (await evaluate(m.classifier, t.data, {
      ...t.common,
      attack: makeAttack(spec, t.seed + k),
      label: `${name}: ${describeAttack(spec)}`,
    })).accuracy;
}

/** A model's accuracy under an attack through its BPDA view, seeded `seed + k`; null without one. */
function bpdaRun(t: MaskingTableRun, spec: AttackSpec, k: number): ModelRun {
  return async (name, m) =>
    m.bpda
      ? (await evaluate(m.classifier, t.data, {
        ...t.common,
        attack: attackVia(m.bpda, makeAttack(spec, t.seed + k)),
        label: `${name}: BPDA ${describeAttack(spec)}`,
      })).accuracy
      : null;
}

/** The transfer row: FGSM crafted on `source`, evaluated on every model. */
async function transferRow(t: MaskingTableRun, source: Classifier, fgsm: AttackSpec): Promise<MaskingRow> {
  const { models, names, data, seed, batchSize } = t;
  const t0 = performance.now();
  const transfer = await transferAttack(
    source,
    Object.fromEntries(names.map((n) => [n, models[n].classifier])),
    data,
    makeAttack(fgsm, seed + 7),
    { batchSize, progress: t.progress, label: "transfer: FGSM on the source" },
  );
  return {
    id: "transfer",
    attack: `transfer: ${describeAttack(fgsm)} on the source`,
    way: "transfer",
    accuracy: Object.fromEntries(transfer.targets.map((r) => [r.name, r.adversarialAccuracy])),
    n: size(data),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Runs the Square attack (outputs only, `cfg.square.queries` queries) on every model and adds its row. */
async function squareRow(t: MaskingTableRun, cfg: Notebook04Config): Promise<void> {
  const queries = cfg.square.queries;
  const squareName = `Square, ${queries.toLocaleString("en-US")} queries (l-inf, eps ${cfg.eps})`;
  await addRow(t, "square", squareName, "no gradient", async (name, m) => {
    const prng = createPrng(t.seed + 8);
    const attack: Attack = (model, x, y) => square(model, x, y, { eps: cfg.eps, queries, prng });
    return (await evaluate(m.classifier, t.data, { ...t.common, attack, label: `${name}: ${squareName}` }))
      .accuracy;
  });
}

/** The AutoAttack row: `standard` on the first `cfg.autoAttack.testSize` images, each model's full result kept. */
async function autoAttackRow(t: MaskingTableRun, cfg: Notebook04Config): Promise<MaskingRow> {
  const { models, names, data, seed, batchSize, progress } = t;
  const aa = cfg.autoAttack;
  const subset = take(data, Array.from({ length: Math.min(aa.testSize, size(data)) }, (_, i) => i));
  const t1 = performance.now();
  const results: Record<string, AutoAttackResult> = {};
  for (const name of names) {
    results[name] = await autoAttack(models[name].classifier, subset, {
      norm: "linf",
      eps: cfg.eps,
      version: "standard",
      steps: aa.steps,
      targetClasses: aa.targetClasses,
      squareQueries: aa.squareQueries,
      seed: seed + 9,
      batchSize,
      progress,
      label: progress === "silent" ? undefined : `${name}: AutoAttack`,
    });
  }
  return {
    id: "autoattack",
    attack: `AutoAttack standard: APGD-CE, APGD-T, FAB-T (${aa.steps} steps, ${aa.targetClasses} targets), ` +
      `Square ${aa.squareQueries.toLocaleString("en-US")} (l-inf, eps ${cfg.eps}), first ${
        size(subset)
      } images`,
    way: "ensemble, worst case",
    accuracy: Object.fromEntries(names.map((n) => [n, results[n].robustAccuracy])),
    n: size(subset),
    seconds: (performance.now() - t1) / 1000,
    autoAttack: results,
  };
}

/** The rows of the three ways through (clean to transfer), and those of Square and AutoAttack. */
export function splitMaskingRows(rows: MaskingRow[]): { ways: MaskingRow[]; gradientFree: MaskingRow[] } {
  return {
    ways: rows.filter((r) => !GRADIENT_FREE_ROWS.includes(r.id)),
    gradientFree: rows.filter((r) => GRADIENT_FREE_ROWS.includes(r.id)),
  };
}

/**
 * Whether the gradient-free Square attack gets through where the attacks from the data point do not: true
 * when its accuracy is more than `drop` (default 0.3, 30 points) below both FGSM's and PGD-from-x's. The
 * notebook's verdict on the quantised model.
 */
export function squareBreaksMasking(acc: Record<MaskingAttackId, number | null>, drop = 0.3): boolean {
  if (!(drop >= 0 && drop <= 1)) {
    throw new RangeError(`squareBreaksMasking: drop must be in [0, 1], got ${drop}`);
  }
  const { fgsm, square: gradientFree } = acc, fromX = acc["pgd-from-x"];
  if (fgsm === null || fromX === null || gradientFree === null) return false;
  return gradientFree < Math.min(fgsm, fromX) - drop;
}

/** AutoAttack's checks that say the gradient is masked: zero or non-finite gradients, Square beating the rest. */
const MASKING_CHECKS: readonly AutoAttackCheck["id"][] = [
  "zero-gradients",
  "nonfinite-gradients",
  "square-beats-gradients",
];

/** The checks of an AutoAttack result that fired and point at gradient masking (see {@linkcode MASKING_CHECKS}). */
export function maskingFlags(result: AutoAttackResult): AutoAttackCheck[] {
  return result.flags.filter((f) => MASKING_CHECKS.includes(f.id));
}

/** The AutoAttack row's models with their clean accuracy and the running robust accuracy after each attack. */
export function autoAttackStageRows(rows: MaskingRow[]): Record<string, string | number>[] {
  return Object.entries(autoAttackResults(rows, "autoAttackStageRows")).map(([model, r]) => ({
    model,
    clean: r.cleanAccuracy,
    ...Object.fromEntries(r.perAttack.map((s) => [`after ${s.name}`, s.robustAccuracy])),
    "broken by Square": r.perAttack.find((s) => s.attack === "square")?.broken ?? 0,
  }));
}

function autoAttackResults(rows: MaskingRow[], caller: string): Record<string, AutoAttackResult> {
  const row = rows.find((r) => r.id === "autoattack");
  if (!row?.autoAttack) throw new RangeError(`${caller}: no AutoAttack row with results`);
  return row.autoAttack;
}

/** AutoAttack's checks of each model of the AutoAttack row, for a table: model, check, verdict, message. */
export function autoAttackCheckRows(rows: MaskingRow[]): Record<string, string>[] {
  return Object.entries(autoAttackResults(rows, "autoAttackCheckRows")).flatMap(([model, r]) =>
    r.checks.map((c) => ({ model, check: c.name, verdict: c.fired ? "FIRED" : "quiet", detail: c.message }))
  );
}

/** One model's accuracy under each attack of the table (null where the attack does not apply). */
export function accuracyOf(rows: MaskingRow[], model: string): Record<MaskingAttackId, number | null> {
  const out = {} as Record<MaskingAttackId, number | null>;
  for (const id of MASKING_ATTACKS) {
    const row = rows.find((r) => r.id === id);
    if (!row) throw new RangeError(`accuracyOf: no row ${JSON.stringify(id)}`);
    if (!(model in row.accuracy)) throw new RangeError(`accuracyOf: no model ${JSON.stringify(model)}`);
    out[id] = row.accuracy[model];
  }
  return out;
}

/** The rows of {@linkcode maskingTable} flattened for a table: one column per model ("n/a" where it does not apply). */
export function maskingTableRows(rows: MaskingRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    attack: r.attack,
    "way through": r.way,
    ...Object.fromEntries(Object.entries(r.accuracy).map(([m, a]) => [m, a ?? "n/a"])),
  }));
}

/** The rows of {@linkcode maskingTable} in long form for a grouped bar chart, with short attack names (rows that apply only). */
export function maskingChartRows(rows: MaskingRow[]): { attack: string; model: string; accuracy: number }[] {
  return rows.flatMap((r) =>
    Object.entries(r.accuracy)
      .filter((e): e is [string, number] => e[1] !== null)
      .map(([model, accuracy]) => ({ attack: MASKING_ATTACK_LABELS[r.id], model, accuracy }))
  );
}

/** What a loss surface says about the single gradient step from x. */
export interface SurfaceSummary {
  /** Loss at x. */
  centre: number;
  /** Loss at the FGSM point x + eps * sign(grad): the far end of the gradient axis. */
  fgsmPoint: number;
  /** Largest loss on the half-axis FGSM follows (e1 >= 0, e2 = 0). */
  maxAlongGradient: number;
  /** Largest loss on the opposite half-axis, against the gradient sign (e1 <= 0, e2 = 0). */
  maxAgainstGradient: number;
  /** Largest loss on the random axis (e1 = 0, both sides). */
  maxAlongRandom: number;
  /** Largest loss on the grid. */
  max: number;
}

/** The loss at x, at the FGSM point, on each half of the gradient axis, on the random axis and on the grid. */
export function surfaceSummary(s: LossSurface): SurfaceSummary {
  const mid = (s.xs.length - 1) / 2;
  const gradientAxis = Array.from(s.values[mid]);
  const randomAxis = s.values.map((row) => row[mid]);
  return {
    centre: s.centre,
    fgsmPoint: gradientAxis[gradientAxis.length - 1],
    maxAlongGradient: Math.max(...gradientAxis.slice(mid)),
    maxAgainstGradient: Math.max(...gradientAxis.slice(0, mid + 1)),
    maxAlongRandom: Math.max(...randomAxis),
    max: s.max.value,
  };
}

/** The element-wise mean of several summaries. */
export function meanSummary(summaries: SurfaceSummary[]): SurfaceSummary {
  if (summaries.length === 0) throw new RangeError("meanSummary: no summaries");
  const keys = Object.keys(summaries[0]) as (keyof SurfaceSummary)[];
  return Object.fromEntries(
    keys.map((k) => [k, summaries.reduce((s, x) => s + x[k], 0) / summaries.length]),
  ) as unknown as SurfaceSummary;
}

/** One model's accuracies as {@linkcode accuracyOf} returns them. */
export type MaskingAccuracy = Record<MaskingAttackId, number | null>;

function checkShare(name: string, value: number, caller: string): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${caller}: ${name} must be in [0, 1], got ${value}`);
}

/**
 * Whether a network looks robust to the single step: FGSM leaves it at least `keep` (default 0.75) of its
 * clean accuracy. The notebook's test of whether the self-FGSM network learned to mask its gradient; false
 * when either accuracy was not measured.
 */
export function fgsmLeavesMostOfClean(acc: MaskingAccuracy, keep = 0.75): boolean {
  checkShare("keep", keep, "fgsmLeavesMostOfClean");
  if (acc.fgsm === null || acc.clean === null) return false;
  return acc.fgsm >= keep * acc.clean;
}

/**
 * Whether PGD from the data point, many small steps from x, gets through where FGSM's single step does not:
 * its accuracy is below `ratio` (default 0.5, half) of FGSM's. The masking is then shallow, a bump at x that
 * a few steps walk off. False when either accuracy was not measured.
 */
export function pgdFromXGetsThrough(acc: MaskingAccuracy, ratio = 0.5): boolean {
  checkShare("ratio", ratio, "pgdFromXGetsThrough");
  const fromX = acc["pgd-from-x"];
  if (acc.fgsm === null || fromX === null) return false;
  return fromX < ratio * acc.fgsm;
}

/**
 * Whether an attack gets through a masking: the accuracy it leaves (`to`) is more than `drop` (default 0.3,
 * 30 points) below what FGSM from the data point left (`from`). False when either was not measured.
 */
export function fellBy(from: number | null, to: number | null, drop = 0.3): boolean {
  checkShare("drop", drop, "fellBy");
  return from !== null && to !== null && to < from - drop;
}

/** Which way through each masking gained more than `drop` over FGSM from x (see {@linkcode fellBy}). */
export interface WaysThrough {
  selfFgsm: { rfgsm: boolean; transfer: boolean };
  quantised: { bpda: boolean; transfer: boolean };
  /** Every way through got through. */
  all: boolean;
}

/**
 * The chapter's verdict on the ways through the two maskings: the random step and transfer against the
 * self-FGSM network, BPDA and transfer against the quantised one, each compared with FGSM from x.
 */
export function waysThrough(selfFgsm: MaskingAccuracy, quantised: MaskingAccuracy, drop = 0.3): WaysThrough {
  const s = {
    rfgsm: fellBy(selfFgsm.fgsm, selfFgsm.rfgsm, drop),
    transfer: fellBy(selfFgsm.fgsm, selfFgsm.transfer, drop),
  };
  const q = {
    bpda: fellBy(quantised.fgsm, quantised["bpda-fgsm"], drop),
    transfer: fellBy(quantised.fgsm, quantised.transfer, drop),
  };
  return { selfFgsm: s, quantised: q, all: s.rfgsm && s.transfer && q.bpda && q.transfer };
}

/** The share of the largest loss on the grid that the FGSM point reaches (0 for a flat zero surface). */
export function fgsmPointShare(s: SurfaceSummary): number {
  return s.fgsmPoint / Math.max(s.max, 1e-9);
}

/** What the loss surfaces of a masked and an undefended network say about the single step. */
export interface SurfaceShape {
  /**
   * The masked network's FGSM point reaches less than `ratio` (default 0.5) of the share the undefended
   * network's reaches: the surface curves away from the gradient sign around x.
   */
  curved: boolean;
  /** On the masked network, the loss climbs higher against the gradient sign than along it. */
  higherAgainstGradient: boolean;
  /** On the masked network, the loss climbs higher along the random direction than along the gradient sign. */
  higherAlongRandom: boolean;
}

/** The shape of the masked network's loss surface beside the undefended one's (see {@linkcode SurfaceShape}). */
export function surfaceShape(masked: SurfaceSummary, undefended: SurfaceSummary, ratio = 0.5): SurfaceShape {
  checkShare("ratio", ratio, "surfaceShape");
  return {
    curved: fgsmPointShare(masked) < ratio * fgsmPointShare(undefended),
    higherAgainstGradient: masked.maxAgainstGradient > masked.maxAlongGradient,
    higherAlongRandom: masked.maxAlongRandom > masked.maxAlongGradient,
  };
}
