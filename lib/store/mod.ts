/** The artifact store: committed, verified, locked artifacts keyed by their specs. @module */
export * from "./key.ts";
export * from "./lock.ts";
export * from "./store.ts";
export * from "./unit.ts";
