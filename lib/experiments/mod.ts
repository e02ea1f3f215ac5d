/** Per-chapter settings schemas and the pieces that turn library results into each chapter's tables. @module */
export * from "./features.ts";
export * from "./gallery.ts";
export * from "./generalization.ts";
export * from "./regularization.ts";
export * from "./adversarial_training.ts";
export * from "./masking.ts";
export * from "./ensemble.ts";
export * from "./transferability.ts";
export * from "./pretrained.ts";
