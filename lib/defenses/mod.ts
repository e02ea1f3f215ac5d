/**
 * Defences that mask gradients and the means to see through them: input transforms (quantisation) with
 * BPDA's smooth backward pass, self-FGSM-trained models, and a look at the input gradient itself.
 * @module
 */
export * from "./bpda.ts";
export * from "./gradient_norm.ts";
export * from "./quantize.ts";
export * from "./single_step.ts";
export * from "./transform.ts";
