/** Experiment configs (YAML, three scales) and the configuration-keyed cache. @module */
export * from "./load.ts";
export * from "./schema.ts";
export * from "./specs.ts";
