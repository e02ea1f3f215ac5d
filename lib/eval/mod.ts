/** Evaluation: clean and robust accuracy, risks, accuracy versus epsilon. @module */
export * from "./autoattack.ts";
export * from "./cached.ts";
export * from "./evaluate.ts";
export * from "./robust.ts";
export * from "./sanity.ts";
export * from "./loss_surface.ts";
export * from "./transfer.ts";
