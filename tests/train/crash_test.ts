/**
 * Crash safety of cached training, tested the hard way: child processes (tests/train/_crash_child.ts) train
 * one small job with a checkpoint after every step and are killed with SIGKILL at seeded random moments;
 * each is resumed by the next, and the final weights must equal those of an uninterrupted run byte for
 * byte. Two processes started together on one job must yield one correct model, trained once.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { createPrng } from "../../lib/random/mod.ts";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;

interface ChildResult {
  sha256: string;
  fromCache: boolean;
  resumedFrom: number;
  steps: number;
  key: string;
}

/** Starts a child on cache folder `cache`; `ready` resolves when it starts training, `done` with its result. */
function startChild(cache: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", CHILD],
    env: { ADVEX_CACHE_DIR: cache, ADVEX_PROGRESS: "silent", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      out += decoder.decode(chunk, { stream: true });
      if (out.includes("ready\n")) markReady();
    }
  })();
  const errText = new Response(child.stderr).text();
  const state = { finished: false };
  const done = (async () => {
    const status = await child.status;
    state.finished = true;
    await reading;
    markReady();
    const line = out.split("\n").find((l) => l.startsWith("{"));
    return {
      status,
      stderr: await errText,
      result: line ? JSON.parse(line) as ChildResult : undefined,
    };
  })();
  return {
    child,
    ready,
    done,
    get finished() {
      return state.finished;
    },
  };
}

async function scratchFolders(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".tmp.") || e.name.startsWith(".trash.")) found.push(join(dir, e.name));
      else if (e.isDirectory) await walk(join(dir, e.name));
    }
  };
  await walk(root);
  return found;
}

Deno.test("cached training killed 20+ times at random moments resumes to the same weights, byte for byte", async () => {
  const reference = await Deno.makeTempDir({ prefix: "advex-crash-ref-" });
  const crashed = await Deno.makeTempDir({ prefix: "advex-crash-" });
  try {
    const t0 = performance.now();
    const straight = startChild(reference);
    await straight.ready;
    const tReady = performance.now();
    // The time from "ready" to the first committed checkpoint: what a run spends before it makes progress.
    let firstCheckpoint: number | undefined;
    const watching = (async () => {
      const dir = join(reference, "v2", "checkpoints");
      while (firstCheckpoint === undefined && !straight.finished) {
        const units = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
        for (const u of units) {
          const inner = await Array.fromAsync(Deno.readDir(join(dir, u.name))).catch(() => []);
          if (inner.some((e) => e.name.startsWith("unit-"))) firstCheckpoint = performance.now() - tReady;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const ref = await straight.done;
    await watching;
    const trainMs = performance.now() - tReady;
    const overheadMs = Math.min(firstCheckpoint ?? 0, trainMs / 2);
    assert(ref.status.success && ref.result, `reference run failed: ${ref.stderr}`);
    assertEquals([ref.result.fromCache, ref.result.resumedFrom, ref.result.steps], [false, 0, 96]);
    console.log(
      `reference: ${(performance.now() - t0).toFixed(0)} ms, training ${trainMs.toFixed(0)} ms, ` +
        `${overheadMs.toFixed(0)} ms of it before the first checkpoint`,
    );

    // Kill at moments drawn so that, past each run's start-up, the 30 runs together cover about a third of the
    // reference's training time.
    const prng = createPrng(20261202);
    const planned = 30;
    let kills = 0;
    let midWrite = 0;
    let finishedRun: { status: Deno.CommandStatus; stderr: string; result?: ChildResult } | undefined;
    for (let i = 0; i < planned; i++) {
      const run = startChild(crashed);
      await run.ready;
      const delay = overheadMs + prng.next() * 0.6 * (trainMs - overheadMs) / planned;
      await new Promise((r) => setTimeout(r, delay));
      try {
        run.child.kill("SIGKILL");
      } catch {
        // It had already exited.
      }
      const end = await run.done;
      if (end.result) { // it finished before its kill: it is the run that completes the job
        finishedRun = end;
        break;
      }
      assertEquals(end.status.signal, "SIGKILL", end.stderr);
      kills++;
      if ((await scratchFolders(join(crashed, "v2"))).length > 0) midWrite++;
    }
    console.log(`${kills} kills, ${midWrite} of them left a half-written unit behind`);
    assert(kills >= 20, `only ${kills} kills landed before the run finished`);
    // A run that printed its result had committed the model (a kill just after it does not matter).
    const last = finishedRun ?? await startChild(crashed).done;
    assert(last.result && (last === finishedRun || last.status.success), `final run failed: ${last.stderr}`);
    assertEquals(last.result.fromCache, false);
    assert(last.result.resumedFrom > 0, "the final run resumed from a checkpoint");
    assertEquals(last.result.sha256, ref.result.sha256, "resumed weights equal the uninterrupted run's");
    assertEquals(last.result.key, ref.result.key);
    // Finished: no checkpoints kept, nothing half-written left.
    assertEquals(await Array.fromAsync(Deno.readDir(join(crashed, "v2", "checkpoints"))), []);
    assertEquals(await scratchFolders(join(crashed, "v2")), []);
    const again = await startChild(crashed).done;
    assertEquals([again.result?.fromCache, again.result?.sha256], [true, ref.result.sha256]);
  } finally {
    await Deno.remove(reference, { recursive: true });
    await Deno.remove(crashed, { recursive: true });
  }
});

Deno.test("two processes started on one job yield one correct model, trained once", async () => {
  const reference = await Deno.makeTempDir({ prefix: "advex-pair-ref-" });
  const shared = await Deno.makeTempDir({ prefix: "advex-pair-" });
  try {
    const ref = await startChild(reference).done;
    assert(ref.result, ref.stderr);
    const [a, b] = await Promise.all([startChild(shared).done, startChild(shared).done]);
    assert(a.status.success && a.result, a.stderr);
    assert(b.status.success && b.result, b.stderr);
    assertEquals([a.result.sha256, b.result.sha256], [ref.result.sha256, ref.result.sha256]);
    assertEquals([a.result.fromCache, b.result.fromCache].sort(), [false, true], "exactly one trained");
    const waiter = a.result.fromCache ? a : b;
    if (waiter.stderr.includes("waiting")) assert(/process \d+ on /.test(waiter.stderr), waiter.stderr);
    assertEquals((await Array.fromAsync(Deno.readDir(join(shared, "v2", "models")))).length, 1);
  } finally {
    await Deno.remove(reference, { recursive: true });
    await Deno.remove(shared, { recursive: true });
  }
});
