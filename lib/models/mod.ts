/** Models: builders, the classifier-as-function view, weight files. @module */
export * from "./build.ts";
export * from "./classifier.ts";
export * from "./weights.ts";
