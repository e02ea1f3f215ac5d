/// <reference lib="dom" />
/**
 * The attack playground's browser entry, bundled by `tools/site_playground.ts` into
 * `site/playground/playground.js`. It runs advex's own attacks (`lib/attacks`) and defences
 * (`lib/defenses`) on tfjs in the reader's browser, against the models the site build exported into
 * `playground/data.js`, on the test digits exported with them or on a digit the reader draws.
 *
 * The backend is the first that works of WebGPU (a real adapter only), WebGL (a hardware renderer only),
 * wasm (with advex's gradient kernels) and cpu; `?backend=NAME` in the page address forces one.
 * `window.advexPlayground` is the page's API, which the page itself and its browser test use.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { fgsm } from "../../lib/attacks/fgsm.ts";
import { pgd } from "../../lib/attacks/pgd.ts";
import { square } from "../../lib/attacks/square.ts";
import type { AttackResult } from "../../lib/attacks/types.ts";
import { registerWasmKernels } from "../../lib/backend/wasm_kernels.ts";
import { bpda } from "../../lib/defenses/bpda.ts";
import { quantizer, softQuantizeDerivative } from "../../lib/defenses/quantize.ts";
import { withTransform } from "../../lib/defenses/transform.ts";
import { asClassifier, type Classifier } from "../../lib/models/classifier.ts";
import type { PlaygroundData, PlaygroundModelData } from "./data.ts";

declare global {
  var ADVEX_PLAYGROUND: PlaygroundData | undefined;
  var ADVEX_PLAYGROUND_WASM: Record<string, string> | undefined;
  var advexPlayground: PlaygroundApi | undefined;
}

/** The attacks the playground offers. */
export const ATTACKS = {
  fgsm: "FGSM",
  pgd: "PGD",
  "bpda-pgd": "PGD through BPDA",
  square: "Square (no gradients)",
} as const;

/** One of {@linkcode ATTACKS}. */
export type AttackId = keyof typeof ATTACKS;

/** What to attack and how. */
export interface RunRequest {
  /** A model id of `playground/data.js`. */
  model: string;
  attack: AttackId;
  /** l-inf radius. */
  eps: number;
  /** PGD steps. Default the page's (20). */
  steps?: number;
  /** Square's model queries per image. Default the page's. */
  queries?: number;
  /** Indices of exported test digits; or */
  digits?: number[];
  /** one drawn image of 784 pixels in [0, 1] (its label is the model's clean prediction). */
  image?: Float32Array;
  /** Seed of PGD's random start. Default 0. */
  seed?: number;
}

/** The outcome of one run, per image. */
export interface RunResult {
  backend: string;
  /** Wall time of the attack alone (gradient steps and the final prediction), in milliseconds. */
  ms: number;
  labels: number[];
  clean: number[];
  adversarial: number[];
  /** Class probabilities before and after, [N][10]. */
  cleanProbs: number[][];
  advProbs: number[][];
  /** Largest pixel change per image. */
  linf: number[];
  /** The first image: original, adversarial and perturbation (784 values each). */
  first: { original: Float32Array; adversarial: Float32Array; perturbation: Float32Array };
}

/** `window.advexPlayground`. */
export interface PlaygroundApi {
  /** Resolves when the backend and the models are ready (rejects with the reason otherwise). */
  ready: Promise<void>;
  backend: () => string;
  models: () => { id: string; name: string; hasBpda: boolean }[];
  digitCount: () => number;
  run: (request: RunRequest) => Promise<RunResult>;
  /** Tensors tfjs holds now (the models' weights and nothing else between runs). */
  tensors: () => number;
}

const PIXELS = 28 * 28;

function decodeBase64(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function hardwareWebgl(): boolean {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return false;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = String(
      info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
    );
    gl.getExtension("WEBGL_lose_context")?.loseContext();
    return !/swiftshader|llvmpipe|softpipe|software/i.test(renderer);
  } catch {
    return false;
  }
}

async function realWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    const adapter = await gpu.requestAdapter() as { info?: { isFallbackAdapter?: boolean } } | null;
    return adapter !== null && adapter.info?.isFallbackAdapter !== true;
  } catch {
    return false;
  }
}

