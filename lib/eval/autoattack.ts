/**
 * AutoAttack (Croce and Hein 2020): the evaluation robust-accuracy claims are checked with. A fixed ensemble
 * of parameter-free attacks runs one after another, each only on the points every earlier one left
 * correctly classified, and a point counts as robust only if it survives them all (the worst case per
 * example). Version `standard`: APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5,000 queries).
 * Version `rand`, for randomised defences: APGD-CE and APGD-DLR with the gradient averaged over 20 draws
 * (EOT). A custom list runs the named attacks in the given order.
 *
 * The result carries AutoAttack's own checks, as flags: the share of examples whose input gradient is zero
 * or not finite, outputs that change between two identical calls (a randomised model: use `rand`), outputs
 * that look like probabilities rather than logits, and the gradient-free Square attack breaking points the
 * gradient attacks left ("likely gradient masking").
 *
 * Forward passes that need no gradient (Square's queries, FAB-T's predictions) can run elsewhere: the
 * `forward` option takes a forward-only path to the same logits (`ortForward` in `lib/onnx`: onnxruntime on
 * the model's ONNX export).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { apgd, apgdTargeted } from "../attacks/apgd.ts";
import { fabTargeted, fabTargetedWithForward } from "../attacks/fab.ts";
import { crossEntropy } from "../attacks/loss.ts";
import { square, squareWithForward } from "../attacks/square.ts";
import { ball, type Norm } from "../attacks/threat.ts";
import type { AttackResult } from "../attacks/types.ts";
import { inputGradientsOnly } from "../util/gradient_scope.ts";
import { type Dataset, imagesTensor, labelsTensor, size, take } from "../data/dataset.ts";
import { forEachBatch, forEachRange } from "../data/batches.ts";
import { pct } from "../report/format.ts";
import type { Classifier, ForwardLogits } from "../models/classifier.ts";
import { createPrng, type Prng } from "../random/prng.ts";
import { createProgress, type ProgressMode } from "../util/progress.ts";

/** The attacks AutoAttack can run. */
export type AutoAttackName = "apgd-ce" | "apgd-t" | "fab-t" | "square" | "apgd-dlr";

/** The versions: `standard`, `rand` (EOT, randomised defences) or `custom` (the `attacks` list). */
export type AutoAttackVersion = "standard" | "rand" | "custom";

/** The attacks of each version, in the order they run. */
export const autoAttackVersions: Record<Exclude<AutoAttackVersion, "custom">, readonly AutoAttackName[]> = {
  standard: ["apgd-ce", "apgd-t", "fab-t", "square"],
  rand: ["apgd-ce", "apgd-dlr"],
};

const attackNames: Record<AutoAttackName, string> = {
  "apgd-ce": "APGD-CE",
  "apgd-t": "APGD-T",
  "fab-t": "FAB-T",
  "square": "Square",
  "apgd-dlr": "APGD-DLR",
};

/** Options of {@linkcode autoAttack}. */
export interface AutoAttackOptions {
  /** Norm of the threat model. Default "linf". */
  norm?: Norm;
  /** Radius. Default 0.3 (l-inf on MNIST). */
  eps?: number;
  /** Version. Default "standard", or "custom" when `attacks` is given. */
  version?: AutoAttackVersion;
  /** The attacks of a custom version, in order (overrides the version's list). */
  attacks?: AutoAttackName[];
  /** Seed of every random choice (attack i draws from a generator seeded with seed + i). Default 0. */
  seed?: number;
  /** Examples per batch. Default 256. */
  batchSize?: number;
  /** Pixel range. Default [0, 1]. */
  clipMin?: number;
  clipMax?: number;
  /** APGD and FAB iterations. Default 100. */
  steps?: number;
  /** Target classes of APGD-T and FAB-T. Default 9 (at most the number of classes - 1). */
  targetClasses?: number;
  /** Square's query budget. Default 5000. */
  squareQueries?: number;
  /** Gradients averaged per APGD iteration. Default 20 in version `rand`, else 1. */
  eot?: number;
  /**
   * Share of all examples the Square attack may break, after the gradient attacks, before the flag "likely
   * gradient masking" fires. Default 0.01.
   */
  squareTolerance?: number;
  /**
   * A forward-only path to the same model's logits (`OrtModel.logits` of its ONNX export, say): Square's
   * queries and FAB-T's predictions go through it, which is faster than tfjs's forward pass; gradients come
   * from the model, and every result is still judged by it. Default: the model's own forward pass.
   */
  forward?: ForwardLogits;
  /** Progress label; progress bars (one per attack) are shown when a label or a progress mode is given. */
  label?: string;
  progress?: ProgressMode;
  /** Called as the work advances: `done` examples out of n (overall), with the running attack in `note`. */
  onProgress?: (done: number, note?: string) => void;
}

