/** Datasets: IDX parsing, verified loading, subsets. @module */
export * from "./dataset.ts";
export * from "./idx.ts";
export * from "./file.ts";
export * from "./load.ts";
export * from "./sources.ts";
export * from "./spec.ts";
export * from "./subsets.ts";
export * from "./batches.ts";
