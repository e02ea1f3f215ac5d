import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { stratifiedSubset } from "../../lib/data/mod.ts";
import { evaluate } from "../../lib/eval/mod.ts";
import {
  blackBoxOverWhiteBox,
  type EnsembleErrors,
  ensembleEvaluation,
  ensembleJobs,
  ensembleTableRows,
  figure12Rows,
  meanErrors,
  notebook07Schema,
  seedComparison,
  showsLectureOrdering,
} from "../../lib/experiments/mod.ts";
import { quantizer, withTransform } from "../../lib/defenses/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const CONFIG = new URL("../../configs/07-ensemble-adversarial-training.yaml", import.meta.url).pathname;

Deno.test("notebook07Schema accepts the shipped config at every scale, with held-out models unlike every trained one", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook07Schema, scale);
    const jobs = ensembleJobs(cfg);
    assert(jobs.static.length >= 1 && jobs.heldOut.length >= 1, scale);
    const seen = [jobs.target, ...jobs.static.map((s) => s.job)].map((j) =>
      JSON.stringify({ ...j, train: undefined })
    );
    for (const h of jobs.heldOut) {
      assertEquals(h.job.train.adversarial, undefined, `${scale}: ${h.name} must be a standard model`);
      assert(
        !seen.includes(JSON.stringify({ ...h.job, train: undefined })),
        `${scale}: ${h.name} is not held out`,
      );
    }
    for (const s of jobs.static) assertEquals(s.job.train.adversarial, undefined, `${scale}: ${s.name}`);
  }
});

Deno.test("ensembleJobs() trains A on FGSM from the data point at the chapter's radius and rejects a repeated name", async () => {
  const cfg = await loadExperiment(CONFIG, notebook07Schema, "course");
  const { target } = ensembleJobs(cfg);
  assertEquals(target.train.adversarial, {
    attack: { kind: "fgsm", eps: cfg.eps, norm: "linf" },
    alpha: cfg.target.alpha,
  });
  const twice = { ...cfg, heldOut: [{ ...cfg.heldOut[0], name: cfg.static[0].name }] };
  assertThrows(() => ensembleJobs(twice), RangeError, "used twice");
});

Deno.test("ensembleEvaluation() measures clean, white-box and per-source black-box error, the worst over held-out sources", async () => {
  const { classifier, test } = await smallTrainedModel();
  const data = stratifiedSubset(test, 60, { seed: 4 });
  const masked = withTransform(classifier, quantizer(8));
  const fgsm = { kind: "fgsm", eps: 0.2 } as const;
  const sources = [
    { name: "H", classifier, role: "held-out" as const },
    { name: "S", classifier, role: "static" as const },
    { name: "Q", classifier: masked, role: "held-out" as const },
  ];
  const errors = await ensembleEvaluation({ plain: classifier, masked }, sources, data, fgsm, {
    progress: "silent",
  });
  const clean = 1 - (await evaluate(classifier, data)).accuracy;
  const [plain, m] = errors;
  assertEquals([plain.model, m.model], ["plain", "masked"]);
  assertAlmostEquals(plain.clean, clean, 1e-12);
  // FGSM crafted on the plain model is its white-box attack; crafted on the quantised copy it does nothing.
  assertAlmostEquals(plain.bySource.H, plain.whiteBox, 0.05);
  assertAlmostEquals(plain.bySource.Q, clean, 0.05);
  assertAlmostEquals(m.whiteBox, m.clean, 1e-12);
  assertEquals(plain.blackBox, Math.max(plain.bySource.H, plain.bySource.Q));
  assertAlmostEquals(plain.blackBoxMean, (plain.bySource.H + plain.bySource.Q) / 2, 1e-12);
  assert(plain.bySource.S !== undefined);
  assertEquals(figure12Rows(errors).length, 6);
  assertEquals(Object.keys(ensembleTableRows(errors, sources)[0]), [
    "model",
    "clean",
    "white-box FGSM",
    "from H (held out)",
    "from S (static)",
    "from Q (held out)",
    "black-box (worst held-out)",
  ]);
  await assertRejects(
    () => ensembleEvaluation({ plain: classifier }, [sources[1]], data, fgsm, { progress: "silent" }),
    RangeError,
    "held-out",
  );
});

/** The errors of one model with the given white-box and black-box error. */
function errorsOf(whiteBox: number, blackBox: number): EnsembleErrors {
  return { model: "m", clean: 0.01, whiteBox, bySource: {}, blackBox, blackBoxMean: blackBox };
}

