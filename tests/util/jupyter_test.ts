import { assertEquals } from "@std/assert";
import { kernelDisplay } from "../../lib/util/jupyter.ts";

Deno.test("kernelDisplay() returns undefined outside a Jupyter kernel without throwing", () => {
  assertEquals(kernelDisplay(), undefined);
});
