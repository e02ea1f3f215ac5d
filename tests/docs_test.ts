/**
 * The library's `@example` blocks are code: every one not marked `ignore` must type-check against the
 * library as it is (`deno check --doc lib/`, also part of `deno task check`).
 */
import { assert } from "@std/assert";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

Deno.test("every checked @example block under lib/ type-checks", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--doc", "lib/"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert(out.success, `deno check --doc lib/ failed:\n${text}`);
});

Deno.test("most @example blocks under lib/ are checked, not ignored", async () => {
  let checked = 0, ignored = 0;
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(p);
        checked += (text.match(/^\s*\* ```ts\s*$/gm) ?? []).length;
        ignored += (text.match(/^\s*\* ```ts ignore\s*$/gm) ?? []).length;
      }
    }
  };
  await walk(join(ROOT, "lib"));
  assert(checked >= 10 * ignored, `${checked} checked and ${ignored} ignored examples`);
});
