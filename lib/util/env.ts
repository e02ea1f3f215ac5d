/** Reading environment variables. @module */

/** The value of environment variable `name`, or undefined when it is unset or Deno may not read it. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Thrown when an environment variable holds a value advex does not accept; the message lists the valid ones. */
export class EnvError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "EnvError";
  }
}

/**
 * The value of environment variable `name` when it is one of `choices` (compared after trimming), undefined
 * when unset or empty, and an {@linkcode EnvError} naming the variable and the valid values otherwise.
 */
export function readEnvChoice<T extends string>(name: string, choices: readonly T[]): T | undefined {
  const raw = readEnv(name);
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = raw.trim();
  if (!(choices as readonly string[]).includes(value)) {
    throw new EnvError(
      `${name}=${JSON.stringify(raw)} is not a valid value; use one of ${
        choices.map((c) => JSON.stringify(c)).join(", ")
      } (or leave it unset)`,
    );
  }
  return value as T;
}

/**
 * The value of environment variable `name` as a number of at least `min` (`inf` or `infinity` for no limit),
 * undefined when unset or empty, and an {@linkcode EnvError} otherwise.
 */
export function readEnvNumber(name: string, what: string, min = 0): number | undefined {
  const raw = readEnv(name);
  if (raw === undefined || raw.trim() === "") return undefined;
  const text = raw.trim().toLowerCase();
  const value = text === "inf" || text === "infinity" ? Infinity : Number(text);
  if (Number.isNaN(value) || value < min) {
    throw new EnvError(
      `${name}=${JSON.stringify(raw)} is not valid; expected ${what}: a number >= ${min}, or "inf"`,
    );
  }
  return value;
}
