/** Evaluation: clean and robust accuracy, risks, accuracy versus epsilon. @module */
export * from "./evaluate.ts";
