/** Tests of the fingerprint of a site page's inputs (tools/site_inputs.ts). */

import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { codeFingerprint, pageInputs } from "../../tools/site_inputs.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "advex-site-inputs-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  return root;
}

Deno.test("site inputs: the code fingerprint follows every file's path and contents, nothing else", async () => {
  const root = await tree({ "lib/a.ts": "a", "lib/sub/b.ts": "b", "native/c.c": "c", "other/d.ts": "d" });
  try {
    const inputs = ["lib", "native", "deno.json"];
    const base = await codeFingerprint(root, inputs);
    assertEquals(base.length, 64);
    assertEquals(await codeFingerprint(root, inputs), base, "the same tree, the same fingerprint");
    await Deno.writeTextFile(`${root}/other/d.ts`, "changed");
    assertEquals(await codeFingerprint(root, inputs), base, "files outside the inputs do not count");

    await Deno.writeTextFile(`${root}/lib/sub/b.ts`, "b2");
    const edited = await codeFingerprint(root, inputs);
    assertNotEquals(edited, base, "an edited file under a folder");
    await Deno.writeTextFile(`${root}/lib/sub/b.ts`, "b");
    assertEquals(await codeFingerprint(root, inputs), base, "undoing the edit restores the fingerprint");

    await Deno.rename(`${root}/lib/sub/b.ts`, `${root}/lib/sub/b2.ts`);
    assertNotEquals(await codeFingerprint(root, inputs), base, "a renamed file");
    await Deno.rename(`${root}/lib/sub/b2.ts`, `${root}/lib/sub/b.ts`);

    await Deno.writeTextFile(`${root}/deno.json`, "");
    assertNotEquals(await codeFingerprint(root, inputs), base, "a new (even empty) file");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("site inputs: a page's fingerprint follows the scale, the notebook, its configs and the code", async () => {
  const root = await tree({ "nb/x.ipynb": "{}", "configs/x.yaml": "a: 1", "configs/y.yaml": "b: 2" });
  try {
    const nb = `${root}/nb/x.ipynb`;
    const configs = [`${root}/configs/x.yaml`, `${root}/configs/y.yaml`];
    const base = await pageInputs("full", nb, configs, "code1");
    assertEquals(await pageInputs("full", nb, configs, "code1"), base);
    const variants = [
      await pageInputs("course", nb, configs, "code1"),
      await pageInputs("full", nb, configs, "code2"),
      await pageInputs("full", nb, configs.slice(0, 1), "code1"),
    ];
    await Deno.writeTextFile(configs[1], "b: 3");
    variants.push(await pageInputs("full", nb, configs, "code1"));
    await Deno.writeTextFile(configs[1], "b: 2");
    await Deno.writeTextFile(nb, '{"cells": []}');
    variants.push(await pageInputs("full", nb, configs, "code1"));
    await Deno.remove(nb);
    variants.push(await pageInputs("full", nb, configs, "code1"));
    assertEquals(new Set([base, ...variants]).size, variants.length + 1, "every change gives another");
    assert(variants.every((v) => v.length === 64));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
