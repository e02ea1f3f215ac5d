/**
 * The shape of `site/playground/data.js`, which the site build writes (tools/site_playground.ts) and the
 * playground page reads (tools/playground/main.ts): the exported models in tfjs layers format, with their
 * weights in base64, and the test digits.
 * @module
 */

/** The input quantiser of chapter 4's defence, in front of a model. */
export interface QuantizerData {
  levels: number;
  /** BPDA's surrogate: the soft staircase (true) or the identity (false). */
  softSurrogate: boolean;
  temperature: number;
}

/** One exported model. */
export interface PlaygroundModelData {
  id: string;
  /** A short name for the model menu. */
  name: string;
  /** One or two sentences: where it comes from and how it was trained. */
  description: string;
  /** The tfjs layers topology (`model.json`'s `modelTopology`). */
  topology: unknown;
  /** The weight manifest entries (`model.json`'s `weightsManifest[0].weights`). */
  weightSpecs: unknown[];
  /** `weights.bin`, base64. */
  weights: string;
  /** Present for the quantised defence: the deployed model is `network(quantize(x))`. */
  quantizer?: QuantizerData;
}

/** Everything the page needs, as `globalThis.ADVEX_PLAYGROUND`. */
export interface PlaygroundData {
  scale: string;
  /** ISO time of the build. */
  built: string;
  /** Default radius of the eps slider. */
  eps: number;
  /** Default PGD steps. */
  pgdSteps: number;
  /** Default model queries per image of the Square attack. */
  squareQueries: number;
  digits: {
    /** Labels of the exported test digits. */
    labels: number[];
    /** Their pixels as bytes (0-255, 784 per digit), base64. */
    pixels: string;
  };
  models: PlaygroundModelData[];
  /** Sentences shown under the playground (e.g. how a model differs from its chapter's at this scale). */
  notes: string[];
}
