/** Per-chapter settings schemas and the pieces that turn library results into each chapter's tables. @module */
export * from "./gallery.ts";
export * from "./generalization.ts";
