import { assertEquals, assertRejects } from "@std/assert";
import { writeFileAtomic } from "../../lib/util/fs.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("writeFileAtomic() replaces the file and leaves no temporary file behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/a.svg`, "<svg>1</svg>");
    await writeFileAtomic(`${dir}/a.svg`, "<svg>2</svg>");
    await writeFileAtomic(`${dir}/b.bin`, new Uint8Array([1, 2, 3]));
    assertEquals(await Deno.readTextFile(`${dir}/a.svg`), "<svg>2</svg>");
    assertEquals(await Deno.readFile(`${dir}/b.bin`), new Uint8Array([1, 2, 3]));
    assertEquals(await names(dir), ["a.svg", "b.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() creates missing folders", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/x/y/fig.svg`, "<svg/>");
    assertEquals(await Deno.readTextFile(`${dir}/x/y/fig.svg`), "<svg/>");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() fails without leaving a temporary file when the target is a folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/taken`);
    await assertRejects(() => writeFileAtomic(`${dir}/taken`, "x"));
    await assertRejects(() => writeFileAtomic(`${dir}/`, "x"), Error, "names a folder");
    assertEquals(await names(dir), ["taken"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
