/** Attacks written once against the threat models: FGSM/FGM, PGD, R+FGSM; transfer attacks. @module */
export * from "./common.ts";
export * from "./fgsm.ts";
export * from "./loss.ts";
export * from "./make.ts";
export * from "./pgd.ts";
export * from "./rfgsm.ts";
export * from "./threat.ts";
export * from "./types.ts";
export * from "./transfer.ts";
