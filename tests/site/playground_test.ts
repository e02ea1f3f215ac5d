/**
 * Tests of the attack playground (tools/site_playground.ts, tools/playground/): its build at smoke scale,
 * its exported models, and the page itself in headless Chromium (driven by puppeteer-core), where advex's
 * attacks must do what the course says they do: PGD at eps 0.3 changes the standard CNN's predictions on
 * most digits and the PGD-trained network's on few; on the quantised defence plain PGD (zero gradients)
 * changes few, and PGD through BPDA and the gradient-free Square attack most.
 *
 * The playground is built into a temporary folder, from the model cache when the notebooks already trained
 * its models (otherwise it trains them: about 15 s at smoke scale). `ADVEX_SITE_DIR` names a built site
 * to check instead.
 */
import { assert, assertEquals } from "@std/assert";
import type { Browser, Page } from "puppeteer-core";
import { launchBrowser } from "./page_check.ts";
import * as tf from "@tensorflow/tfjs";
import {
  buildPlayground,
  type PageParts,
  PLAYGROUND_PAGE,
  playgroundHtml,
  type PlaygroundReport,
} from "../../tools/site_playground.ts";
import type { PlaygroundData } from "../../tools/playground/data.ts";
import type { PlaygroundApi, RunResult } from "../../tools/playground/main.ts";

const PHONE_WIDTH = 390;

/** The site folder with the playground: ADVEX_SITE_DIR, or a fresh smoke-scale build. */
let built: Promise<{ dir: string; report?: PlaygroundReport }> | undefined;
let tempDir: string | undefined;
function playgroundSite(): Promise<{ dir: string; report?: PlaygroundReport }> {
  built ??= (async () => {
    const given = Deno.env.get("ADVEX_SITE_DIR");
    if (given) return { dir: given };
    const dir = tempDir = await Deno.makeTempDir({ prefix: "advex-playground-" });
    const report = await buildPlayground({ outDir: dir, scale: "smoke", log: () => {}, progress: "silent" });
    return { dir, report };
  })();
  return built;
}

async function readData(dir: string): Promise<PlaygroundData> {
  const text = await Deno.readTextFile(`${dir}/playground/data.js`);
  const prefix = "globalThis.ADVEX_PLAYGROUND = ";
  assert(text.startsWith(prefix), "data.js assigns globalThis.ADVEX_PLAYGROUND");
  return JSON.parse(text.slice(prefix.length).trim().replace(/;$/, "")) as PlaygroundData;
}

/** Opens the page, collecting console errors, uncaught exceptions and failed requests into `problems`. */
async function openPlayground(
  browser: Browser,
  dir: string,
  problems: string[],
  width = 1280,
): Promise<Page> {
  const page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${(e as Error).message}`));
  page.on(
    "requestfailed",
    (r) => problems.push(`request failed: ${r.url().slice(0, 120)} ${r.failure()?.errorText}`),
  );
  await page.setViewport({ width, height: 900 });
  await page.goto(`file://${dir}/playground.html`);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, { timeout: 60_000 });
  const state = await page.evaluate(() => document.body.dataset.ready);
  const status = await page.$eval("#status", (el) => el.textContent);
  assertEquals(state, "true", `the playground did not start: ${status}`);
  return page;
}

/** Runs `attack` on `model` at eps 0.3 over every exported digit, in the page. */
function runAll(page: Page, model: string, attack: string): Promise<RunResult> {
  return page.evaluate(
    async (model, attack) => {
      const api = (globalThis as unknown as { advexPlayground: PlaygroundApi }).advexPlayground;
      const digits = Array.from({ length: api.digitCount() }, (_, i) => i);
      const r = await api.run({ model, attack: attack as "pgd", eps: 0.3, digits });
      // Typed arrays do not survive the trip out of the page; the test needs only the labels.
      return { ...r, first: undefined } as unknown as RunResult;
    },
    model,
    attack,
  );
}

/** Of the digits the model classifies correctly, the fraction whose prediction the attack changed. */
function changedFraction(r: RunResult): { changed: number; correct: number; fraction: number } {
  let correct = 0, changed = 0;
  for (let i = 0; i < r.labels.length; i++) {
    if (r.clean[i] !== r.labels[i]) continue;
    correct++;
    if (r.adversarial[i] !== r.clean[i]) changed++;
  }
  return { changed, correct, fraction: changed / correct };
}

