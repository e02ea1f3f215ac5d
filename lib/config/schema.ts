/** The schema language, which lives in lib/util/schema.ts; re-exported here for the config modules. @module */
export * from "../util/schema.ts";
