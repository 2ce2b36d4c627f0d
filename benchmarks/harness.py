"""One measurement in a fresh process: ``python harness.py '<job json>'`` prints one JSON result line.

``run.py`` starts this with the Python of the venv the client needs and reads the last stdout
line. Each run is its own process so that no client inherits another's imports, caches or
leftover tasks. Whatever the outcome, the process ends with ``os._exit`` after printing, so a
client whose close hangs cannot stall the suite (``run.py`` kills the servers by tag).

Job fields: ``client``, ``scenario``, ``servers`` (specs, see ``peers.py``), ``tag`` (marks
every server process) and per-scenario numbers (``calls``, ``warmup``, ``workers``, ``cap``...).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import signal
import statistics
import sys
import time
from typing import Any

# No telemetry from any peer, whatever its default (mcp-use: PostHog and Scarf are on by default).
os.environ["MCP_USE_ANONYMIZED_TELEMETRY"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psutil
from peers import DRIVERS, Driver

TOKEN = "hello"


def tagged(tag: str) -> list[psutil.Process]:
    """Live (non-zombie) processes with ``tag`` in their command line, excluding this one."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["cmdline", "status", "pid"]):
        try:
            if proc.info["pid"] == me or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(tag in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def cpu_seconds(procs: list[psutil.Process]) -> list[float]:
    out = []
    for proc in procs:
        try:
            t = proc.cpu_times()
            out.append(t.user + t.system)
        except psutil.NoSuchProcess:
            continue
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0][:140] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def echo_ok(driver: Driver, server: str) -> bool:
    return TOKEN in await driver.call(server, "echo", {"text": TOKEN})


# ----------------------------------------------------------------------------------- scenarios