Deno.test("buildPlayground() exports the three models in tfjs layers format, loadable with the same outputs", async () => {
  const { dir, report } = await playgroundSite();
  const data = await readData(dir);
  assertEquals(data.models.map((m) => m.id), ["standard", "pgd-trained", "quantised"]);
  assert(data.digits.labels.length >= 30, `a few dozen digits, got ${data.digits.labels.length}`);
  assertEquals(new Set(data.digits.labels).size, 10, "every class among the digits");
  assertEquals(data.models.find((m) => m.id === "quantised")?.quantizer?.levels, 8);
  for (const m of data.models) {
    const json = JSON.parse(await Deno.readTextFile(`${dir}/playground/models/${m.id}/model.json`));
    assertEquals(json.format, "layers-model");
    assertEquals(json.weightsManifest[0].paths, ["weights.bin"]);
    const bin = await Deno.readFile(`${dir}/playground/models/${m.id}/weights.bin`);
    const floats = json.weightsManifest[0].weights
      .reduce((n: number, w: { shape: number[] }) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    assertEquals(bin.length, 4 * floats, `${m.id}: weights.bin holds every float32 weight`);
    // The file pair and the embedded copy are the same model.
    const embedded = Uint8Array.from(atob(m.weights), (c) => c.charCodeAt(0));
    assertEquals(embedded, bin);
  }
  if (report) {
    // The export reloads to the very model that trainCached returned (same logits on the digits).
    const { trainCached } = await import("../../lib/train/cached.ts");
    const first = data.models[0];
    const json = JSON.parse(await Deno.readTextFile(`${dir}/playground/models/${first.id}/model.json`));
    const bin = await Deno.readFile(`${dir}/playground/models/${first.id}/weights.bin`);
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }));
    const { loadExperiment } = await import("../../lib/config/load.ts");
    const { notebook01Job, notebook01Schema } = await import("../../lib/experiments/generalization.ts");
    const cfg = await loadExperiment(
      new URL("../../configs/01-generalization-vs-robustness.yaml", import.meta.url),
      notebook01Schema,
      "smoke",
    );
    const cached = await trainCached(notebook01Job(cfg), { progress: "silent" });
    assert(cached.fromCache, "the playground's build put the standard CNN in the cache");
    const pixels = Uint8Array.from(atob(data.digits.pixels), (c) => c.charCodeAt(0));
    const x = tf.tidy(() => tf.div(tf.tensor4d(pixels, [pixels.length / 784, 28, 28, 1], "float32"), 255));
    const [a, b] = tf.tidy(() => [
      (reloaded.predict(x) as tf.Tensor).arraySync() as number[][],
      (cached.model.predict(x) as tf.Tensor).arraySync() as number[][],
    ]);
    x.dispose();
    reloaded.dispose();
    cached.model.dispose();
    const worst = Math.max(...a.flatMap((row, i) => row.map((v, k) => Math.abs(v - b[i][k]))));
    assert(worst < 1e-4, `reloaded logits differ by ${worst}`);
    assert(
      report.pageBytes > 0 && report.files["playground/playground.js"] > 100_000,
      "the bundle was written",
    );
  }
});

Deno.test("playgroundHtml() hands its styles and content to the site's frame, or stands alone", async () => {
  const template = await Deno.readTextFile(new URL("../../tools/playground/page.html", import.meta.url));
  assertEquals(playgroundHtml(template), template, "without a frame the page stands alone");
  let parts: PageParts | undefined;
  const framed = playgroundHtml(template, (p) => {
    parts = p;
    return `<html><head>${p.head}</head><body>${p.body}</body></html>`;
  });
  assert(parts && framed.includes(parts.body));
  assertEquals(parts.current, PLAYGROUND_PAGE.html);
  assert(parts.head.includes('id="advex-playground-style"'), "the playground's own styles come along");
  assert(!parts.head.includes("advex-playground-standalone"), "but not those of the page on its own");
  for (const piece of ['class="advex-playground"', 'id="pad"', 'id="model"', 'id="probs"']) {
    assert(parts.body.includes(piece), `the content has ${piece}`);
  }
  for (const script of ["playground/wasm.js", "playground/data.js", "playground/playground.js"]) {
    assert(parts.body.includes(`<script src="${script}">`), `the content loads ${script}`);
  }
  assert(!parts.body.includes('<nav class="top">'), "the frame brings its own navigation");
});