/** One check of the model, as AutoAttack prints them. */
export interface AutoAttackCheck {
  id: "zero-gradients" | "nonfinite-gradients" | "randomized" | "probabilities" | "square-beats-gradients";
  /** What is checked, in words. */
  name: string;
  /** True when the symptom is present: the robust accuracy should not be trusted as it stands. */
  fired: boolean;
  /** The numbers behind the verdict, and what to do about it. */
  message: string;
  /** The measured quantity (a share of examples, or the largest change between two calls). */
  value: number;
}

/** What one attack of the sequence did. */
export interface AutoAttackStage {
  attack: AutoAttackName;
  /** Readable name, e.g. "APGD-T". */
  name: string;
  /** Points it ran on (those still robust). */
  attacked: number;
  /** Points it broke. */
  broken: number;
  /** Robust accuracy once it has run: the running worst case. */
  robustAccuracy: number;
  seconds: number;
}

/** An AutoAttack evaluation. */
export interface AutoAttackResult {
  n: number;
  version: AutoAttackVersion;
  norm: Norm;
  eps: number;
  /** Clean accuracy. */
  cleanAccuracy: number;
  /** Share of examples correct clean and under every attack. */
  robustAccuracy: number;
  /** Each attack in order, with the robust accuracy after it. */
  perAttack: AutoAttackStage[];
  /** 1 where the example is correct clean and survives every attack. */
  robust: Uint8Array;
  /** Per example: "clean" (misclassified clean), the attack that broke it, or null (robust). */
  brokenBy: (AutoAttackName | "clean" | null)[];
  /** The worst case per example, [n, H, W, C] flat: the breaking adversarial image, else the clean image. */
  adversarial: Float32Array;
  /** Every check, fired or not. */
  checks: AutoAttackCheck[];
  /** The checks that fired. */
  flags: AutoAttackCheck[];
  /** True when any check fired. */
  flagged: boolean;
  seconds: number;
}

/** Images and labels as tensors, turned into a dataset (copies). */
function asDataset(data: Dataset | { x: tf.Tensor4D; y: tf.Tensor1D }): Dataset {
  if (!("x" in data)) return data;
  const { x, y } = data;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new RangeError("autoAttack: data.x must be [N, H, W, C]");
  }
  if (!(y instanceof tf.Tensor) || y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new RangeError(`autoAttack: data.y must be [${x.shape[0]}], got shape [${y?.shape}]`);
  }
  const labels = Int32Array.from(y.dataSync());
  const k = labels.reduce((m, l) => Math.max(m, l + 1), 0);
  return {
    name: "tensors",
    images: Float32Array.from(x.dataSync()),
    labels,
    shape: [x.shape[1], x.shape[2], x.shape[3]],
    classes: Array.from({ length: k }, (_, i) => String(i)),
  };
}

/**
 * The model checks on a batch: zero and non-finite input gradients of the cross-entropy (per example), the
 * largest change of the logits between two identical calls, and whether the outputs look like
 * probabilities (every value in [0, 1], every row summing to 1).
 */
export function modelChecks(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): { zeroGradients: number; nonfiniteGradients: number; maxChange: number; probabilities: boolean } {
  const n = x.shape[0];
  if (n === 0) return { zeroGradients: 0, nonfiniteGradients: 0, maxChange: 0, probabilities: false };
  const [absMax, finite, change, lo, hi, rowErr] = inputGradientsOnly(() =>
    tf.tidy(() => {
      const g = tf.grad((xi: tf.Tensor) => tf.sum(crossEntropy(model(xi as tf.Tensor4D), y)))(x).reshape([
        n,
        -1,
      ]);
      const a = tf.max(tf.abs(g), 1);
      // g * 0 is NaN exactly where g is NaN or infinite.
      const ok = tf.logicalNot(tf.any(tf.isNaN(tf.mul(g, 0)), 1));
      const first = model(x), second = model(x);
      const diff = tf.max(tf.abs(tf.sub(first, second)));
      const rowSums = tf.sum(first, 1);
      return [a, ok, diff, tf.min(first), tf.max(first), tf.max(tf.abs(tf.sub(rowSums, 1)))];
    })
  );
  const a = absMax.dataSync(), ok = finite.dataSync();
  let zero = 0, bad = 0;
  for (let i = 0; i < n; i++) {
    if (!ok[i]) bad++;
    else if (a[i] === 0) zero++;
  }
  const out = {
    zeroGradients: zero / n,
    nonfiniteGradients: bad / n,
    maxChange: change.dataSync()[0],
    probabilities: lo.dataSync()[0] >= -1e-6 && hi.dataSync()[0] <= 1 + 1e-6 && rowErr.dataSync()[0] < 1e-4,
  };
  tf.dispose([absMax, finite, change, lo, hi, rowErr]);
  return out;
}

