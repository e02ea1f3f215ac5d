import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "node:path";
import {
  artifactRef,
  CacheDirError,
  checkpointSlots,
  commitArtifact,
  commitUnit,
  CorruptUnitError,
  loadArtifact,
  loadUnit,
  LockTimeoutError,
  removeStaleTemps,
  withLock,
} from "../../lib/store/mod.ts";
import { EnvError, readEnvChoice, readEnvNumber } from "../../lib/util/env.ts";

async function withCache<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "advex-store-" });
  const old = Deno.env.get("ADVEX_CACHE_DIR");
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    return await fn(dir);
  } finally {
    if (old === undefined) Deno.env.delete("ADVEX_CACHE_DIR");
    else Deno.env.set("ADVEX_CACHE_DIR", old);
    await Deno.chmod(dir, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Flips one bit of byte `at` of `path` (rewriting the file whole, as a disk error would leave it). */
async function flipByte(path: string, at = 3): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[Math.min(at, bytes.length - 1)] ^= 0x10;
  await Deno.writeFile(path, bytes);
}

Deno.test("commitUnit() commits all files with a manifest, and loadUnit() reads them back verified", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = join(root, "unit");
    await commitUnit(dir, { "a.bin": new Uint8Array([1, 2, 3]), "b.json": '{"x":1}' }, { kind: "test" });
    const unit = (await loadUnit(dir))!;
    assertEquals(Array.from(unit.files.get("a.bin")!), [1, 2, 3]);
    assertEquals(new TextDecoder().decode(unit.files.get("b.json")), '{"x":1}');
    assertEquals(Object.keys(unit.manifest.files).sort(), ["a.bin", "b.json"]);
    assertEquals((await Array.fromAsync(Deno.readDir(root))).map((e) => e.name), ["unit"]);
    await assertRejects(
      () => commitUnit(dir, { "a.bin": "other" }, { kind: "test" }),
      Error,
      "already exists",
    );
    await commitUnit(dir, { "c.bin": "new" }, { kind: "test", replace: true });
    assertEquals([...(await loadUnit(dir))!.files.keys()], ["c.bin"]);
    assertEquals(await loadUnit(join(root, "absent")), undefined);
    await assertRejects(() => commitUnit(join(root, "x"), { "../y": "" }, { kind: "test" }), RangeError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadUnit() refuses a partial, edited, truncated or extended unit and names the file", async () => {
  const root = await Deno.makeTempDir();
  try {
    const make = async (name: string) => {
      const dir = join(root, name);
      await commitUnit(dir, { "w.bin": new Uint8Array(64).fill(7), "s.json": '{"step":5}' }, { kind: "t" });
      return dir;
    };
    const flipped = await make("flipped");
    await flipByte(join(flipped, "w.bin"), 10);
    const e1 = await assertRejects(() => loadUnit(flipped), CorruptUnitError, "SHA-256");
    assertEquals(e1.path, join(flipped, "w.bin"));
    const edited = await make("edited");
    await Deno.writeTextFile(join(edited, "s.json"), '{"step":9}');
    await assertRejects(() => loadUnit(edited), CorruptUnitError, join(edited, "s.json"));
    const truncated = await make("truncated");
    await Deno.truncate(join(truncated, "w.bin"), 10);
    await assertRejects(() => loadUnit(truncated), CorruptUnitError, "10 bytes");
    const partial = await make("partial");
    await Deno.remove(join(partial, "manifest.json"));
    await assertRejects(() => loadUnit(partial), CorruptUnitError, "partial");
    const badManifest = await make("bad-manifest");
    await Deno.writeTextFile(join(badManifest, "manifest.json"), '{"version": 1, "fi');
    await assertRejects(() => loadUnit(badManifest), CorruptUnitError, join(badManifest, "manifest.json"));
    const extra = await make("extra");
    await Deno.writeTextFile(join(extra, "stray.tmp"), "x");
    await assertRejects(() => loadUnit(extra), CorruptUnitError, "does not list");
    const missing = await make("missing");
    await Deno.remove(join(missing, "w.bin"));
    await assertRejects(() => loadUnit(missing), CorruptUnitError, "missing");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a corrupt artifact is reported with its path, removed and not used; a fresh one commits again", async () => {
  await withCache(async () => {
    for (const kind of ["models", "datasets", "onnx", "results"] as const) {
      const ref = await artifactRef(kind, { kind, n: 1 });
      await commitArtifact(ref, { "data.bin": new Uint8Array(256).fill(1) });
      assert(await loadArtifact(ref), kind);
      await flipByte(join(ref.dir, "data.bin"), 100);
      const messages: string[] = [];
      const error = console.error;
      console.error = (m: string) => messages.push(m);
      try {
        assertEquals(await loadArtifact(ref), undefined, kind);
      } finally {
        console.error = error;
      }
      assertStringIncludes(messages.join("\n"), join(ref.dir, "data.bin"));
      assertStringIncludes(messages.join("\n"), "rebuilt");
      assertEquals(await loadUnit(ref.dir), undefined, `${kind}: removed`);
      await commitArtifact(ref, { "data.bin": new Uint8Array(256).fill(2) });
      assertEquals((await loadArtifact(ref))!.files.get("data.bin")![0], 2);
    }
  });
});

Deno.test("checkpoint slots keep the newest valid unit; a corrupt newest one falls back to the one before", async () => {
  await withCache(async () => {
    const ref = await artifactRef("models", { job: "ckpt" });
    const slots = checkpointSlots(ref);
    assertEquals(await slots.latest(), undefined);
    await slots.commit(1, { "state.json": '{"step":1}' }, true);
    await slots.commit(2, { "state.json": '{"step":2}' }, false);
    assertEquals((await slots.latest())!.index, 2);
    await flipByte(join(slots.dir, "unit-000000002", "state.json"), 9);
    const error = console.error;
    console.error = () => {};
    try {
      assertEquals((await slots.latest())!.index, 1);
    } finally {
      console.error = error;
    }
    await slots.commit(3, { "state.json": '{"step":3}' }, true);
    assertEquals((await Array.fromAsync(Deno.readDir(slots.dir))).map((e) => e.name), ["unit-000000003"]);
    await slots.clear();
    assertEquals(await slots.latest(), undefined);
  });
});

Deno.test("removeStaleTemps() removes the scratch folders of dead processes only", async () => {
  const root = await Deno.makeTempDir();
  try {
    const host = Deno.hostname().replace(/[^A-Za-z0-9_-]/g, "_");
    const dead = join(root, `.tmp.unit.${host}.999999999.abc`);
    const alive = join(root, `.tmp.unit.${host}.${Deno.pid}.abc`);
    const trash = join(root, `.trash.unit.${host}.999999998.k2`);
    for (const d of [dead, alive, trash]) await Deno.mkdir(d);
    await Deno.writeFile(join(dead, "optimizer.bin"), new Uint8Array(262_144));
    const removed = await removeStaleTemps(root);
    assertEquals(removed.sort(), [dead, trash].sort());
    assertEquals((await Array.fromAsync(Deno.readDir(root))).map((e) => e.name), [
      `.tmp.unit.${host}.${Deno.pid}.abc`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("withLock() runs one holder at a time and a waiter that times out names the holder", async () => {
  const root = await Deno.makeTempDir();
  try {
    const path = join(root, "job.lock");
    const order: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const first = withLock(path, { what: "train job A" }, async () => {
      order.push("first in");
      await held;
      order.push("first out");
    });
    await new Promise((r) => setTimeout(r, 50));
    const e = await assertRejects(
      () =>
        withLock(path, { what: "train job A", timeoutMs: 100, onWait: () => {} }, () => Promise.resolve()),
      LockTimeoutError,
      `process ${Deno.pid}`,
    );
    assertStringIncludes(e.message, "ADVEX_LOCK_TIMEOUT");
    const waits: string[] = [];
    const second = withLock(path, { what: "train job A", onWait: (m) => waits.push(m), pollMs: 10 }, () => {
      order.push("second");
      return Promise.resolve();
    });
    await new Promise((r) => setTimeout(r, 60));
    release();
    await Promise.all([first, second]);
    assertEquals(order, ["first in", "first out", "second"]);
    assertEquals(waits.length, 1);
    assertStringIncludes(waits[0], "waiting, because train job A is running in process");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a read-only cache folder is an error that names ADVEX_CACHE_DIR", async () => {
  if (Deno.uid() === 0) {
    // root writes through permission bits: point the cache below a file instead, which no one can write.
    await withCache(async (dir) => {
      const file = join(dir, "not-a-folder");
      await Deno.writeTextFile(file, "");
      Deno.env.set("ADVEX_CACHE_DIR", join(file, "cache"));
      const ref = await artifactRef("results", { x: 1 });
      const e = await assertRejects(() => commitArtifact(ref, { "a": "b" }), CacheDirError);
      assertStringIncludes(e.message, `ADVEX_CACHE_DIR=${join(file, "cache")}`);
      Deno.env.set("ADVEX_CACHE_DIR", dir);
    });
  }
  await withCache(async (dir) => {
    const ro = join(dir, "ro");
    await Deno.mkdir(ro);
    await Deno.chmod(ro, 0o555);
    Deno.env.set("ADVEX_CACHE_DIR", ro);
    const ref = await artifactRef("results", { x: 1 });
    if (Deno.uid() !== 0) {
      const e = await assertRejects(() => commitArtifact(ref, { "a": "b" }), CacheDirError);
      assertStringIncludes(e.message, `ADVEX_CACHE_DIR=${ro}`);
    }
    Deno.env.set("ADVEX_CACHE_DIR", dir);
  });
});

Deno.test("environment variables with bad values are errors that list the valid ones", () => {
  Deno.env.set("ADVEX_TEST_CHOICE", "bogus");
  Deno.env.set("ADVEX_TEST_NUMBER", "-3");
  try {
    const e = assertThrows(() => readEnvChoice("ADVEX_TEST_CHOICE", ["auto", "silent"]), EnvError);
    assertStringIncludes(e.message, 'ADVEX_TEST_CHOICE="bogus"');
    assertStringIncludes(e.message, '"auto", "silent"');
    assertThrows(() => readEnvNumber("ADVEX_TEST_NUMBER", "seconds"), EnvError, "a number >= 0");
    Deno.env.set("ADVEX_TEST_CHOICE", " silent ");
    assertEquals(readEnvChoice("ADVEX_TEST_CHOICE", ["auto", "silent"]), "silent");
    Deno.env.set("ADVEX_TEST_NUMBER", "inf");
    assertEquals(readEnvNumber("ADVEX_TEST_NUMBER", "seconds"), Infinity);
  } finally {
    Deno.env.delete("ADVEX_TEST_CHOICE");
    Deno.env.delete("ADVEX_TEST_NUMBER");
  }
  assertEquals(readEnvChoice("ADVEX_TEST_CHOICE", ["a"]), undefined);
});
