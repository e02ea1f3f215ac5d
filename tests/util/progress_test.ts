import { assertEquals } from "@std/assert";
import { createProgress } from "../../lib/util/progress.ts";

Deno.test("createProgress() in silent mode accepts updates and finishes", async () => {
  const p = createProgress({ label: "x", total: 10, mode: "silent" });
  for (let i = 1; i <= 10; i++) p.update(i, `step ${i}`);
  assertEquals(await p.finish(), undefined);
});
