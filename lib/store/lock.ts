/**
 * One job at a time: an exclusive OS file lock (flock) per job, held while the job runs. The lock file
 * records its holder (pid, host, start time, what it does), so that a second process on the same job can say
 * who it waits for. The operating system releases the lock when its holder exits or is killed, so a lock
 * never outlives its process; a lock file naming a process that is gone is only a stale note, overwritten by
 * the next holder.
 * @module
 */
import { dirname } from "node:path";
import { host, processAlive } from "./unit.ts";

/** Who holds a lock, as written into its lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What the holder does, e.g. "train models/0123abcd". */
  what: string;
}

/** Thrown when a lock was not free within the time allowed. */
export class LockTimeoutError extends Error {
  constructor(message: string, readonly holder?: LockHolder) {
    super(message);
    this.name = "LockTimeoutError";
  }
}

/** Options of {@linkcode withLock}. */
export interface LockOptions {
  /** What the holder does, recorded in the lock file and shown to waiters. */
  what: string;
  /** Milliseconds to wait for a busy lock: 0 fails at once, Infinity (default) waits as long as it takes. */
  timeoutMs?: number;
  /** Told once when the lock is busy, and then every `notifyEveryMs`. Default: a line on stderr. */
  onWait?: (message: string) => void;
  /** Milliseconds between repeated wait messages. Default 60,000. */
  notifyEveryMs?: number;
  /** Milliseconds between attempts. Default 200. */
  pollMs?: number;
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return typeof v?.pid === "number" ? v as LockHolder : undefined;
  } catch {
    return undefined;
  }
}

/** A sentence naming the holder of the lock at `path`. */
export function describeHolder(holder: LockHolder | undefined, path: string): string {
  if (!holder) return `the lock ${path} is held by another process`;
  const gone = holder.host === host() && !processAlive(holder.pid)
    ? " (that process is gone; its lock is held by a process it started)"
    : "";
  return `${holder.what} is running in process ${holder.pid} on ${holder.host} since ${holder.since}${gone} ` +
    `(lock ${path})`;
}

/**
 * Runs `fn` holding the exclusive lock `path` (created if needed). When another process holds it, waits
 * (telling `onWait` who holds it) up to `timeoutMs`, then throws a {@linkcode LockTimeoutError} that names
 * the holder.
 */
export async function withLock<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    const timeout = options.timeoutMs ?? Infinity;
    const poll = options.pollMs ?? 200;
    const notifyEvery = options.notifyEveryMs ?? 60_000;
    const onWait = options.onWait ?? ((m: string) => console.error(m));
    const start = performance.now();
    let lastNote = -Infinity;
    while (!await file.tryLock(true)) {
      const holder = await readHolder(path);
      const waited = performance.now() - start;
      if (waited >= timeout) {
        throw new LockTimeoutError(
          `${options.what}: not started, because ${describeHolder(holder, path)}; wait for it to finish ` +
            `or stop that process (ADVEX_LOCK_TIMEOUT sets how many seconds to wait)`,
          holder,
        );
      }
      // The holder writes its name just after taking the lock: wait a moment for it before saying who it is.
      if (performance.now() - lastNote >= notifyEvery && (holder || waited > 1000)) {
        onWait(`${options.what}: waiting, because ${describeHolder(holder, path)}`);
        lastNote = performance.now();
      }
      await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(1, timeout - waited))));
    }
    try {
      const holder: LockHolder = {
        pid: Deno.pid,
        host: host(),
        since: new Date().toISOString(),
        what: options.what,
      };
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
      await file.write(new TextEncoder().encode(JSON.stringify(holder)));
      return await fn();
    } finally {
      await file.unlock().catch(() => {});
    }
  } finally {
    file.close();
  }
}
