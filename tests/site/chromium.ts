/**
 * A small headless Chromium driver that speaks the Chrome DevTools Protocol over a WebSocket.
 *
 * ```ts
 * await using browser = await Chromium.launch();
 * const page = await browser.newPage();
 * await page.goto("file:///tmp/site/index.html");
 * const title = await page.evaluate<string>("document.title");
 * ```
 *
 * The browser runs with a fresh profile in a temporary folder, without sandbox or GPU, and with
 * host-name resolution switched off, so pages cannot reach the network. {@link Chromium.close}
 * (also run by `await using`) ends the process, killing it if it does not exit, and removes the
 * profile.
 *
 * @module
 */

/** Settings for {@link Chromium.launch}. */
export interface LaunchOptions {
  /** The browser executable; default `$ADVEX_CHROMIUM` or `/usr/bin/chromium`. */
  executable?: string;
  /** Limit for starting the browser and for each protocol call, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Let pages resolve host names and load remote resources (default false). */
  allowNetwork?: boolean;
  /** Extra command-line switches. */
  args?: string[];
  /** Viewport size in CSS pixels (default 1280 x 900). */
  viewport?: { width: number; height: number };
}

/** Error reported by the browser for a protocol call, or a call that took too long. */
export class CdpError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CdpError";
  }
}

interface Pending {
  method: string;
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Listener = (params: Record<string, unknown>) => void;

/** One WebSocket connection to the browser, with request/response matching and event listeners. */
class Connection {
  #socket: WebSocket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, Set<Listener>>();
  #closed: Promise<void>;
  #timeoutMs: number;

  private constructor(socket: WebSocket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
    socket.addEventListener("message", (event) => this.#receive(String(event.data)));
    socket.addEventListener("close", () => {
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new CdpError(`${pending.method}: connection to the browser closed`));
        this.#pending.delete(id);
      }
    });
  }

  static open(url: string, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(new CdpError(`no WebSocket connection to ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new Connection(socket, timeoutMs));
      }, { once: true });
      socket.addEventListener("error", (event) => {
        clearTimeout(timer);
        reject(new CdpError(`WebSocket error on ${url}: ${(event as ErrorEvent).message ?? "unknown"}`));
      }, { once: true });
    });
  }

  #receive(text: string) {
    const message = JSON.parse(text);
    if (typeof message.id === "number") {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.error) {
        pending.reject(new CdpError(`${pending.method}: ${message.error.message} (${message.error.code})`));
      } else pending.resolve(message.result ?? {});
    } else if (typeof message.method === "string") {
      const key = `${message.sessionId ?? ""}|${message.method}`;
      for (const listener of this.#listeners.get(key) ?? []) listener(message.params ?? {});
    }
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<Record<string, unknown>> {
    if (this.#socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new CdpError(`${method}: connection to the browser is closed`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CdpError(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      this.#socket.send(
        JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }),
      );
    });
  }

  /** Resolves with the next event `method` on `sessionId`; call before triggering the event. */
  waitFor(method: string, sessionId: string | undefined, timeoutMs = this.#timeoutMs) {
    const key = `${sessionId ?? ""}|${method}`;
    let listener: Listener = () => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
      listener = (params) => {
        clearTimeout(timer);
        this.#listeners.get(key)?.delete(listener);
        resolve(params);
      };
      timer = setTimeout(() => {
        this.#listeners.get(key)?.delete(listener);
        reject(new CdpError(`no ${method} event within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    if (!this.#listeners.has(key)) this.#listeners.set(key, new Set());
    this.#listeners.get(key)!.add(listener);
    const cancel = () => {
      clearTimeout(timer);
      this.#listeners.get(key)?.delete(listener);
    };
    return { promise, cancel };
  }

  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.close();
    }
    await this.#closed;
  }
}

/** One browser tab. */
export class Page {
  #connection: Connection;
  #sessionId: string;
  #targetId: string;
  #timeoutMs: number;

  /** @internal Use {@link Chromium.newPage}. */
  constructor(connection: Connection, targetId: string, sessionId: string, timeoutMs: number) {
    this.#connection = connection;
    this.#targetId = targetId;
    this.#sessionId = sessionId;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends a protocol command to this tab. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#connection.send(method, params, this.#sessionId);
  }