Deno.test("showsLectureOrdering() needs the lower white-box error for self-training and the lower black-box error for the ensemble", () => {
  assert(showsLectureOrdering(errorsOf(0.05, 0.6), errorsOf(0.2, 0.15)));
  // Either comparison turned round (or tied) breaks the ordering.
  assert(!showsLectureOrdering(errorsOf(0.25, 0.6), errorsOf(0.2, 0.15)));
  assert(!showsLectureOrdering(errorsOf(0.05, 0.1), errorsOf(0.2, 0.15)));
  assert(!showsLectureOrdering(errorsOf(0.2, 0.6), errorsOf(0.2, 0.15)));
});

Deno.test("blackBoxOverWhiteBox() gives the ratio only when the transferred attack does better than the white-box one", () => {
  assertAlmostEquals(blackBoxOverWhiteBox(errorsOf(0.1, 0.35))!, 3.5, 1e-12);
  assertEquals(blackBoxOverWhiteBox(errorsOf(0.35, 0.35)), undefined);
  assertEquals(blackBoxOverWhiteBox(errorsOf(0.4, 0.35)), undefined);
  // A white-box error of zero does not divide by zero.
  assert(Number.isFinite(blackBoxOverWhiteBox(errorsOf(0, 0.2))!));
});

Deno.test("ensembleJobs() trains A once per seed, the first seed's job being A's own when it has A's seeds", async () => {
  const cfg = await loadExperiment(CONFIG, notebook07Schema, "course");
  const one = ensembleJobs({ ...cfg, seeds: undefined as unknown as number[] });
  assertEquals(one.targets.map((t) => t.seed), [cfg.target.initSeed]);
  const two = ensembleJobs({ ...cfg, seeds: [cfg.target.initSeed, 7] });
  assertEquals(two.targets.map((t) => t.seed), [cfg.target.initSeed, 7]);
  if (cfg.target.train.seed === cfg.target.initSeed) assertEquals(two.targets[0].job, one.target);
  assertEquals([two.targets[1].job.initSeed, two.targets[1].job.train.seed], [7, 7]);
  assertEquals(two.target, two.targets[0].job);
  // Everything but the seeds is the same job.
  const unseeded = (j: typeof two.target) => ({ ...j, initSeed: 0, train: { ...j.train, seed: 0 } });
  assertEquals(unseeded(two.targets[1].job), unseeded(two.targets[0].job));
  assertThrows(() => ensembleJobs({ ...cfg, seeds: [3, 3] }), RangeError, "differ");
});

Deno.test("seedComparison() holds only when each training wins its side by more than the spread between seeds", () => {
  const run = (selfWhite: number, selfBlack: number, ensWhite: number, ensBlack: number) => ({
    self: errorsOf(selfWhite, selfBlack),
    ensemble: errorsOf(ensWhite, ensBlack),
  });
  const clear = seedComparison([run(0.05, 0.6, 0.2, 0.15), run(0.07, 0.55, 0.22, 0.2)]);
  assertAlmostEquals(clear.whiteBoxWin, 0.15, 1e-12);
  assertAlmostEquals(clear.blackBoxWin, 0.4, 1e-12);
  assertAlmostEquals(clear.whiteBoxSpread, 0.02, 1e-12);
  assertAlmostEquals(clear.blackBoxSpread, 0.05, 1e-12);
  assert(clear.holds);
  // The same mean wins, but one seed's black-box errors far apart: the spread swallows the difference.
  const noisy = seedComparison([run(0.05, 0.9, 0.2, 0.1), run(0.07, 0.25, 0.22, 0.25)]);
  assert(noisy.blackBoxWin > 0 && noisy.blackBoxWin < noisy.blackBoxSpread);
  assert(!noisy.holds);
  // One seed: no spread, a win is enough; a loss is not.
  assert(seedComparison([run(0.05, 0.6, 0.2, 0.15)]).holds);
  assert(!seedComparison([run(0.25, 0.6, 0.2, 0.15)]).holds);
  assertThrows(() => seedComparison([]), RangeError);
});

Deno.test("meanErrors() averages every error rate over the seeds", () => {
  const a = { ...errorsOf(0.1, 0.5), bySource: { E: 0.5, B: 0.2 } };
  const b = { ...errorsOf(0.3, 0.3), clean: 0.03, bySource: { E: 0.3, B: 0.4 } };
  const m = meanErrors([a, b]);
  assertAlmostEquals(m.whiteBox, 0.2, 1e-12);
  assertAlmostEquals(m.blackBox, 0.4, 1e-12);
  assertAlmostEquals(m.clean, 0.02, 1e-12);
  assertAlmostEquals(m.bySource.B, 0.3, 1e-12);
  assertEquals(m.model, "m");
  assertThrows(() => meanErrors([]), RangeError);
});
