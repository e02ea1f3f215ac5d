/**
 * Side-by-side pictures of attacks: for a few test images, the clean image, each attack's adversarial image
 * and its perturbation, captioned with the model's prediction.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AttackSpec, describeAttack, makeAttack } from "../attacks/make.ts";
import { predictLabels } from "../attacks/loss.ts";
import { type Dataset, imagesTensor, labelsTensor, take } from "../data/dataset.ts";
import type { Classifier } from "../models/classifier.ts";
import type { ImageRow } from "../plot/images.ts";

/** Rows for `imageGrid`: clean images, then per attack the adversarial images and the perturbations. */
export function adversarialGallery(
  model: Classifier,
  data: Dataset,
  indices: number[],
  attacks: AttackSpec[],
  seed = 0,
): ImageRow[] {
  const shown = take(data, indices);
  const x = imagesTensor(shown);
  const y = labelsTensor(shown);
  const name = (c: number) => shown.classes[c];
  const per = shown.shape[0] * shown.shape[1] * shown.shape[2];
  const split = (values: Float32Array) =>
    Array.from({ length: indices.length }, (_, i) => values.slice(i * per, (i + 1) * per));
  const clean = predictLabels(model, x);
  const rows: ImageRow[] = [{
    label: "clean",
    images: split(shown.images),
    captions: Array.from(clean, (p, i) => `${name(shown.labels[i])} → ${name(p)}`),
  }];
  attacks.forEach((spec, k) => {
    const r = makeAttack(spec, seed + k)(model, x, y);
    const delta = tf.sub(r.adversarial, x);
    rows.push({
      label: describeAttack(spec),
      images: split(r.adversarial.dataSync() as Float32Array),
      captions: Array.from(r.predictions, (p, i) => `${name(shown.labels[i])} → ${name(p)}`),
    });
    rows.push({
      label: `${spec.kind.toUpperCase()} perturbation`,
      images: split(delta.dataSync() as Float32Array),
      kind: "diverging",
    });
    tf.dispose([r.adversarial, delta]);
  });
  tf.dispose([x, y]);
  return rows;
}
