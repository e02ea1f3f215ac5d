/**
 * A small schema language for experiment configs, so that an unknown key or a wrong type in a YAML file is
 * a clear error naming the file, the key's path and what was expected.
 * @module
 */

/** Thrown for a config that does not match its schema. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A schema: validates `value` at `path` and returns it typed, with defaults filled in. */
export interface Schema<T> {
  readonly describe: string;
  validate(value: unknown, path: string): T;
}

/** The type a schema validates to. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

function fail(path: string, expected: string, got: unknown): never {
  throw new ConfigError(`${path || "(top level)"}: expected ${expected}, got ${show(got)}`);
}

/** A number, optionally bounded. */
export function num(opts: { min?: number; max?: number } = {}): Schema<number> {
  const range = opts.min !== undefined || opts.max !== undefined
    ? ` in [${opts.min ?? "-inf"}, ${opts.max ?? "inf"}]`
    : "";
  return {
    describe: `a number${range}`,
    validate(v, path) {
      if (typeof v !== "number" || !Number.isFinite(v)) fail(path, this.describe, v);
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
        fail(path, this.describe, v);
      }
      return v;
    },
  };
}

/** An integer, optionally bounded. */
export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const inner = num(opts);
  return {
    describe: inner.describe.replace("a number", "an integer"),
    validate(v, path) {
      if (typeof v !== "number" || !Number.isInteger(v)) fail(path, this.describe, v);
      return inner.validate(v, path);
    },
  };
}

/** A boolean. */
export function bool(): Schema<boolean> {
  return {
    describe: "true or false",
    validate(v, path) {
      if (typeof v !== "boolean") fail(path, this.describe, v);
      return v;
    },
  };
}

/** A string, optionally one of `choices`. */
export function str<const C extends string>(choices?: readonly C[]): Schema<C> {
  return {
    describe: choices ? `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}` : "a string",
    validate(v, path) {
      if (typeof v !== "string" || (choices && !choices.includes(v as C))) fail(path, this.describe, v);
      return v as C;
    },
  };
}

/** A list of items, optionally of bounded length. */
export function list<T>(item: Schema<T>, opts: { minLength?: number } = {}): Schema<T[]> {
  return {
    describe: `a list of ${item.describe}`,
    validate(v, path) {
      if (!Array.isArray(v)) fail(path, this.describe, v);
      if (opts.minLength !== undefined && v.length < opts.minLength) {
        throw new ConfigError(`${path}: expected at least ${opts.minLength} items, got ${v.length}`);
      }
      return v.map((x, i) => item.validate(x, `${path}[${i}]`));
    },
  };
}

/** Marks a field optional, with a default used when it is absent. */
export function optional<T>(inner: Schema<T>, fallback: T): Schema<T> & { optional: true } {
  return {
    optional: true,
    describe: inner.describe,
    validate(v, path) {
      return v === undefined || v === null ? structuredClone(fallback) : inner.validate(v, path);
    },
  };
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** A mapping with exactly the given fields: unknown keys are errors (with a suggestion), missing ones too. */
export function obj<F extends Record<string, Schema<unknown>>>(
  fields: F,
): Schema<{ [K in keyof F]: Infer<F[K]> }> {
  return {
    describe: "a mapping",
    validate(v, path) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, this.describe, v);
      const rec = v as Record<string, unknown>;
      const known = Object.keys(fields);
      for (const key of Object.keys(rec)) {
        if (!(key in fields)) {
          const close = known.filter((k) => editDistance(k, key) <= 2);
          const hint = close.length ? ` (did you mean ${close.map((k) => `"${k}"`).join(" or ")}?)` : "";
          throw new ConfigError(
            `${path ? path + "." : ""}${key}: unknown key${hint}; allowed keys here: ${known.join(", ")}`,
          );
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(fields)) {
        const sub = path ? `${path}.${key}` : key;
        if (!(key in rec) && !("optional" in schema)) {
          throw new ConfigError(`${sub}: missing (${schema.describe})`);
        }
        out[key] = schema.validate(rec[key], sub);
      }
      return out as { [K in keyof F]: Infer<F[K]> };
    },
  };
}