async function runAttack(
  name: AutoAttackName,
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  s: {
    norm: Norm;
    eps: number;
    clipMin: number;
    clipMax: number;
    steps: number;
    targetClasses: number;
    squareQueries: number;
    eot: number;
    prng: Prng;
    forward?: ForwardLogits;
  },
): Promise<AttackResult> {
  const common = { norm: s.norm, eps: s.eps, clipMin: s.clipMin, clipMax: s.clipMax, prng: s.prng };
  switch (name) {
    case "apgd-ce":
      return apgd(model, x, y, { ...common, loss: "ce", steps: s.steps, eot: s.eot });
    case "apgd-dlr":
      return apgd(model, x, y, { ...common, loss: "dlr", steps: s.steps, eot: s.eot });
    case "apgd-t":
      return apgdTargeted(model, x, y, {
        ...common,
        steps: s.steps,
        targetClasses: s.targetClasses,
        eot: s.eot,
      });
    case "fab-t": {
      const opts = { ...common, steps: s.steps, targetClasses: s.targetClasses };
      return s.forward
        ? await fabTargetedWithForward(model, s.forward, x, y, opts)
        : fabTargeted(model, x, y, opts);
    }
    case "square": {
      const opts = { ...common, queries: s.squareQueries, pInit: 0.8 };
      return s.forward ? await squareWithForward(model, s.forward, x, y, opts) : square(model, x, y, opts);
    }
  }
}

/**
 * Runs AutoAttack on `data` (a dataset, or images [N, H, W, C] and labels [N] as tensors): clean accuracy,
 * then each attack on the points still robust, keeping the worst case per example, and the checks.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { autoAttack } from "./autoattack.ts";
 * declare const classifier: Classifier, testSubset: Dataset;
 * const r = await autoAttack(classifier, testSubset, { norm: "linf", eps: 0.3, version: "standard" });
 * console.log(r.cleanAccuracy, r.perAttack.map((s) => [s.name, s.robustAccuracy]), r.robustAccuracy);
 * for (const f of r.flags) console.log(f.message);
 * ```
 */
