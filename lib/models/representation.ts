/**
 * A model's representation: the activations of its penultimate layer (the features its last, linear layer
 * reads), as a differentiable function of the input. Ilyas et al. build their robust and non-robust datasets
 * by matching these features.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A map from a batch of images [N, H, W, C] to feature vectors [N, D]; differentiable in the images. */
export type Representation = (images: tf.Tensor4D) => tf.Tensor2D;

/** Options of {@linkcode representationOf}. */
export interface RepresentationOptions {
  /**
   * The layer whose output is the representation: a layer name, or an index into `model.layers` (negative
   * counts from the end). Default -2, the penultimate layer.
   */
  layer?: string | number;
}

/** The layer of `model` that `layer` names (default: the penultimate one). */
export function representationLayer(model: tf.LayersModel, layer: string | number = -2): tf.layers.Layer {
  const layers = model.layers;
  if (typeof layer === "string") {
    const found = layers.find((l) => l.name === layer);
    if (!found) {
      throw new RangeError(
        `representationLayer: model ${model.name} has no layer "${layer}"; it has ${
          layers.map((l) => l.name).join(", ")
        }`,
      );
    }
    return found;
  }
  const index = layer < 0 ? layers.length + layer : layer;
  if (!Number.isInteger(index) || index < 0 || index >= layers.length) {
    throw new RangeError(
      `representationLayer: layer index ${layer} is outside model ${model.name}'s ${layers.length} layers`,
    );
  }
  return layers[index];
}

/**
 * The model from the input of `model` to the output of one of its layers (default: the penultimate layer).
 * It shares its weights with `model`: do not dispose it separately (that would free `model`'s weights).
 */
export function representationModel(
  model: tf.LayersModel,
  options: RepresentationOptions = {},
): tf.LayersModel {
  const layer = representationLayer(model, options.layer ?? -2);
  const output = layer.output;
  if (Array.isArray(output)) {
    throw new RangeError(`representationModel: layer ${layer.name} has several outputs`);
  }
  return tf.model({ name: `${model.name}_features`, inputs: model.inputs, outputs: output });
}

/**
 * The representation of `model`: its penultimate-layer activations (or another layer's, flattened), in
 * inference mode. For the Madry CNN it is the dense ReLU layer of 64s units; for an MLP, the last hidden
 * layer; for the ResNet, the globally pooled features.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import { representationOf } from "./representation.ts";
 * declare const trained: { model: tf.LayersModel }, images: tf.Tensor4D;
 * const features = representationOf(trained.model);
 * const f = features(images); // [N, D]
 * ```
 */
export function representationOf(model: tf.LayersModel, options: RepresentationOptions = {}): Representation {
  const sub = representationModel(model, options);
  return (images) =>
    tf.tidy(() => {
      const out = sub.apply(images, { training: false }) as tf.Tensor;
      return (out.rank === 2 ? out : out.reshape([images.shape[0], -1])) as tf.Tensor2D;
    });
}

/** The number of features `model`'s representation has (its layer's output size per example). */
export function representationSize(model: tf.LayersModel, options: RepresentationOptions = {}): number {
  const layer = representationLayer(model, options.layer ?? -2);
  const shape = layer.outputShape as (number | null)[];
  return shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
}