function configureWasm(): void {
  // Threads need cross-origin isolation, which a page opened from file:// never has.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  const embedded = globalThis.ADVEX_PLAYGROUND_WASM;
  if (location.protocol === "file:" && embedded) {
    // Chromium does not fetch local files from a file:// page: load the binaries from data URLs.
    const url = (name: string) => `data:application/wasm;base64,${embedded[name]}`;
    setWasmPaths({
      "tfjs-backend-wasm.wasm": url("tfjs-backend-wasm.wasm"),
      "tfjs-backend-wasm-simd.wasm": url("tfjs-backend-wasm-simd.wasm"),
      "tfjs-backend-wasm-threaded-simd.wasm": url("tfjs-backend-wasm-simd.wasm"),
    });
  } else {
    setWasmPaths(new URL("playground/", location.href).href);
  }
}

/** Activates the first backend that works (or the one asked for) and returns its name. */
async function chooseBackend(requested: string | null): Promise<string> {
  const order = requested ? [requested] : ["webgpu", "webgl", "wasm", "cpu"];
  for (const name of order) {
    if (!requested && name === "webgpu" && !(await realWebGpu())) continue;
    if (!requested && name === "webgl" && !hardwareWebgl()) continue;
    if (name === "wasm") configureWasm();
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        // Stock tfjs-wasm has no convolution filter gradient, which tfjs's fused convolution asks for even
        // when only the input gradient is wanted; advex's kernels provide it (and skip it in attacks).
        if (name === "wasm") registerWasmKernels();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`no tfjs backend could start (tried ${order.join(", ")})`);
}

interface LoadedModel {
  data: PlaygroundModelData;
  /** The model as deployed: for the quantised defence, the quantiser in front of the network. */
  deployed: Classifier;
  /** The same forward pass with BPDA's backward pass; only for a model with a non-differentiable part. */
  bpdaView?: Classifier;
}

async function loadModel(data: PlaygroundModelData): Promise<LoadedModel> {
  const weights = decodeBase64(data.weights);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: data.topology as tf.io.ModelArtifacts["modelTopology"],
    weightSpecs: data.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }));
  const net = asClassifier(model);
  const q = data.quantizer;
  if (!q) return { data, deployed: net };
  const surrogate = q.softSurrogate
    ? softQuantizeDerivative(q.levels, { temperature: q.temperature })
    : undefined;
  return {
    data,
    deployed: withTransform(net, quantizer(q.levels)),
    bpdaView: withTransform(net, bpda(quantizer(q.levels), surrogate)),
  };
}