export async function autoAttack(
  model: Classifier,
  data: Dataset | { x: tf.Tensor4D; y: tf.Tensor1D },
  options: AutoAttackOptions = {},
): Promise<AutoAttackResult> {
  const t0 = performance.now();
  const ds = asDataset(data);
  const plan = planOf(options);
  const n = size(ds);
  const clean = await cleanPass(model, ds, plan.batchSize);
  const settings = {
    norm: plan.norm,
    eps: plan.eps,
    clipMin: plan.threat.clipMin,
    clipMax: plan.threat.clipMax,
    steps: options.steps ?? 100,
    targetClasses: options.targetClasses ?? Math.min(9, Math.max(1, clean.classes - 1)),
    squareQueries: options.squareQueries ?? 5000,
    eot: options.eot ?? (plan.version === "rand" ? 20 : 1),
    forward: options.forward,
  };
  const state: WorstCase = {
    robust: Uint8Array.from(clean.correct),
    brokenBy: Array.from(clean.correct, (c) => (c ? null : "clean")),
    adversarial: Float32Array.from(ds.images),
  };
  const perAttack: AutoAttackStage[] = [];
  for (const [i, attack] of plan.attacks.entries()) {
    const onProgress = options.onProgress &&
      ((share: number, note: string) =>
        options.onProgress!(Math.round(n * (i + share) / plan.attacks.length), note));
    perAttack.push(
      await runStage(model, ds, state, attack, { ...settings, prng: createPrng(plan.seed + i) }, {
        threat: plan.threat,
        batchSize: plan.batchSize,
        progress: plan.showProgress ? { label: plan.label, mode: options.progress } : undefined,
        onProgress,
      }),
    );
  }
  const checks = judgeChecks(clean.checked, perAttack, {
    n,
    version: plan.version,
    squareTolerance: plan.squareTolerance,
  });
  const flags = checks.filter((c) => c.fired);
  return {
    n,
    version: plan.version,
    norm: plan.norm,
    eps: plan.eps,
    cleanAccuracy: n ? countOf(clean.correct) / n : 0,
    robustAccuracy: n ? countOf(state.robust) / n : 0,
    perAttack,
    ...state,
    checks,
    flags,
    flagged: flags.length > 0,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The run's settings from the options, each checked: a bad one is a RangeError naming it. */
function planOf(options: AutoAttackOptions) {
  const norm = options.norm ?? "linf";
  const eps = options.eps ?? 0.3;
  const version = options.version ?? (options.attacks ? "custom" : "standard");
  if (version !== "standard" && version !== "rand" && version !== "custom") {
    throw new RangeError(
      `autoAttack: version must be "standard", "rand" or "custom", got ${JSON.stringify(version)}`,
    );
  }
  if (version === "custom" && !options.attacks) {
    throw new RangeError('autoAttack: version "custom" needs the list of attacks (options.attacks)');
  }
  const attacks = options.attacks ?? autoAttackVersions[version as "standard" | "rand"];
  for (const a of attacks) {
    if (!(a in attackNames)) {
      throw new RangeError(
        `autoAttack: unknown attack ${JSON.stringify(a)}; use ${Object.keys(attackNames).join(", ")}`,
      );
    }
  }
  const threat = ball(norm, eps, options);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`autoAttack: batchSize must be an integer >= 1, got ${batchSize}`);
  }
  return {
    norm,
    eps,
    version: version as AutoAttackVersion,
    attacks,
    threat,
    batchSize,
    seed: options.seed ?? 0,
    squareTolerance: options.squareTolerance ?? 0.01,
    showProgress: options.label !== undefined ||
      (options.progress !== undefined && options.progress !== "silent"),
    label: options.label ?? "AutoAttack",
  };
}

/** The clean pass: which examples are classified correctly, the number of classes, the model checks. */
async function cleanPass(model: Classifier, ds: Dataset, batchSize: number) {
  const correct = new Uint8Array(size(ds));
  let classes = 0;
  let checked: ReturnType<typeof modelChecks> | undefined;
  await forEachBatch(ds, { batchSize }, ({ x, y, start, end }) => {
    // The model checks run on the first batch.
    if (!checked) checked = modelChecks(model, x, y);
    const pred = tf.tidy(() => {
      const logits = model(x);
      classes = logits.shape[1];
      return tf.argMax(logits, 1);
    });
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < end - start; i++) correct[start + i] = p[i] === ds.labels[start + i] ? 1 : 0;
  });
  return { correct, classes, checked };
}

/** The worst case per example so far: whether it is still robust, what broke it, its adversarial image. */
interface WorstCase {
  robust: Uint8Array;
  brokenBy: (AutoAttackName | "clean" | null)[];
  adversarial: Float32Array;
}

const countOf = (bits: Uint8Array) => bits.reduce((a, b) => a + b, 0);

/**
 * One attack of the sequence on the examples still robust, in batches: a point counts as broken only if the
 * attack's image is misclassified and inside the ball, and then its image becomes the worst case.
 */
