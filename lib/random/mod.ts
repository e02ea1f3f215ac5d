/** Seeded random sources. @module */
export * from "./prng.ts";