function softmaxRows(model: Classifier, x: tf.Tensor4D): number[][] {
  const probs = tf.tidy(() => tf.softmax(model(x)));
  const flat = probs.dataSync();
  probs.dispose();
  const k = flat.length / x.shape[0];
  return Array.from({ length: x.shape[0] }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k)));
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function createApi(data: PlaygroundData): PlaygroundApi {
  let backend = "";
  const loaded = new Map<string, LoadedModel>();
  const digitPixels = decodeBase64(data.digits.pixels);
  const ready = (async () => {
    backend = await chooseBackend(new URLSearchParams(location.search).get("backend"));
    for (const m of data.models) loaded.set(m.id, await loadModel(m));
    // One small run per model, so that the reader's first attack does not pay for kernel set-up.
    for (const m of loaded.values()) {
      const x = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
      const y = tf.zeros([1], "int32") as tf.Tensor1D;
      const r = pgd(m.bpdaView ?? m.deployed, x, y, { eps: 0.1, steps: 2 });
      tf.dispose([x, y, r.adversarial]);
    }
  })();

  const run = async (request: RunRequest): Promise<RunResult> => {
    await ready;
    const m = loaded.get(request.model);
    if (!m) throw new RangeError(`run: unknown model ${JSON.stringify(request.model)}`);
    if (!(request.attack in ATTACKS)) {
      throw new RangeError(`run: unknown attack ${JSON.stringify(request.attack)}`);
    }
    if (!(request.eps >= 0 && request.eps <= 1)) {
      throw new RangeError(`run: eps must be in [0, 1], got ${request.eps}`);
    }
    if (request.attack === "bpda-pgd" && !m.bpdaView) {
      throw new RangeError(`run: ${m.data.name} has no non-differentiable part, so BPDA does not apply`);
    }
    const steps = request.steps ?? data.pgdSteps;
    let pixels: Float32Array;
    let labels: number[] | undefined;
    if (request.image) {
      if (request.image.length !== PIXELS) throw new RangeError(`run: image must have ${PIXELS} pixels`);
      pixels = request.image;
    } else {
      const digits = request.digits ?? [0];
      pixels = new Float32Array(digits.length * PIXELS);
      digits.forEach((d, i) => {
        if (!(Number.isInteger(d) && d >= 0 && d < data.digits.labels.length)) {
          throw new RangeError(`run: digit index ${d} outside [0, ${data.digits.labels.length})`);
        }
        for (let p = 0; p < PIXELS; p++) pixels[i * PIXELS + p] = digitPixels[d * PIXELS + p] / 255;
      });
      labels = digits.map((d) => data.digits.labels[d]);
    }
    const n = pixels.length / PIXELS;
    const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
    let y: tf.Tensor1D | undefined;
    let result: AttackResult | undefined;
    try {
      const cleanProbs = softmaxRows(m.deployed, x);
      const clean = cleanProbs.map(argmax);
      labels ??= clean; // a drawn digit: move the model away from what it sees
      y = tf.tensor1d(labels, "int32");
      const t0 = performance.now();
      const options = { eps: request.eps, seed: request.seed ?? 0 };
      if (request.attack === "fgsm") result = fgsm(m.deployed, x, y, options);
      else if (request.attack === "square") {
        result = square(m.deployed, x, y, { ...options, queries: request.queries ?? data.squareQueries });
      } else {
        const via = request.attack === "bpda-pgd" ? m.bpdaView! : m.deployed;
        result = pgd(via, x, y, { ...options, steps, stepSize: 2.5 * request.eps / Math.max(steps, 1) });
      }
      const ms = performance.now() - t0;
      // Judged on the deployed model (for BPDA the view's forward pass is the same, but say so in code).
      const advProbs = softmaxRows(m.deployed, result.adversarial);
      const adv = result.adversarial.dataSync() as Float32Array;
      const linf: number[] = [];
      for (let i = 0; i < n; i++) {
        let worst = 0;
        for (let p = i * PIXELS; p < (i + 1) * PIXELS; p++) {
          worst = Math.max(worst, Math.abs(adv[p] - pixels[p]));
        }
        linf.push(worst);
      }
      const original = pixels.slice(0, PIXELS);
      const first = adv.slice(0, PIXELS);
      return {
        backend,
        ms,
        labels,
        clean,
        adversarial: advProbs.map(argmax),
        cleanProbs,
        advProbs,
        linf,
        first: { original, adversarial: first, perturbation: first.map((v, p) => v - original[p]) },
      };
    } finally {
      x.dispose();
      y?.dispose();
      result?.adversarial.dispose();
    }
  };

  return {
    ready,
    backend: () => backend,
    models: () => data.models.map((m) => ({ id: m.id, name: m.name, hasBpda: m.quantizer !== undefined })),
    digitCount: () => data.digits.labels.length,
    run,
    tensors: () => tf.memory().numTensors,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The page

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground page: no element #${id}`);
  return el;
}

function paintGrey(canvas: HTMLCanvasElement, pixels: ArrayLike<number>): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  for (let p = 0; p < PIXELS; p++) {
    const v = Math.round(255 * (1 - Math.min(1, Math.max(0, pixels[p]))));
    img.data.set([v, v, v, 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

/** Perturbation: white at zero, red where a pixel got brighter (more ink), blue where it lost ink. */
function paintPerturbation(canvas: HTMLCanvasElement, delta: ArrayLike<number>, eps: number): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  const scale = eps > 0 ? eps : 1;
  for (let p = 0; p < PIXELS; p++) {
    const t = Math.min(1, Math.abs(delta[p]) / scale);
    const fade = Math.round(255 * (1 - t));
    img.data.set(delta[p] >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function probabilityBars(target: HTMLElement, before: number[], after: number[], label: number): void {
  target.replaceChildren();
  for (let k = 0; k < before.length; k++) {
    const row = document.createElement("div");
    row.className = "prob-row" + (k === label ? " is-label" : "");
    const name = document.createElement("span");
    name.className = "prob-class";
    name.textContent = String(k);
    row.append(name);
    for (const [kind, value] of [["before", before[k]], ["after", after[k]]] as const) {
      const track = document.createElement("span");
      track.className = `prob-track ${kind}`;
      const bar = document.createElement("span");
      bar.className = "prob-bar";
      bar.style.width = `${(100 * value).toFixed(1)}%`;
      track.append(bar);
      track.title = `${kind}: ${(100 * value).toFixed(1)}%`;
      row.append(track);
    }
    const pct = document.createElement("span");
    pct.className = "prob-pct";
    pct.textContent = `${(100 * before[k]).toFixed(0)} → ${(100 * after[k]).toFixed(0)}%`;
    row.append(pct);
    target.append(row);
  }
}

function setupDrawing(canvas: HTMLCanvasElement, onDone: (pixels: Float32Array) => void): () => void {
  const ink = new Float32Array(PIXELS);
  let drawing = false;
  const stamp = (event: PointerEvent) => {
    const box = canvas.getBoundingClientRect();
    const cx = ((event.clientX - box.left) / box.width) * 28;
    const cy = ((event.clientY - box.top) / box.height) * 28;
    for (let r = Math.floor(cy - 2); r <= Math.ceil(cy + 2); r++) {
      for (let c = Math.floor(cx - 2); c <= Math.ceil(cx + 2); c++) {
        if (r < 0 || r >= 28 || c < 0 || c >= 28) continue;
        const d2 = (r + 0.5 - cy) ** 2 + (c + 0.5 - cx) ** 2;
        ink[r * 28 + c] = Math.min(1, ink[r * 28 + c] + Math.exp(-d2 / 1.1));
      }
    }
    paintGrey(canvas, ink);
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    stamp(e);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drawing) stamp(e);
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    onDone(centred(ink));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  paintGrey(canvas, ink);
  return () => {
    ink.fill(0);
    paintGrey(canvas, ink);
  };
}

/** Shifts the drawing so that its centre of mass is the image centre, as MNIST's digits are. */
function centred(ink: Float32Array): Float32Array {
  let mass = 0, sr = 0, sc = 0;
  for (let p = 0; p < PIXELS; p++) {
    mass += ink[p];
    sr += ink[p] * Math.floor(p / 28);
    sc += ink[p] * (p % 28);
  }
  const out = new Float32Array(PIXELS);
  if (mass === 0) return out;
  const dr = Math.round(13.5 - sr / mass), dc = Math.round(13.5 - sc / mass);
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const r0 = r - dr, c0 = c - dc;
      if (r0 >= 0 && r0 < 28 && c0 >= 0 && c0 < 28) out[r * 28 + c] = ink[r0 * 28 + c0];
    }
  }
  return out;
}

function startPage(api: PlaygroundApi, data: PlaygroundData): void {
  const modelSelect = $("model") as HTMLSelectElement;
  const attackSelect = $("attack") as HTMLSelectElement;
  const eps = $("eps") as HTMLInputElement;
  const steps = $("steps") as HTMLInputElement;
  const queries = $("queries") as HTMLInputElement;
  const runButton = $("run") as HTMLButtonElement;
  const status = $("status");
  const digitsBox = $("digits");
  let selected: { digit?: number; image?: Float32Array } = { digit: 0 };

  for (const m of data.models) modelSelect.append(new Option(m.name, m.id));
  for (const [id, name] of Object.entries(ATTACKS)) attackSelect.append(new Option(name, id));
  eps.value = String(data.eps);
  steps.value = String(data.pgdSteps);
  queries.value = String(data.squareQueries);
  const describe = () => {
    const m = data.models.find((x) => x.id === modelSelect.value)!;
    $("model-note").textContent = m.description;
    const bpdaOption = attackSelect.querySelector<HTMLOptionElement>('option[value="bpda-pgd"]')!;
    bpdaOption.disabled = !m.quantizer;
    if (!m.quantizer && attackSelect.value === "bpda-pgd") attackSelect.value = "pgd";
    $("eps-value").textContent = Number(eps.value).toFixed(2);
    steps.disabled = !attackSelect.value.includes("pgd");
    queries.disabled = attackSelect.value !== "square";
  };

  const allPixels = decodeBase64(data.digits.pixels);
  data.digits.labels.forEach((label, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.dataset.digit = String(i);
    button.title = `test digit ${i} (label ${label})`;
    const c = document.createElement("canvas");
    c.width = c.height = 28;
    const px = allPixels.subarray(i * PIXELS, (i + 1) * PIXELS);
    paintGrey(c, Array.from(px, (v) => v / 255));
    button.append(c);
    button.addEventListener("click", () => {
      selected = { digit: i };
      markSelected(button);
      void attack();
    });
    digitsBox.append(button);
  });
  const markSelected = (el: HTMLElement | null) => {
    for (const b of digitsBox.querySelectorAll(".digit")) b.classList.toggle("selected", b === el);
    $("pad").classList.toggle("selected", el === null);
  };
  markSelected(digitsBox.querySelector(".digit"));

  const clear = setupDrawing($("pad") as HTMLCanvasElement, (pixels) => {
    selected = { image: pixels };
    markSelected(null);
    void attack();
  });
  $("clear").addEventListener("click", () => clear());

  // One attack at a time; a request made while one runs is served when it ends, with the settings of then.
  let busy = false, again = false;
  const attack = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    runButton.disabled = true;
    status.textContent = "attacking…";
    try {
      const request: RunRequest = {
        model: modelSelect.value,
        attack: attackSelect.value as AttackId,
        eps: Number(eps.value),
        steps: Number(steps.value),
        queries: Number(queries.value),
        ...(selected.image ? { image: selected.image } : { digits: [selected.digit ?? 0] }),
      };
      const r = await api.run(request);
      paintGrey($("view-original") as HTMLCanvasElement, r.first.original);
      paintGrey($("view-adversarial") as HTMLCanvasElement, r.first.adversarial);
      paintPerturbation($("view-perturbation") as HTMLCanvasElement, r.first.perturbation, request.eps);
      probabilityBars($("probs"), r.cleanProbs[0], r.advProbs[0], r.labels[0]);
      const name = request.attack === "fgsm"
        ? "FGSM"
        : request.attack === "square"
        ? `Square (${request.queries} queries)`
        : `${request.attack === "bpda-pgd" ? "BPDA " : ""}PGD-${request.steps}`;
      const changed = r.clean[0] !== r.adversarial[0];
      $("verdict").textContent = `${selected.image ? "drawn digit" : `label ${r.labels[0]}`}: predicted ` +
        `${r.clean[0]} before, ${r.adversarial[0]} after — ${
          changed ? "the attack changed the prediction" : "the prediction held"
        }`;
      $("verdict").className = changed ? "verdict changed" : "verdict held";
      $("timing").textContent =
        `${name} (eps ${request.eps.toFixed(2)}) on one image: ${r.ms.toFixed(0)} ms ` +
        `on the ${r.backend} backend; largest pixel change ${r.linf[0].toFixed(3)}`;
      status.textContent = "";
    } catch (error) {
      status.textContent = `error: ${(error as Error).message}`;
    } finally {
      busy = false;
      runButton.disabled = false;
      if (again) {
        again = false;
        void attack();
      }
    }
  };

  modelSelect.addEventListener("change", () => {
    describe();
    void attack();
  });
  attackSelect.addEventListener("change", () => {
    describe();
    void attack();
  });
  eps.addEventListener("input", describe);
  eps.addEventListener("change", () => void attack());
  runButton.addEventListener("click", async () => {
    await attack();
    // At a phone's width the result is below the settings: bring it into view.
    if (matchMedia("(max-width: 44rem)").matches) $("result").scrollIntoView({ behavior: "smooth" });
  });
  describe();

  const notes = $("notes");
  for (const note of data.notes) {
    const li = document.createElement("li");
    li.textContent = note;
    notes.append(li);
  }
  $("build-info").textContent = `Built at scale ${data.scale}, ${
    data.built.slice(0, 16).replace("T", " ")
  } UTC.`;

  api.ready.then(() => {
    $("backend").textContent = api.backend();
    document.body.dataset.ready = "true";
    return attack();
  }).catch((error) => {
    status.textContent = `the playground could not start: ${(error as Error).message}`;
    document.body.dataset.ready = "failed";
  });
}

const data = globalThis.ADVEX_PLAYGROUND;
if (!data) {
  document.body.dataset.ready = "failed";
  $("status").textContent = "playground/data.js is missing: rebuild the site";
} else {
  const api = createApi(data);
  globalThis.advexPlayground = api;
  startPage(api, data);
}