async function runStage(
  model: Classifier,
  ds: Dataset,
  state: WorstCase,
  attack: AutoAttackName,
  settings: Parameters<typeof runAttack>[4],
  run: {
    threat: ReturnType<typeof ball>;
    batchSize: number;
    progress?: { label: string; mode?: ProgressMode };
    onProgress?: (share: number, note: string) => void;
  },
): Promise<AutoAttackStage> {
  const ts = performance.now();
  const n = size(ds);
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const alive: number[] = [];
  for (let j = 0; j < n; j++) if (state.robust[j]) alive.push(j);
  const bar = run.progress
    ? createProgress({
      label: `${run.progress.label}: ${attackNames[attack]}`,
      total: alive.length,
      unit: "examples",
      mode: run.progress.mode,
    })
    : undefined;
  let broken = 0;
  await forEachRange(0, alive.length, { batchSize: run.batchSize }, async (start, end) => {
    const idx = alive.slice(start, end);
    const part = take(ds, idx);
    const x = imagesTensor(part), y = labelsTensor(part);
    let result: AttackResult | undefined;
    try {
      result = await runAttack(attack, model, x, y, settings);
      const dist = tf.tidy(() => run.threat.distance(result!.adversarial, x).dataSync());
      const advImages = result.adversarial.dataSync();
      idx.forEach((j, k) => {
        const inside = dist[k] <= settings.eps * (1 + 1e-5) + 1e-7;
        if (result!.predictions[k] !== ds.labels[j] && inside) {
          state.robust[j] = 0;
          state.brokenBy[j] = attack;
          broken++;
          state.adversarial.set(advImages.subarray(k * per, (k + 1) * per), j * per);
        }
      });
    } finally {
      tf.dispose([x, y]);
      result?.adversarial.dispose();
    }
    bar?.update(end, `robust ${pct(countOf(state.robust) / n)}`);
    run.onProgress?.(alive.length ? end / alive.length : 1, `${attackNames[attack]} ${end}/${alive.length}`);
  });
  await bar?.finish(`robust ${pct(countOf(state.robust) / n)}`);
  return {
    attack,
    name: attackNames[attack],
    attacked: alive.length,
    broken,
    robustAccuracy: n ? countOf(state.robust) / n : 0,
    seconds: (performance.now() - ts) / 1000,
  };
}

const gradientAttacks = new Set<AutoAttackName>(["apgd-ce", "apgd-t", "fab-t", "apgd-dlr"]);

/** The checks from the measurements of {@linkcode modelChecks} and the attack sequence. */
function judgeChecks(
  m: ReturnType<typeof modelChecks> | undefined,
  stages: AutoAttackStage[],
  s: { n: number; version: AutoAttackVersion; squareTolerance: number },
): AutoAttackCheck[] {
  const checks: AutoAttackCheck[] = [];
  if (m) {
    checks.push({
      id: "zero-gradients",
      name: "input gradients are not zero",
      fired: m.zeroGradients > 0,
      value: m.zeroGradients,
      message: m.zeroGradients > 0
        ? `${
          pct(m.zeroGradients)
        } of the examples checked have an input gradient of exactly zero: gradient ` +
          "attacks cannot move them, so their robustness is not measured (gradient masking or a saturated softmax)"
        : "no example checked has a zero input gradient",
    });
    checks.push({
      id: "nonfinite-gradients",
      name: "input gradients are finite",
      fired: m.nonfiniteGradients > 0,
      value: m.nonfiniteGradients,
      message: m.nonfiniteGradients > 0
        ? `${pct(m.nonfiniteGradients)} of the examples checked have a NaN or infinite input gradient`
        : "every input gradient checked is finite",
    });
    const randomized = m.maxChange > 1e-5;
    checks.push({
      id: "randomized",
      name: "the forward pass is deterministic",
      fired: randomized && s.version !== "rand",
      value: m.maxChange,
      message: randomized
        ? `two identical calls gave logits up to ${m.maxChange.toPrecision(3)} apart: a randomised model` +
          (s.version === "rand"
            ? " (evaluated with EOT, version rand)"
            : "; evaluate it with version rand (EOT)")
        : "two identical calls gave the same logits",
    });
    checks.push({
      id: "probabilities",
      name: "the model returns logits, not probabilities",
      fired: m.probabilities,
      value: m.probabilities ? 1 : 0,
      message: m.probabilities
        ? "the outputs lie in [0, 1] and every row sums to 1: they look like softmax probabilities; the " +
          "attacks' losses expect logits (remove the final softmax)"
        : "the outputs are not probabilities",
    });
  }
  const sq = stages.findIndex((st) => st.attack === "square");
  if (sq > 0 && stages.slice(0, sq).some((st) => gradientAttacks.has(st.attack))) {
    const share = s.n ? stages[sq].broken / s.n : 0;
    checks.push({
      id: "square-beats-gradients",
      name: "the gradient-free attack finds no more than the gradient attacks",
      fired: share > s.squareTolerance,
      value: share,
      message:
        `Square broke ${stages[sq].broken} of the ${stages[sq].attacked} points the gradient attacks ` +
        `left (${pct(share)} of all, ${pct(s.squareTolerance)} allowed)` +
        (share > s.squareTolerance ? ": likely gradient masking" : ""),
    });
  }
  return checks;
}
