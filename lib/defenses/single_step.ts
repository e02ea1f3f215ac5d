/**
 * The second kind of gradient masking of lecture section 5.1: a model adversarially trained against its own
 * single-step attack (FGSM from the data point, no random start) at a large radius. Tramer et al. (2018)
 * observed that such a model learns to make its loss surface curve sharply around each training point, so
 * that the gradient at x points to a poor adversarial direction: FGSM at x finds little, while a random step
 * first (R+FGSM), an iterative attack, or examples transferred from another model find plenty.
 * @module
 */
import type { Norm } from "../attacks/threat.ts";
import type { TrainJob } from "../train/cached.ts";

/** Options of {@linkcode selfFgsmJob}. */
export interface SelfFgsmOptions {
  /** Radius of the training FGSM. */
  eps: number;
  /** Weight of the clean loss in Goodfellow et al.'s mixed objective. Default 0.5 (theirs and Tramer et al.'s). */
  alpha?: number;
  /** Norm of the ball. Default "linf". */
  norm?: Norm;
}

/**
 * `base` (a standard training job) turned into FGSM adversarial training against the model itself: each
 * minibatch is attacked with one gradient-sign step of `eps` from the data point, and the model trained on
 * alpha * J(x) + (1 - alpha) * J(x_adv).
 */
export function selfFgsmJob(base: TrainJob, options: SelfFgsmOptions): TrainJob {
  if (!(options.eps > 0)) throw new RangeError(`selfFgsmJob: eps must be > 0, got ${options.eps}`);
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha < 1)) {
    throw new RangeError(`selfFgsmJob: alpha must be in [0, 1) (1 is standard training), got ${alpha}`);
  }
  return {
    ...base,
    train: {
      ...base.train,
      adversarial: { attack: { kind: "fgsm", eps: options.eps, norm: options.norm ?? "linf" }, alpha },
    },
  };
}
