#!/usr/bin/python3
"""Executes a Jupyter notebook headless and writes the executed notebook.

tools/site.ts uses this instead of `jupyter nbconvert --execute`. nbconvert (through nbclient) stops
collecting a cell's outputs when the kernel reports it idle, and silently drops any output that arrives
later. The Deno kernel can publish a cell's outputs after its idle status when the machine is busy, so
figures and tables went missing at random. Here every output message is routed to the cell whose request
it answers, whenever it arrives, and the output channel is drained once all cells have run.

The kernel does not outlive this process. SIGTERM and SIGHUP shut it down as an interrupt (Ctrl-C) does,
and on Linux both processes are tied to their parents' lives (prctl PR_SET_PDEATHSIG): when the site build
is killed, even with SIGKILL, this process receives SIGTERM and the kernel SIGKILL, so that no orphaned
kernel goes on training on the machine's cores (and holding the job's lock) after the build is gone.

usage: execute_notebook.py IN.ipynb OUT.ipynb --kernel NAME [--timeout SECONDS] [--startup-timeout SECONDS]
Exit status 0 on success, 1 when a cell fails or times out (the failing cell and its error are printed in
the form nbconvert uses), 2 on usage errors, 128 + the signal's number when stopped by SIGTERM or SIGHUP.
"""

import argparse
import ctypes
import os
import queue
import signal
import sys
import time

import nbformat
from jupyter_client.manager import start_new_kernel
from nbformat.v4 import output_from_msg

# After the last cell, wait this long without any message before deciding nothing more will come.
QUIET_SECONDS = 1.0
# ...but never longer than this in total.
DRAIN_LIMIT_SECONDS = 15.0
# Progress displays (display ids starting with this) are echoed to stdout as "progress: <text>" lines,
# at most once per PROGRESS_SECONDS per display and once more when they finish, for the terminal.
PROGRESS_PREFIX = "advex-progress"
PROGRESS_SECONDS = 10.0


PR_SET_PDEATHSIG = 1


def die_with_parent(sig):
    """Asks Linux to send `sig` to this process when its parent exits; elsewhere, does nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Stopped(Exception):
    """Raised by the handler of SIGTERM and SIGHUP, so that the kernel is shut down on the way out."""

    def __init__(self, signum):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def on_stop_signal(signum, _frame):
    raise Stopped(signum)


class Outputs:
    """Routes IOPub messages to the outputs of the cell whose request they answer."""

    def __init__(self):
        self.cell_of = {}  # request msg_id -> cell
        self.idle = set()  # request msg_ids whose idle status was seen
        self.display_ids = {}  # display_id -> list of (cell, output index)
        self.progress_shown = {}  # progress display_id -> monotonic time it was last echoed

    def echo_progress(self, content):
        display_id = content.get("transient", {}).get("display_id") or ""
        if not display_id.startswith(PROGRESS_PREFIX):
            return
        text = content.get("data", {}).get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        now = time.monotonic()
        final = " done in " in text
        first_seen = self.progress_shown.setdefault(display_id, now)
        if final or now - first_seen >= PROGRESS_SECONDS:
            self.progress_shown[display_id] = now
            print(f"progress: {text}", flush=True)

    def track(self, msg_id, cell):
        self.cell_of[msg_id] = cell
        cell.outputs = []

    def handle(self, msg):
        parent = msg.get("parent_header", {}).get("msg_id")
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "status":
            if content.get("execution_state") == "idle":
                self.idle.add(parent)
            return
        cell = self.cell_of.get(parent)
        if kind in ("display_data", "update_display_data"):
            self.echo_progress(content)
        if kind == "update_display_data":
            display_id = content.get("transient", {}).get("display_id")
            for owner, index in self.display_ids.get(display_id, []):
                owner.outputs[index]["data"] = content.get("data", {})
                owner.outputs[index]["metadata"] = content.get("metadata", {})
            return
        if cell is None:
            return
        if kind == "execute_input":
            cell.execution_count = content.get("execution_count")
        elif kind == "clear_output":
            cell.outputs = []
            self.display_ids = {
                key: [(owner, index) for owner, index in places if owner is not cell]
                for key, places in self.display_ids.items()
            }
        elif kind == "stream":
            last = cell.outputs[-1] if cell.outputs else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == content["name"]:
                last["text"] += content["text"]
            else:
                cell.outputs.append(output_from_msg(msg))
        elif kind in ("display_data", "execute_result", "error"):
            cell.outputs.append(output_from_msg(msg))
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                self.display_ids.setdefault(display_id, []).append((cell, len(cell.outputs) - 1))


def drain(kc, outputs, timeout):
    """Handles every IOPub message that arrives within `timeout` seconds; returns how many there were."""
    count = 0
    end = time.monotonic() + timeout
    while True:
        remaining = end - time.monotonic()
        try:
            msg = kc.get_iopub_msg(timeout=max(0.0, remaining))
        except queue.Empty:
            return count
        outputs.handle(msg)
        count += 1


def error_text(cell, reply):
    traceback = "\n".join(reply.get("traceback", [])) or f"{reply.get('ename')}: {reply.get('evalue')}"
    return (
        "An error occurred while executing the following cell:\n------------------\n"
        f"{cell.source}\n------------------\n\n{traceback}\n{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"
    )


def run_cell(kc, outputs, cell, timeout):
    """Executes one code cell; returns its execute_reply content."""
    msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False, stop_on_error=True)
    outputs.track(msg_id, cell)
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"a cell ran longer than {timeout} s:\n{cell.source}")
        drain(kc, outputs, 0.0)
        try:
            reply = kc.get_shell_msg(timeout=0.2)
        except queue.Empty:
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            break
    # Give the outputs that precede the idle status a chance to arrive; later ones are still routed here.
    idle_deadline = time.monotonic() + 5.0
    while msg_id not in outputs.idle and time.monotonic() < idle_deadline:
        drain(kc, outputs, 0.1)
    return reply["content"]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--startup-timeout", type=int, default=300)
    args = parser.parse_args(argv)

    parent = os.getppid()
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGHUP, on_stop_signal)
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:
        return 128 + signal.SIGTERM  # the parent exited before the request took effect
    nb = nbformat.read(args.input, as_version=4)
    cwd = os.path.dirname(os.path.abspath(args.input))
    try:
        km, kc = start_new_kernel(
            kernel_name=args.kernel,
            cwd=cwd,
            startup_timeout=args.startup_timeout,
            # Runs in the kernel's process before it starts: it dies with this one.
            preexec_fn=lambda: die_with_parent(signal.SIGKILL),
        )
    except Stopped as stop:
        return 128 + stop.signum
    outputs = Outputs()
    status = 0
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            reply = run_cell(kc, outputs, cell, args.timeout)
            if reply.get("status") == "error":
                drain(kc, outputs, QUIET_SECONDS)
                print(error_text(cell, reply), file=sys.stderr)
                status = 1
                break
        # Collect whatever arrives late, until the channel stays quiet.
        end = time.monotonic() + DRAIN_LIMIT_SECONDS
        while time.monotonic() < end and drain(kc, outputs, QUIET_SECONDS) > 0:
            pass
    except TimeoutError as error:
        print(f"CellTimeoutError: {error}", file=sys.stderr)
        status = 1
    except Stopped as stop:
        print(f"execute_notebook: {stop}; the kernel is shut down", file=sys.stderr)
        status = 128 + stop.signum
    finally:
        # A second signal must not cut the shutdown short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if status < 128:
        nbformat.write(nb, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
