/** Checks on the names a config gives its parts. @module */

/** Throws a RangeError naming the first name of `names` that occurs twice (`where`: the caller, `what`: the kind). */
export function assertUniqueNames(names: readonly string[], where: string, what: string): void {
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) {
    throw new RangeError(`${where}: the ${what} name ${JSON.stringify(dup)} is used twice`);
  }
}
