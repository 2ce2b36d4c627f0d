"""``make bench``: every scenario of issue #7 for every client, interleaved, in one run.

    benchmarks/.venv/bin/python benchmarks/run.py [--quick] [--only connect,latency,...]

Each measurement is a fresh ``harness.py`` process run by the venv its client needs (SDK 2.x:
patchbay, the SDK itself, fastmcp; SDK 1.x: langchain-mcp-adapters, mcp-use). Every server runs
on one interpreter (the SDK 2.x bench venv), so all clients talk to identical servers. Clients
are interleaved (A B C A B C ...) so drift on this noisy 2-core machine hits them alike.
Raw records go to ``results/latest.jsonl``; ``report.py`` turns them into RESULTS.md and the chart.
Nothing here listens on anything but 127.0.0.1, and nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVERS = HERE / "servers"
RESULTS = HERE / "results"
PYTHONS = {"sdk2": HERE / ".venv" / "bin" / "python", "sdk1": HERE / ".venv-mcp1" / "bin" / "python"}
SERVER_PY = str(PYTHONS["sdk2"])

sys.path.insert(0, str(HERE))
from peers import PERSISTENT, VENV  # noqa: E402

CLIENTS = ["patchbay", "sdk-session", "sdk-group", "fastmcp", "lc-stateless", "lc-session", "mcp-use"]
PERSISTENT_CLIENTS = [c for c in CLIENTS if PERSISTENT[c]]

# Knobs per profile: "full" is what `make bench` runs (< 20 min here), "quick" is for development.
PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "connect_reps": {1: 2, 10: 2, 30: 1},
        "latency_reps": 3,
        "overhead_rounds": 30,
        "calls": 2000,
        "warmup": 100,
        "stateless_calls": 10,
        "concurrency_reps": 2,
        "concurrency_per_worker": {"1x64": 20, "8x16": 5},
        "close_reps": 2,
        "crash_reps": 2,
        "crash_cap": 5.0,
        "hang_reps": 2,
        "memory_reps": 2,
        "startup_reps": 5,
        "http_reps": 2,
        "http_calls": 1000,
        "http_stateless_calls": 20,
    },
    "quick": {
        "connect_reps": {1: 1, 10: 1, 30: 1},
        "latency_reps": 1,
        "overhead_rounds": 10,
        "calls": 300,
        "warmup": 30,
        "stateless_calls": 5,
        "concurrency_reps": 1,
        "concurrency_per_worker": {"1x64": 4, "8x16": 2},
        "close_reps": 1,
        "crash_reps": 1,
        "crash_cap": 5.0,
        "hang_reps": 1,
        "memory_reps": 1,
        "startup_reps": 3,
        "http_reps": 1,
        "http_calls": 300,
        "http_stateless_calls": 10,
    },
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def new_tag() -> str:
    return f"pbbench-{uuid.uuid4().hex[:10]}"


def server(script: str, name: str, tag: str, *extra: str) -> dict[str, Any]:
    path = SERVERS / script
    return {"name": name, "command": SERVER_PY, "args": [str(path), "--name", name, "--tag", tag, *extra]}


def reap(tag: str) -> int:
    """SIGKILL whatever still carries ``tag`` (servers a client left behind); returns the count."""
    victims = []
    for proc in psutil.process_iter(["cmdline", "pid"]):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if proc.info["pid"] != os.getpid() and any(tag in p for p in proc.info["cmdline"] or ()):
                victims.append(proc)
    for proc in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def harness_cmd(job: dict[str, Any]) -> list[str]:
    return [str(PYTHONS[VENV[job["client"]]]), str(HERE / "harness.py"), json.dumps(job)]


def parse(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and "ok" in record:
                return record
    return {"ok": False, "error": "no result line"}


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w")

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()


def run_job(job: dict[str, Any], timeout: float = 240.0) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        harness_cmd(job),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        record = parse(out)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        record = {"ok": False, "error": f"harness timed out after {timeout:g}s"}
    if not record.get("ok"):
        record["stderr_tail"] = err[-600:]
    record["reaped"] = reap(job["tag"])
    record["job_s"] = round(time.perf_counter() - started, 2)
    return record


def emit(
    rec: Recorder, scenario: str, variant: str, client: str, *, rep: int, record: dict[str, Any]
) -> None:
    row = {"scenario": scenario, "variant": variant, "client": client, "rep": rep, **record}
    row["load1"] = round(os.getloadavg()[0], 2)  # other work on this machine shows up here
    rec.write(row)
    brief = {k: v for k, v in record.items() if k not in ("stderr_tail",)}
    log(f"{scenario}/{variant} {client} rep {rep}: {json.dumps(brief)[:220]}")


# ------------------------------------------------------------------------------------- scenarios


def s1_connect(rec: Recorder, p: dict[str, Any]) -> None:
    for n, reps in p["connect_reps"].items():
        for rep in range(reps):
            for client in CLIENTS:
                tag = new_tag()
                servers = [server("echo.py", f"s{i}", tag, "--startup-delay", "0.3") for i in range(n)]
                job = {"client": client, "scenario": "connect", "tag": tag, "servers": servers}
                job["tools_per_server"] = 2
                emit(rec, "connect", f"N={n}", client, rep=rep, record=run_job(job))


def s2_latency(rec: Recorder, p: dict[str, Any], variant_servers: dict[str, str] | None = None) -> None:
    variants = variant_servers or {"sdk-server": "echo.py", "raw-server": "raw_echo.py"}
    for variant, script in variants.items():
        for rep in range(p["latency_reps"]):
            for client in [*CLIENTS, "patchbay-legacy"]:
                tag = new_tag()
                stateless = client == "lc-stateless"
                job = {
                    "client": client,
                    "scenario": "latency",
                    "tag": tag,
                    "servers": [server(script, "s0", tag)],
                    "calls": p["stateless_calls"] if stateless else p["calls"],
                    "warmup": 2 if stateless else p["warmup"],
                }
                emit(rec, "latency", variant, client, rep=rep, record=run_job(job))
    if variant_servers is None:
        call_overhead(rec, p)


def call_overhead(rec: Recorder, p: dict[str, Any]) -> None:
    """patchbay against the bare SDK session inside one process (call_overhead.py): see RESULTS.md."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "overhead.json"
        argv = [SERVER_PY, str(HERE / "call_overhead.py"), "--rounds", str(p["overhead_rounds"])]
        done = subprocess.run(
            [*argv, "--json", str(target)], capture_output=True, text=True, check=False, timeout=900
        )
        if done.returncode == 0 and target.exists():
            record = {"ok": True, **json.loads(target.read_text())}
        else:
            record = {"ok": False, "error": (done.stderr or done.stdout)[-300:]}
    emit(rec, "latency", "call_overhead.py", "patchbay", rep=0, record=record)