  /** Loads `url` and waits for the page's load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.#connection.waitFor("Page.loadEventFired", this.#sessionId, this.#timeoutMs);
    try {
      const result = await this.send("Page.navigate", { url });
      if (typeof result.errorText === "string" && result.errorText !== "") {
        throw new CdpError(`cannot load ${url}: ${result.errorText}`);
      }
      await loaded.promise;
    } finally {
      loaded.cancel();
    }
  }

  /**
   * Evaluates a JavaScript expression in the page, awaiting it when it is a promise, and returns
   * its value (which must be JSON-serialisable). Throws when the expression throws.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
      userGesture: false,
    });
    const details = result.exceptionDetails as
      | { text?: string; exception?: { description?: string } }
      | undefined;
    if (details) {
      throw new CdpError(`evaluation failed: ${details.exception?.description ?? details.text ?? "unknown"}`);
    }
    return (result.result as { value?: T }).value as T;
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.#connection.send("Target.closeTarget", { targetId: this.#targetId }).catch(() => {});
  }
}

/** A running headless Chromium. */
export class Chromium implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #connection: Connection;
  #profile: string;
  #stderr: Promise<string>;
  #options: Required<Pick<LaunchOptions, "timeoutMs" | "viewport">>;
  #closing?: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    connection: Connection,
    profile: string,
    stderr: Promise<string>,
    options: Required<Pick<LaunchOptions, "timeoutMs" | "viewport">>,
  ) {
    this.#child = child;
    this.#connection = connection;
    this.#profile = profile;
    this.#stderr = stderr;
    this.#options = options;
  }

  /** Starts the browser and connects to it; cleans up fully when the start fails. */
  static async launch(options: LaunchOptions = {}): Promise<Chromium> {
    const executable = options.executable ?? Deno.env.get("ADVEX_CHROMIUM") ?? "/usr/bin/chromium";
    const timeoutMs = options.timeoutMs ?? 30_000;
    const viewport = options.viewport ?? { width: 1280, height: 900 };
    const profile = await Deno.makeTempDir({ prefix: "advex-chromium-" });
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--disable-dev-shm-usage",
      "--mute-audio",
      "--hide-scrollbars",
      `--window-size=${viewport.width},${viewport.height}`,
      ...(options.allowNetwork ? [] : ["--host-resolver-rules=MAP * ~NOTFOUND"]),
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      ...(options.args ?? []),
      "about:blank",
    ];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(executable, { args, stdin: "null", stdout: "null", stderr: "piped" }).spawn();
    } catch (error) {
      await removeProfile(profile);
      throw new CdpError(`cannot start ${executable}: ${(error as Error).message}`);
    }
    const stderr = keepTail(child.stderr, 16_384);
    let connection: Connection | undefined;
    try {
      const endpoint = await waitForEndpoint(profile, child, timeoutMs, stderr);
      connection = await Connection.open(endpoint, timeoutMs);
      return new Chromium(child, connection, profile, stderr, { timeoutMs, viewport });
    } catch (error) {
      await connection?.close();
      await stopProcess(child, 5_000);
      await stderr;
      await removeProfile(profile);
      throw error;
    }
  }

  /** Opens a new tab at `about:blank` with the configured viewport. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.#connection.send("Target.createTarget", { url: "about:blank" }) as {
      targetId: string;
    };
    const { sessionId } = await this.#connection.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    }) as {
      sessionId: string;
    };
    const page = new Page(this.#connection, targetId, sessionId, this.#options.timeoutMs);
    await page.send("Page.enable");
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: this.#options.viewport.width,
      height: this.#options.viewport.height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return page;
  }

  /** The last lines the browser wrote to stderr (complete once the browser is closed). */
  stderrTail(): Promise<string> {
    return this.#stderr;
  }

  /** Closes the browser (killing it when it does not exit within 5 s) and removes its profile. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#connection.send("Browser.close", {}, undefined, 5_000).catch(() => {});
      await this.#connection.close();
      await stopProcess(this.#child, 5_000);
      await this.#stderr;
      await removeProfile(this.#profile);
    })();
    return this.#closing;
  }

  /** Same as {@link Chromium.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Reads a stream to its end and resolves with its last `limit` characters. */
async function keepTail(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) {
      text = (text + decoder.decode(chunk, { stream: true })).slice(-limit);
    }
  } catch {
    // the stream ends with the process
  }
  return text;
}

/** Waits for `DevToolsActivePort` in the profile and returns the browser's WebSocket address. */
async function waitForEndpoint(
  profile: string,
  child: Deno.ChildProcess,
  timeoutMs: number,
  stderr: Promise<string>,
): Promise<string> {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) {
      throw new CdpError(`chromium exited (code ${exited.code}) before it was ready:\n${await stderr}`);
    }
    try {
      const [port, path] = (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n");
      if (/^\d+$/.test(port) && path?.startsWith("/devtools/browser/")) {
        return `ws://127.0.0.1:${port}${path}`;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new CdpError(`chromium did not open its DevTools port within ${timeoutMs} ms`);
}

/** Waits up to `graceMs` for the process to exit, then kills it; resolves once it is gone. */
async function stopProcess(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
  ]);
  clearTimeout(timer);
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
}

async function removeProfile(profile: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await Deno.remove(profile, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
