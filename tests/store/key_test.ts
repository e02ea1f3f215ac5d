import { assertEquals, assertNotEquals } from "@std/assert";
import { canonicalJson, specKey as configKey } from "../../lib/store/key.ts";

Deno.test("specKey() ignores key order and changes with any value", async () => {
  const a = await configKey({ model: { kind: "mlp", hidden: [64] }, seed: 1 });
  const b = await configKey({ seed: 1, model: { hidden: [64], kind: "mlp" } });
  assertEquals(a, b);
  assertEquals(a.length, 16);
  assertNotEquals(a, await configKey({ seed: 2, model: { hidden: [64], kind: "mlp" } }));
  assertNotEquals(a, await configKey({ seed: 1, model: { hidden: [65], kind: "mlp" } }));
});

Deno.test("canonicalJson() sorts nested keys and keeps arrays in order", () => {
  assertEquals(canonicalJson({ b: 1, a: { d: [2, 1], c: 0 } }), `{"a":{"c":0,"d":[2,1]},"b":1}`);
});
