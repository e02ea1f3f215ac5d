/** Reading environment variables. @module */

/** The value of environment variable `name`, or undefined when it is unset or Deno may not read it. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
