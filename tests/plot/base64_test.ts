import { assertEquals } from "@std/assert";
import { encodeBase64 } from "../../lib/plot/base64.ts";

Deno.test("encodeBase64() matches btoa for every padding length and for inputs past one chunk", () => {
  for (const n of [0, 1, 2, 3, 4, 5, 0x8000 + 7, 100_000]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    assertEquals(encodeBase64(bytes), btoa(binary), `length ${n}`);
  }
});
