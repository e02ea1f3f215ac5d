import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { imageGrid, weightImage } from "../../lib/plot/images.ts";
import { DIVERGING_NEGATIVE, DIVERGING_POSITIVE } from "../../lib/plot/pixels.ts";
import { decodePngDataUrl, svgImageUrls } from "./png_reader.ts";

function digit(k: number): Float32Array {
  return Float32Array.from({ length: 784 }, (_, i) => ((i % 28) + Math.floor(i / 28) + k) % 7 === 0 ? 1 : 0);
}

const EPS = 0.3;
const CLEAN = [0, 1, 2, 3].map(digit);
const DELTA = CLEAN.map((c, k) => c.map((_, i) => (((i + k) % 3) - 1) * EPS)); // -eps, 0, +eps
const ADV = CLEAN.map((c, k) => c.map((v, i) => Math.min(1, Math.max(0, v + DELTA[k][i]))));

function pixel(img: { width: number; channels: number; pixels: Uint8Array }, x: number, y: number): number[] {
  const at = (y * img.width + x) * img.channels;
  return [...img.pixels.subarray(at, at + img.channels)];
}

Deno.test("imageGrid() renders one <image> per input image, each with its PNG data URL", async () => {
  const fig = await imageGrid([
    { label: "clean", images: CLEAN },
    { label: "adversarial", images: ADV },
    { label: "perturbation", images: DELTA },
  ], { eps: EPS });
  const urls = svgImageUrls(fig.svg);
  assertEquals(urls.length, 12);
  assert(urls.every((u) => u.startsWith("data:image/png;base64,")));
  const specUrls = JSON.stringify(fig.spec).match(/data:image\/png;base64,[A-Za-z0-9+/=]+/g);
  assertEquals(specUrls, urls);
  assertStringIncludes(fig.toHtml(), '<div class="advex-figure" data-title="images">');
  assertStringIncludes(fig.svg, 'style="image-rendering:pixelated"');
  assert(!fig.svg.includes('aria-label="url'), "data URLs must not be repeated in aria labels");
});

Deno.test("imageGrid() enlarges 28x28 images to 84x84 pixels in the PNG, nearest neighbour", async () => {
  const fig = await imageGrid([{ label: "clean", images: CLEAN }]);
  const img = await decodePngDataUrl(svgImageUrls(fig.svg)[0]);
  assertEquals([img.width, img.height, img.channels], [84, 84, 1]);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = CLEAN[0][y * 28 + x] * 255;
      for (const [dx, dy] of [[0, 0], [2, 1], [1, 2]]) assertEquals(pixel(img, 3 * x + dx, 3 * y + dy), [v]);
    }
  }
  assertStringIncludes(fig.svg, 'width="84" height="84"');
});

Deno.test("imageGrid() colours perturbation rows blue-white-red, scaled by eps", async () => {
  const fig = await imageGrid([{ label: "perturbation", images: [DELTA[0].map((v) => v / 2)] }], {
    eps: EPS,
  });
  const img = await decodePngDataUrl(svgImageUrls(fig.svg)[0]);
  assertEquals(img.channels, 3);
  const half = (end: readonly number[]) => end.map((c) => (255 + c) / 2);
  const near = (actual: number[], expected: number[]) =>
    assert(actual.every((v, i) => Math.abs(v - expected[i]) <= 1), `${actual} is not near ${expected}`);
  // pixel i has delta ((i % 3) - 1) * eps / 2: i = 0 -> -eps/2, 1 -> 0, 2 -> +eps/2
  near(pixel(img, 0, 0), half(DIVERGING_NEGATIVE));
  assertEquals(pixel(img, 3, 0), [255, 255, 255]);
  near(pixel(img, 6, 0), half(DIVERGING_POSITIVE));
  assertStringIncludes(fig.svg, ">±0.3</text>");
});

Deno.test("imageGrid() scales a perturbation row by its largest |value| when no eps is given", async () => {
  const fig = await imageGrid([{ label: "delta", images: [DELTA[0].map((v) => v / 3)] }]);
  const img = await decodePngDataUrl(svgImageUrls(fig.svg)[0]);
  assertEquals(pixel(img, 6, 0), [...DIVERGING_POSITIVE]);
  assertStringIncludes(fig.svg, ">±0.1</text>");
});

Deno.test("imageGrid() accepts a [N, 28, 28, 1] tensor and leaves it usable", async () => {
  const t = tf.tensor4d(Float32Array.from(CLEAN.flatMap((c) => [...c])), [4, 28, 28, 1]);
  try {
    const fig = await imageGrid([{ label: "clean", images: t }, { label: "adversarial", images: ADV }]);
    assertEquals(svgImageUrls(fig.svg).length, 8);
    const first = await decodePngDataUrl(svgImageUrls(fig.svg)[0]);
    assertEquals(pixel(first, 0, 0), [CLEAN[0][0] * 255]);
    assertEquals(t.isDisposed, false);
  } finally {
    t.dispose();
  }
});

Deno.test("imageGrid() writes row labels, captions and column titles", async () => {
  const fig = await imageGrid(
    [
      { label: "clean", images: CLEAN.slice(0, 2), captions: ["7", "2"] },
      { label: "adversarial", images: ADV.slice(0, 2), captions: ["7 → 3", "2 → 8"] },
    ],
    { titles: ["first", "second"], title: "FGSM" },
  );
  for (const t of ["clean", "adversarial", "7 → 3", "2 → 8", "first", "second", "FGSM"]) {
    assertStringIncludes(fig.svg, `>${t}</text>`);
  }
  assertEquals(fig.title, "FGSM");
});

Deno.test("imageGrid() shows RGB images given an [H, W, 3] shape", async () => {
  const rgb = Float32Array.from({ length: 4 * 4 * 3 }, (_, i) => (i % 3 === 0 ? 1 : 0)); // red
  const fig = await imageGrid([{ label: "cifar", images: [rgb] }], { shape: [4, 4, 3], width: 16 });
  const img = await decodePngDataUrl(svgImageUrls(fig.svg)[0]);
  assertEquals([img.width, img.channels], [16, 3]);
  assertEquals(pixel(img, 15, 15), [255, 0, 0]);
});

Deno.test("imageGrid() rejects images of different shapes or of unknown shape", async () => {
  await assertRejects(
    () => imageGrid([{ label: "a", images: CLEAN }, { label: "b", images: [new Float32Array(100)] }]),
    Error,
    'row "b" has images of 10x10x1',
  );
  await assertRejects(
    () => imageGrid([{ label: "a", images: [new Float32Array(7)] }]),
    Error,
    "pass options.shape",
  );
  await assertRejects(() => imageGrid([]), Error, "non-empty");
});

Deno.test("weightImage() shows each weight vector as a diverging picture", async () => {
  const w = Float32Array.from({ length: 784 }, (_, i) => (i % 2 ? 0.02 : -0.02));
  const fig = await weightImage([w, w.map((v) => -v)], 28, 28, { captions: ["0", "1"] });
  const urls = svgImageUrls(fig.svg);
  assertEquals(urls.length, 2);
  const img = await decodePngDataUrl(urls[0]);
  assertEquals([img.width, img.channels], [112, 3]);
  assertEquals(pixel(img, 0, 0), [...DIVERGING_NEGATIVE]);
  assertEquals(pixel(img, 4, 0), [...DIVERGING_POSITIVE]);
  assertStringIncludes(fig.svg, ">±0.02</text>");
  assertEquals(fig.title, "weights");
});
