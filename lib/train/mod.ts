/** Training: optimizers, the minibatch loop with checkpoints and resume, cached training jobs. @module */
export * from "./cached.ts";
export * from "./optimizers.ts";
export * from "./train.ts";
export * from "./adversarial.ts";
export * from "./ensemble.ts";