async def connect(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    servers = job["servers"]
    if job.get("preimport"):  # diagnosis only (not in run.py): connect with the SDK already imported
        import mcp  # noqa: F401
    cpu0 = self_cpu()
    t0 = time.perf_counter()
    names = await driver.open(servers)
    wall = time.perf_counter() - t0
    client_cpu = self_cpu() - cpu0
    server_cpu = cpu_seconds([p for p in tagged(job["tag"]) if p.pid != os.getpid()])
    expected = len(servers) * job["tools_per_server"]
    if len(names) != expected:
        raise RuntimeError(f"listed {len(names)} tools, expected {expected}")
    return {
        "wall_s": wall,
        "client_cpu_s": client_cpu,
        # Servers whose process ended (a client that closes after listing) report nothing here.
        "server_cpu_s": server_cpu if len(server_cpu) == len(servers) else None,
        "tools": len(names),
    }


async def latency(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    server = job["servers"][0]["name"]
    for _ in range(job["warmup"]):
        assert await echo_ok(driver, server)
    samples = []
    perf = time.perf_counter_ns
    cpu0 = self_cpu()
    for _ in range(job["calls"]):
        t0 = perf()
        text = await driver.call(server, "echo", {"text": TOKEN})
        samples.append((perf() - t0) / 1000.0)
        if TOKEN not in text:
            raise RuntimeError(f"unexpected answer {text!r}")
    cpu = self_cpu() - cpu0
    return {
        "calls": len(samples),
        # The client process's own CPU per call: far less sensitive to machine load than wall time.
        "client_cpu_us": cpu / len(samples) * 1e6,
        "median_us": statistics.median(samples),
        "p99_us": percentile(samples, 0.99),
        "mean_us": statistics.fmean(samples),
    }


async def concurrency(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    names = [s["name"] for s in job["servers"]]
    per_server, per_worker = job["workers"], job["per_worker"]

    async def worker(server: str, calls: int) -> None:
        for _ in range(calls):
            if not await echo_ok(driver, server):
                raise RuntimeError("wrong answer")

    async def burst(calls: int) -> None:
        await asyncio.gather(*(worker(s, calls) for s in names for _ in range(per_server)))

    await burst(1)  # warm-up: every worker once
    t0 = time.perf_counter()
    await burst(per_worker)
    elapsed = time.perf_counter() - t0
    total = len(names) * per_server * per_worker
    return {"calls": total, "in_flight": len(names) * per_server, "calls_per_s": total / elapsed}


async def close(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    opened = len(tagged(job["tag"]))
    print(json.dumps({"ready": True, "processes": opened}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    t0 = time.perf_counter()
    async with asyncio.timeout(job["cap"]):  # a cancel scope in this task: contexts exit where entered
        await driver.close()
    elapsed = time.perf_counter() - t0
    left = tagged(job["tag"])
    return {"close_s": elapsed, "processes_open": opened, "processes_left": len(left)}


async def crash(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    server = job["servers"][0]["name"]
    assert await echo_ok(driver, server)
    pid = int((await driver.call(server, "pid", {})).strip())
    os.kill(pid, signal.SIGKILL)
    t0 = time.perf_counter()
    deadline = t0 + job["cap"]
    first_error: str | None = None
    attempts = 0
    recovered: float | None = None
    while time.perf_counter() < deadline:
        attempts += 1
        try:
            async with asyncio.timeout(max(0.01, deadline - time.perf_counter())):
                ok = await echo_ok(driver, server)
        except Exception as exc:
            first_error = first_error or describe(exc)
            ok = False
        except asyncio.CancelledError:
            # The client's own task group (entered in this task) died with the server and cancels
            # the caller: nothing more can be awaited here, and nothing recovers.
            first_error = first_error or "CancelledError: the session's task group cancelled the caller"
            break
        if ok:
            recovered = time.perf_counter() - t0
            break
        first_error = first_error or "wrong answer (error returned as the result)"
        await asyncio.sleep(job["retry_interval"])
    result: dict[str, Any] = {
        "recovered_s": recovered,
        "attempts": attempts,
        "first_error": first_error,
        "cap_s": job["cap"],
    }
    status = getattr(driver, "status", None)
    if recovered is not None and status is not None:
        result["reconnect_connect_ms"] = status(server).get("connect_ms")
    return result


async def hang(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    server = job["servers"][0]["name"]
    t0 = time.perf_counter()
    deadline = asyncio.timeout(job["cap"])
    try:
        async with deadline:
            text = await driver.call(server, "hang", {})
        outcome = f"returned {text[:80]!r}"
    except Exception as exc:  # a client's own timeout error may subclass TimeoutError too
        if deadline.expired():
            return {"error_after_s": None, "outcome": f"no answer and no error within {job['cap']:g}s"}
        outcome = describe(exc)
    return {"error_after_s": time.perf_counter() - t0, "outcome": outcome}


async def memory(driver: Driver, job: dict[str, Any]) -> dict[str, Any]:
    await driver.open(job["servers"])
    for spec in job["servers"]:
        assert await echo_ok(driver, spec["name"])
    gc.collect()
    await asyncio.sleep(0.2)
    gc.collect()
    return {"sessions": len(job["servers"]), "rss_kb": psutil.Process().memory_info().rss / 1024}


SCENARIOS = {
    "connect": connect,
    "latency": latency,
    "concurrency": concurrency,
    "close": close,
    "crash": crash,
    "hang": hang,
    "memory": memory,
}


async def main(job: dict[str, Any]) -> dict[str, Any]:
    driver = DRIVERS[job["client"]]()
    result = await SCENARIOS[job["scenario"]](driver, job)
    if job["scenario"] != "close":
        print(json.dumps({"ok": True, **result}), flush=True)
        # Close politely when it is quick (servers then exit on their own); run.py reaps the rest.
        if job.get("close_cap", 15) > 0:
            try:
                async with asyncio.timeout(job.get("close_cap", 15)):
                    await driver.close()
            except BaseException:
                pass
        sys.stderr.flush()
        os._exit(0)
    return result


def run() -> None:
    job = json.loads(sys.argv[1])
    code = 0
    try:
        result = asyncio.run(main(job))
        if job["scenario"] == "close":
            print(json.dumps({"ok": True, **result}), flush=True)
    except BaseException as exc:
        print(json.dumps({"ok": False, "error": describe(exc)}), flush=True)
        code = 1
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
