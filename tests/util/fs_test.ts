import { assertEquals } from "@std/assert";
import { join } from "node:path";
import { exists, writeFileAtomic } from "../../lib/util/fs.ts";

Deno.test("writeFileAtomic() replaces the file whole and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "a.json");
    await writeFileAtomic(path, JSON.stringify({ v: 1 }));
    await writeFileAtomic(path, JSON.stringify({ v: 2 }));
    assertEquals(JSON.parse(await Deno.readTextFile(path)), { v: 2 });
    const names = [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name);
    assertEquals(names, ["a.json"]);
    assertEquals(await exists(join(dir, "missing.json")), false);
    assertEquals(await exists(path), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