def s3_concurrency(rec: Recorder, p: dict[str, Any]) -> None:
    shapes = {"1x64": (1, 64), "8x16": (8, 16)}  # servers, workers per server
    for variant, (n, workers) in shapes.items():
        per_worker = p["concurrency_per_worker"][variant]
        for rep in range(p["concurrency_reps"]):
            for client in [*PERSISTENT_CLIENTS, "patchbay-legacy"]:
                tag = new_tag()
                job = {
                    "client": client,
                    "scenario": "concurrency",
                    "tag": tag,
                    "servers": [server("echo.py", f"s{i}", tag) for i in range(n)],
                    "workers": workers,
                    "per_worker": per_worker,
                }
                emit(rec, "concurrency", variant, client, rep=rep, record=run_job(job))


def s4_close(rec: Recorder, p: dict[str, Any]) -> None:
    """All clients open their 10 stubborn servers one after another, then all close at once.

    Closing these servers is waiting on grace timers (the servers ignore EOF and SIGTERM), so
    running the clients side by side costs little accuracy and saves minutes of idle waiting.
    """
    for rep in range(p["close_reps"]):
        running = []
        for client in PERSISTENT_CLIENTS:
            tag = new_tag()
            job = {
                "client": client,
                "scenario": "close",
                "tag": tag,
                "servers": [server("stubborn.py", f"s{i}", tag) for i in range(10)],
                "cap": 120,
            }
            proc = subprocess.Popen(
                harness_cmd(job),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()  # {"ready": ...} once its servers are open, or a failure
            running.append((client, tag, proc, line))
        for _client, _tag, proc, _line in running:
            with contextlib.suppress(BrokenPipeError):
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
        for client, tag, proc, line in running:
            try:
                out, _ = proc.communicate(timeout=180)
                record = parse(line + out)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                record = {"ok": False, "error": "harness timed out"}
            record["reaped"] = reap(tag)
            emit(rec, "close", "10 stubborn servers", client, rep=rep, record=record)


def s5_crash(rec: Recorder, p: dict[str, Any]) -> None:
    for rep in range(p["crash_reps"]):
        for client in PERSISTENT_CLIENTS:
            tag = new_tag()
            job = {
                "client": client,
                "scenario": "crash",
                "tag": tag,
                "servers": [server("echo.py", "s0", tag)],
                "cap": p["crash_cap"],
                "retry_interval": 0.1,
            }
            emit(rec, "crash", "kill -9", client, rep=rep, record=run_job(job))


def start_hang(p: dict[str, Any]) -> list[tuple[str, int, str, subprocess.Popen[str]]]:
    """Start every client x rep at once: each waits on a tool that never answers (idle, not CPU-bound)."""
    running = []
    for rep in range(p["hang_reps"]):
        for client in CLIENTS:
            tag = new_tag()
            job = {
                "client": client,
                "scenario": "hang",
                "tag": tag,
                "servers": [server("hang.py", "s0", tag)],
                "cap": 60.0,
                "close_cap": 0,
            }
            proc = subprocess.Popen(
                harness_cmd(job),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            running.append((client, rep, tag, proc))
    return running


def finish_hang(rec: Recorder, running: list[tuple[str, int, str, subprocess.Popen[str]]]) -> None:
    for client, rep, tag, proc in running:
        try:
            out, _ = proc.communicate(timeout=240)
            record = parse(out)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            record = {"ok": False, "error": "harness timed out"}
        record["reaped"] = reap(tag)
        emit(rec, "hang", "never-answering tool", client, rep=rep, record=record)


def s6_hang(rec: Recorder, p: dict[str, Any]) -> None:
    finish_hang(rec, start_hang(p))


def s7_memory(rec: Recorder, p: dict[str, Any]) -> None:
    for rep in range(p["memory_reps"]):
        for n in (1, 20):
            for client in PERSISTENT_CLIENTS:
                tag = new_tag()
                job = {
                    "client": client,
                    "scenario": "memory",
                    "tag": tag,
                    "servers": [server("raw_echo.py", f"s{i}", tag) for i in range(n)],
                }
                emit(rec, "memory", f"N={n}", client, rep=rep, record=run_job(job))


def _time_cmd(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def s8_startup(rec: Recorder, p: dict[str, Any]) -> None:
    py2, py1 = str(PYTHONS["sdk2"]), str(PYTHONS["sdk1"])
    cli = str(PYTHONS["sdk2"].parent / "patchbay")
    commands: dict[str, tuple[str, list[str]]] = {
        "python -c pass": ("python", [py2, "-c", "pass"]),
        "import patchbay": ("patchbay", [py2, "-c", "import patchbay"]),
        "patchbay --help": ("patchbay", [cli, "--help"]),
        "import mcp (SDK 2.3)": ("sdk-session", [py2, "-c", "import mcp"]),
        "import fastmcp": ("fastmcp", [py2, "-c", "import fastmcp"]),
        "import langchain_mcp_adapters.client": (
            "lc-session",
            [py1, "-c", "import langchain_mcp_adapters.client"],
        ),
        "import mcp_use": ("mcp-use", [py1, "-c", "import mcp_use"]),
    }
    env_ok = {name: True for name in commands}
    for name, (_client, argv) in commands.items():
        try:
            _time_cmd(argv)  # warm the OS file cache once
        except (subprocess.CalledProcessError, OSError) as exc:
            env_ok[name] = False
            emit(rec, "startup", name, _client, rep=0, record={"ok": False, "error": str(exc)[:200]})
    for rep in range(p["startup_reps"]):
        for name, (client, argv) in commands.items():
            if env_ok[name]:
                emit(rec, "startup", name, client, rep=rep, record={"ok": True, "wall_s": _time_cmd(argv)})
    probe = (
        "import sys, patchbay; heavy = ['mcp', 'mcp.server', 'mcp.server.mcpserver', 'starlette', "
        "'uvicorn', 'httpx2', 'pydantic']; print(__import__('json').dumps("
        "{m: m in sys.modules for m in heavy}))"
    )
    out = subprocess.run([py2, "-c", probe], capture_output=True, text=True, check=False)
    modules = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-300:]}
    emit(
        rec,
        "startup",
        "modules after import patchbay",
        "patchbay",
        rep=0,
        record={"ok": True, "modules": modules},
    )
    script = HERE / "startup.py"
    if script.exists():
        # The CLI's own start-up benchmark (issue 5's): reused as it is, its table goes into RESULTS.md.
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "startup.json"
            argv = [py2, str(script), "--runs", str(p["startup_reps"]), "--json", str(target)]
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
            if done.returncode == 0 and target.exists():
                record = {"ok": True, **json.loads(target.read_text())}
            else:
                record = {"ok": False, "error": (done.stderr or done.stdout)[-300:]}
        emit(rec, "startup", "startup.py", "patchbay", rep=0, record=record)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s9_http(rec: Recorder, p: dict[str, Any]) -> None:
    port = free_port()
    tag = new_tag()
    proc = subprocess.Popen(
        [
            SERVER_PY,
            str(SERVERS / "echo.py"),
            "--name",
            "s0",
            "--transport",
            "http",
            "--port",
            str(port),
            "--tag",
            tag,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the HTTP echo server did not start") from None
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        for rep in range(p["http_reps"]):
            for client in [*CLIENTS, "patchbay-legacy"]:
                stateless = client == "lc-stateless"
                job = {
                    "client": client,
                    "scenario": "latency",
                    "tag": new_tag(),
                    "servers": [{"name": "s0", "url": url}],
                    "calls": p["http_stateless_calls"] if stateless else p["http_calls"],
                    "warmup": 2 if stateless else p["warmup"],
                }
                emit(rec, "http", "streamable HTTP, SDK server", client, rep=rep, record=run_job(job))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


SCENARIOS = {
    "connect": s1_connect,
    "latency": s2_latency,
    "concurrency": s3_concurrency,
    "close": s4_close,
    "crash": s5_crash,
    "hang": s6_hang,
    "memory": s7_memory,
    "startup": s8_startup,
    "http": s9_http,
}


# ---------------------------------------------------------------------------------- machine info


def versions(python: Path, names: list[str]) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m, sys\n"
        "out = {}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout))


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg(),
        "sdk2_venv": versions(
            PYTHONS["sdk2"], ["patchbay", "mcp", "fastmcp-slim", "anyio", "pydantic", "httpx2", "matplotlib"]
        ),
        "sdk1_venv": versions(
            PYTHONS["sdk1"],
            ["mcp", "langchain-mcp-adapters", "langchain-core", "mcp-use", "anyio", "pydantic"],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few reps and calls (development only)")
    parser.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--out", default=str(RESULTS / "latest.jsonl"))
    args = parser.parse_args()
    profile = PROFILES["quick" if args.quick else "full"]
    chosen = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    rec = Recorder(Path(args.out))
    info = machine()
    rec.write({"scenario": "meta", "profile": "quick" if args.quick else "full", **info})
    log(f"machine: {json.dumps(info)}")
    started = time.perf_counter()
    # The hang scenario only waits on timers (60 s), so it runs alongside the close scenario,
    # whose measured part also only waits on timers; neither competes for CPU when timed.
    overlap = "hang" in chosen and "close" in chosen
    for name in chosen:
        t0 = time.perf_counter()
        if name == "hang" and overlap:
            continue
        hang_jobs = start_hang(profile) if name == "close" and overlap else None
        SCENARIOS[name](rec, profile)
        if name == "close" and hang_jobs is not None:
            finish_hang(rec, hang_jobs)
        rec.write({"scenario": "timing", "variant": name, "seconds": round(time.perf_counter() - t0, 1)})
        log(f"scenario {name} took {time.perf_counter() - t0:.0f}s")
    rec.write({"scenario": "timing", "variant": "total", "seconds": round(time.perf_counter() - started, 1)})
    log(f"all scenarios took {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
