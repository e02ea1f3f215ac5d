/**
 * Attacks written once against the threat models: FGSM/FGM, PGD, R+FGSM; their registry of kinds, the
 * input checks they share; transfer attacks.
 * @module
 */
export * from "./apgd.ts";
export * from "./common.ts";
export * from "./dlr.ts";
export * from "./fab.ts";
export * from "./fgsm.ts";
export * from "./loss.ts";
export * from "./make.ts";
export * from "./pgd.ts";
export * from "./registry.ts";
export * from "./rfgsm.ts";
export * from "./square.ts";
export * from "./threat.ts";
export * from "./types.ts";
export * from "./validate.ts";