Deno.test("playground page: attacks run in the browser and do what the course says", async () => {
  const { dir } = await playgroundSite();
  const browser = await launchBrowser();
  const problems: string[] = [];
  try {
    const page = await openPlayground(browser, dir, problems);
    const backend = await page.$eval("#backend", (el) => el.textContent);
    assert(["webgpu", "webgl", "wasm", "cpu"].includes(backend ?? ""), `backend shown: ${backend}`);

    // Through the page's controls: a test digit, the standard CNN, PGD at the default eps 0.3.
    await page.select("#model", "standard");
    await page.select("#attack", "pgd");
    await page.click('button.digit[data-digit="5"]');
    await page.waitForFunction(() =>
      /PGD-20 \(eps 0\.30\) on one image: \d+ ms/.test(
        document.getElementById("timing")?.textContent ?? "",
      )
    );
    assertEquals(await page.$$eval("#probs .prob-row", (rows) => rows.length), 10);
    const timing = await page.$eval("#timing", (el) => el.textContent ?? "");
    assert(timing.includes(`on the ${backend} backend`), timing);

    // Every run, and every refused one, leaves tfjs holding the same tensors (the models' weights).
    const leaks = await page.evaluate(async () => {
      const api = (globalThis as unknown as { advexPlayground: PlaygroundApi }).advexPlayground;
      const before = api.tensors();
      const errors: string[] = [];
      for (const attack of ["fgsm", "pgd", "bpda-pgd", "square"] as const) {
        await api.run({ model: "quantised", attack, eps: 0.2, digits: [0, 1], queries: 50 });
      }
      for (
        const bad of [{ attack: "bpda-pgd", model: "standard" }, {
          attack: "pgd",
          model: "standard",
          steps: 1.5,
        }]
      ) {
        await api.run({ eps: 0.3, ...bad } as Parameters<PlaygroundApi["run"]>[0]).then(
          () => errors.push(`accepted ${JSON.stringify(bad)}`),
          (e: Error) => e instanceof RangeError || errors.push(`${e.name}: ${e.message}`),
        );
      }
      return { before, after: api.tensors(), errors };
    });
    assertEquals(leaks.errors, [], "bad requests are refused with a RangeError");
    assertEquals(leaks.after, leaks.before, "tensors left behind by the runs");

    const results: Record<string, ReturnType<typeof changedFraction>> = {};
    for (
      const [model, attack] of [
        ["standard", "pgd"],
        ["pgd-trained", "pgd"],
        ["quantised", "pgd"],
        ["quantised", "bpda-pgd"],
        ["quantised", "square"],
      ]
    ) {
      const r = await runAll(page, model, attack);
      assert(Math.max(...r.linf) <= 0.3 + 1e-6, `${model}/${attack}: perturbation within eps`);
      results[`${model}/${attack}`] = changedFraction(r);
    }
    const show = JSON.stringify(results);
    assert(results["standard/pgd"].correct >= 25, `the standard CNN is accurate on the digits: ${show}`);
    assert(
      results["pgd-trained/pgd"].correct >= 25,
      `the PGD-trained CNN is accurate on the digits: ${show}`,
    );
    assert(
      results["standard/pgd"].fraction > 0.7,
      `PGD changes most of the standard CNN's predictions: ${show}`,
    );
    assert(results["pgd-trained/pgd"].fraction < 1 / 3, `PGD changes few of the PGD-trained CNN's: ${show}`);
    assert(
      results["quantised/pgd"].fraction < 0.2,
      `plain PGD changes few of the quantised defence's: ${show}`,
    );
    assert(results["quantised/bpda-pgd"].fraction > 0.7, `PGD through BPDA changes most: ${show}`);
    assert(
      results["quantised/square"].fraction > 0.7,
      `Square, which needs no gradient, changes most: ${show}`,
    );
    assertEquals(problems, []);
  } finally {
    await browser.close();
  }
});

Deno.test("playground page: nothing wider than a phone's screen, and a drawn digit is attacked", async () => {
  const { dir } = await playgroundSite();
  const browser = await launchBrowser();
  const problems: string[] = [];
  try {
    const page = await openPlayground(browser, dir, problems, PHONE_WIDTH);
    const overflow = await page.evaluate((width) =>
      [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > width + 1)
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`), PHONE_WIDTH);
    assertEquals(overflow, [], "elements wider than the viewport");
    assertEquals(await page.evaluate(() => document.documentElement.scrollWidth), PHONE_WIDTH);

    // Draw a vertical stroke (a "1") on the pad; releasing the pointer attacks the drawing.
    const pad = await page.$("#pad");
    const box = (await pad!.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let t = 0.2; t <= 0.8; t += 0.05) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * t);
    }
    await page.mouse.up();
    await page.waitForFunction(() =>
      /^drawn digit: predicted \d/.test(document.getElementById("verdict")?.textContent ?? "")
    );
    const ink = await page.$eval("#view-original", (c) => {
      const d = (c as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, 28, 28).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    });
    assert(ink >= 10, `the drawn stroke reaches the attack (${ink} dark pixels)`);
    assertEquals(problems, []);
  } finally {
    await browser.close();
  }
});

globalThis.addEventListener("unload", () => {
  // Remove the temporary build (never a site named by ADVEX_SITE_DIR).
  if (tempDir) Deno.removeSync(tempDir, { recursive: true });
});
