import { assert, assertEquals, assertRejects } from "@std/assert";
import { buildInChunks, type ChunkBuilder } from "../../lib/datasets/mod.ts";

const shape: [number, number, number] = [2, 2, 1];
const classes = ["a", "b", "c"];

/** A deterministic builder that records which chunks it built. */
function builder(calls: number[]): ChunkBuilder {
  return (start, end, chunk, progress) => {
    calls.push(chunk);
    const images = Float32Array.from({ length: (end - start) * 4 }, (_, i) => ((start * 4 + i) % 9) / 8);
    const labels = Int32Array.from({ length: end - start }, (_, i) => (start + i) % 3);
    progress(end - start);
    return Promise.resolve({ images, labels, columns: { index: Array.from(labels, (_, i) => start + i) } });
  };
}

function options(dir: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    name: "toy",
    shape,
    classes,
    total: 23,
    chunkSize: 5,
    dir,
    config: { k: 1 },
    progress: "silent" as const,
    ...extra,
  };
}

Deno.test("buildInChunks() resumed after an interruption equals an uninterrupted build", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const whole = await buildInChunks(options(undefined), builder([]));
    const first: number[] = [];
    const part = await buildInChunks(options(dir, { stopAfterChunks: 2 }), builder(first));
    assertEquals(first, [0, 1]);
    assertEquals(part.finished, false);
    assertEquals(part.dataset.labels.length, 10);
    const second: number[] = [];
    const rest = await buildInChunks(options(dir), builder(second));
    assertEquals(second, [2, 3, 4], "only the missing chunks are built");
    assertEquals(rest.resumedFrom, 2);
    assert(rest.finished && !rest.fromCache);
    assertEquals(Array.from(rest.dataset.images), Array.from(whole.dataset.images));
    assertEquals(Array.from(rest.dataset.labels), Array.from(whole.dataset.labels));
    assertEquals(Array.from(rest.columns.index), Array.from({ length: 23 }, (_, i) => i));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.partial`, { recursive: true }).catch(() => {});
  }
});

Deno.test("buildInChunks() loads a finished construction without building anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const built = await buildInChunks(options(dir), builder([]));
    const calls: number[] = [];
    const again = await buildInChunks(options(dir), builder(calls));
    assertEquals(calls, []);
    assert(again.fromCache && again.finished);
    assertEquals(Array.from(again.dataset.images), Array.from(built.dataset.images));
    assertEquals(Array.from(again.columns.index), Array.from(built.columns.index));
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assertEquals(left.sort(), ["dataset.ds", "manifest.json"], "chunk files are removed once assembled");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.partial`, { recursive: true }).catch(() => {});
  }
});

Deno.test("buildInChunks() refuses a folder that holds a construction with other settings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await buildInChunks(options(dir, { stopAfterChunks: 1 }), builder([]));
    await assertRejects(
      () => buildInChunks(options(dir, { config: { k: 2 } }), builder([])),
      Error,
      "other settings",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.partial`, { recursive: true }).catch(() => {});
  }
});

Deno.test("buildInChunks() rejects a chunk of the wrong size", async () => {
  await assertRejects(
    () =>
      buildInChunks(
        options(undefined),
        () => Promise.resolve({ images: new Float32Array(4), labels: new Int32Array(1) }),
      ),
    RangeError,
    "chunk 0",
  );
});
