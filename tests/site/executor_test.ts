/**
 * Tests of the notebook executor (tools/execute_notebook.py): the kernel it starts does not outlive it,
 * whether it is stopped with SIGTERM or killed with SIGKILL.
 */

import { assert, assertEquals } from "@std/assert";
import { KERNEL_NAME, KERNEL_PATH, PROJECT_ROOT } from "../../tools/site.ts";
import { processAlive as alive, waitFor } from "../_helpers.ts";

const PYTHON = Deno.env.get("ADVEX_PYTHON") ?? "/usr/bin/python3";
const HAVE_KERNEL = await Deno.stat(`${KERNEL_PATH}/kernels/${KERNEL_NAME}/kernel.json`).then(
  () => true,
  () => false,
);

/**
 * Starts the executor on a notebook whose one cell writes the kernel's pid to a file and sleeps; once the
 * kernel is running the cell, sends `signal` to the executor and returns the kernel's pid and the executor's
 * exit status.
 */
async function stopDuringCell(signal: Deno.Signal): Promise<{ kernel: number; code: number | null }> {
  const dir = await Deno.makeTempDir({ prefix: "advex-executor-" });
  try {
    const pidFile = `${dir}/kernel.pid`;
    const notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{
        cell_type: "code",
        metadata: {},
        execution_count: null,
        outputs: [],
        source: [
          `await Deno.writeTextFile(${JSON.stringify(pidFile)}, String(Deno.pid));\n`,
          "await new Promise((r) => setTimeout(r, 120_000));",
        ],
      }],
    };
    await Deno.writeTextFile(`${dir}/sleep.ipynb`, JSON.stringify(notebook));
    const child = new Deno.Command(PYTHON, {
      args: [
        `${PROJECT_ROOT}/tools/execute_notebook.py`,
        `${dir}/sleep.ipynb`,
        `${dir}/out.ipynb`,
        `--kernel=${KERNEL_NAME}`,
      ],
      env: { JUPYTER_PATH: KERNEL_PATH, NO_COLOR: "1", PYDEVD_DISABLE_FILE_VALIDATION: "1" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    let kernel = 0;
    try {
      await waitFor("the kernel to run the cell", async () => {
        kernel = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
        return kernel > 0;
      }, 120);
      assert(alive(kernel), "the kernel runs the cell");
      child.kill(signal);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    const { code, signal: by } = await child.status;
    await waitFor(
      `the kernel (pid ${kernel}) to exit after the executor got ${signal}`,
      () => !alive(kernel),
      20,
    );
    return { kernel, code: by ? null : code };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "executor: SIGTERM shuts the kernel down and exits with 128 + 15",
  ignore: !HAVE_KERNEL,
  async fn() {
    const { code } = await stopDuringCell("SIGTERM");
    assertEquals(code, 143);
  },
});

Deno.test({
  name: "executor: the kernel does not outlive an executor killed with SIGKILL",
  ignore: !HAVE_KERNEL || Deno.build.os !== "linux",
  async fn() {
    const { code } = await stopDuringCell("SIGKILL");
    assertEquals(code, null, "killed by the signal");
  },
});
