/** Result tables and result files for notebooks. @module */
export * from "./results.ts";
export * from "./table.ts";
export * from "./format.ts";
