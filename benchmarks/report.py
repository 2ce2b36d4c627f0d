"""Turn ``results/latest.jsonl`` into ``RESULTS.md`` and ``benchmarks.png`` (scenarios 1 and 2).

    benchmarks/.venv/bin/python benchmarks/report.py [results/latest.jsonl]

Every figure is a median over repetitions with (min-max) beside it; ratios compare medians of
the same run. A target line says "met" or "missed by X", computed here, never typed in.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENT_ORDER = [
    "patchbay",
    "patchbay-legacy",
    "sdk-session",
    "sdk-group",
    "fastmcp",
    "lc-stateless",
    "lc-session",
    "mcp-use",
]
LABELS = {
    "patchbay": "**patchbay** `MCPManager`",
    "patchbay-legacy": "patchbay, `protocol: legacy`",
    "sdk-session": "SDK `ClientSession` per server",
    "sdk-group": "SDK `ClientSessionGroup`",
    "fastmcp": "fastmcp `Client(mcpServers)`",
    "lc-stateless": "langchain-mcp-adapters `get_tools()`",
    "lc-session": "langchain-mcp-adapters `session()`",
    "mcp-use": "mcp-use `MCPClient`",
}
SHUTDOWN_GRACE = 2.0  # patchbay's default Settings.shutdown_grace
BASE_DELAY = 1.0  # patchbay's default ReconnectSettings.base_delay
DEFAULT_TIMEOUT = 30.0  # patchbay's default Settings.timeout
SLOW_START = 0.3


def load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta: dict[str, Any] = {}
    rows = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["scenario"] == "meta":
            meta = row
        else:
            rows.append(row)
    return meta, rows


class Data:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.by: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            self.by[(row["scenario"], row.get("variant", ""), row.get("client", ""))].append(row)

    def ok(self, scenario: str, variant: str, client: str) -> list[dict[str, Any]]:
        return [r for r in self.by[(scenario, variant, client)] if r.get("ok")]

    def errors(self, scenario: str, variant: str, client: str) -> list[str]:
        return [r.get("error", "?") for r in self.by[(scenario, variant, client)] if not r.get("ok")]

    def values(self, scenario: str, variant: str, client: str, key: str) -> list[float]:
        return [r[key] for r in self.ok(scenario, variant, client) if r.get(key) is not None]

    def median(self, scenario: str, variant: str, client: str, key: str) -> float | None:
        vals = self.values(scenario, variant, client, key)
        return statistics.median(vals) if vals else None

    def clients(self, scenario: str, variant: str | None = None) -> list[str]:
        seen = {c for (s, v, c) in self.by if s == scenario and (variant is None or v == variant)}
        return [c for c in CLIENT_ORDER if c in seen]

    def load(self, scenario: str) -> str:
        """Median and max 1-minute load average seen while the scenario ran (other work included)."""
        loads = [r["load1"] for r in self.rows if r["scenario"] == scenario and "load1" in r]
        if not loads:
            return ""
        median, peak = statistics.median(loads), max(loads)
        return f"*Load average during this scenario: median {median:.1f}, max {peak:.1f}.*\n"

    def seconds(self, name: str) -> float | None:
        for row in self.rows:
            if row["scenario"] == "timing" and row.get("variant") == name:
                return float(row["seconds"])
        return None


def fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100 or digits == 0:
        return f"{value:,.0f}{unit}"
    return f"{value:.{digits}f}{unit}"


def cell(vals: list[float], unit: str = "", digits: int = 2, scale: float = 1.0) -> str:
    if not vals:
        return "–"
    vals = [v * scale for v in vals]
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med, unit, digits)
    return f"{fmt(med, unit, digits)} ({fmt(min(vals), '', digits)}–{fmt(max(vals), '', digits)})"


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "–"
    return f"{value / base:.2f}×"


def target(met: bool | None, text: str) -> str:
    if met is None:
        return f"- ⚠️ not measured: {text}"
    return f"- {'✅ met' if met else '❌ missed'}: {text}"


def failure_note(d: Data, scenario: str, variant: str, client: str) -> str:
    errs = d.errors(scenario, variant, client)
    return f"failed: {errs[0][:80]}" if errs else "–"


# ------------------------------------------------------------------------------------ sections


def connect_section(d: Data, cores: int, out: list[str], checks: list[str]) -> dict[str, float]:
    variants = sorted({v for (s, v, _c) in d.by if s == "connect"}, key=lambda v: int(v.split("=")[1]))
    floors: dict[str, float] = {}
    for v in variants:
        sums, peaks = [], []
        for c in d.clients("connect", v):
            for r in d.ok("connect", v, c):
                if r.get("server_cpu_s"):
                    sums.append(sum(r["server_cpu_s"]))
                    peaks.append(max(r["server_cpu_s"]))
        if sums:
            floors[v] = max(statistics.median(sums) / cores, SLOW_START + statistics.median(peaks))
    out.append("## 1. Connect a fleet (stdio, servers sleep 0.3 s before serving)\n")
    out.append(d.load("connect"))
    out.append(
        "Wall time from opening the client until every tool of every server is listed, in seconds: "
        "median (min–max) over the repetitions, and the ratio to patchbay.\n"
    )
    out.append(
        "| client | "
        + " | ".join(f"{v} (s)" for v in variants)
        + " | "
        + " | ".join(f"{v} vs patchbay" for v in variants)
        + " |"
    )
    out.append("|---" * (1 + 2 * len(variants)) + "|")
    for c in d.clients("connect"):
        cells = []
        for v in variants:
            vals = d.values("connect", v, c, "wall_s")
            cells.append(cell(vals) if vals else failure_note(d, "connect", v, c))
        ratios = [
            ratio(d.median("connect", v, c, "wall_s"), d.median("connect", v, "patchbay", "wall_s"))
            for v in variants
        ]
        out.append(f"| {LABELS[c]} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    out.append(
        "| *CPU floor* | " + " | ".join(fmt(floors.get(v)) for v in variants) + " |" + " |" * len(variants)
    )
    out.append(
        f"\n*CPU floor* = max(Σ servers' start-up CPU ÷ {cores} cores, 0.3 s + one server's CPU): the "
        "servers' own CPU time (user + system, read with psutil when the listing completes, medians "
        "over all runs) is work no client can avoid on this machine.\n"
    )
    for v in variants:
        pb = d.median("connect", v, "patchbay", "wall_s")
        cpu = d.median("connect", v, "patchbay", "client_cpu_s")
        if cpu is not None:
            out.append(f"- {v}: patchbay's own process used {cpu:.2f} s CPU while connecting.")
        if v in ("N=10", "N=30"):
            floor = floors.get(v)
            if pb is None or floor is None:
                checks.append(target(None, f"connect {v}"))
                continue
            peers = {
                c: d.median("connect", v, c, "wall_s") for c in d.clients("connect", v) if c != "patchbay"
            }
            beaten = [c for c, t in peers.items() if t is not None and t <= pb]
            checks.append(
                target(
                    pb <= 1.1 * floor,
                    f"connect {v}: patchbay {pb:.2f} s = {pb / floor:.2f}× the CPU floor {floor:.2f} s "
                    f"(target ≤ 1.10×)",
                )
            )
            checks.append(
                target(
                    not beaten,
                    f"connect {v}: faster than every peer"
                    + (f" (not faster than: {', '.join(beaten)})" if beaten else ""),
                )
            )
    out.append("")
    return floors


def latency_table(d: Data, scenario: str, variants: list[str], out: list[str], unit_note: str) -> None:
    out.append(
        "| client | "
        + " | ".join(
            f"{v}: median µs | {v}: p99 µs | {v}: client CPU µs/call | {v}: vs patchbay" for v in variants
        )
        + " |"
    )
    out.append("|---" * (1 + 4 * len(variants)) + "|")
    for c in d.clients(scenario):
        cells = []
        for v in variants:
            vals = d.values(scenario, v, c, "median_us")
            if not vals:
                cells += [failure_note(d, scenario, v, c), "–", "–", "–"]
                continue
            calls = d.values(scenario, v, c, "calls")
            note = f" [{int(calls[0])} calls]" if calls and calls[0] < 1000 else ""
            cells.append(cell(vals, digits=0) + note)
            cells.append(fmt(d.median(scenario, v, c, "p99_us"), digits=0))
            cells.append(cell(d.values(scenario, v, c, "client_cpu_us"), digits=0))
            cells.append(
                ratio(d.median(scenario, v, c, "median_us"), d.median(scenario, v, "patchbay", "median_us"))
            )
        out.append(f"| {LABELS[c]} | " + " | ".join(cells) + " |")
    out.append(unit_note)


def latency_section(d: Data, out: list[str], checks: list[str]) -> None:
    out.append("## 2. Call latency (stdio, sequential `echo` calls after warm-up)\n")
    out.append(d.load("latency"))
    out.append(
        "Microseconds per call: median of the per-repetition medians (min–max), p99 = median of the "
        "per-repetition 99th percentiles. *SDK server* is an `MCPServer` (SDK 2.3); *raw server* is a "
        "hand-written stdlib JSON-RPC loop, so its column isolates the client's own cost.\n"
    )
    variants = [v for v in ("sdk-server", "raw-server") if d.clients("latency", v)]
    latency_table(d, "latency", variants, out, "")
    for v in variants:
        pb = d.median("latency", v, "patchbay", "median_us")
        sdk = d.median("latency", v, "sdk-session", "median_us")
        if pb is None or sdk is None:
            checks.append(target(None, f"latency ({v})"))
            continue
        pb_cpu = d.median("latency", v, "patchbay", "client_cpu_us")
        sdk_cpu = d.median("latency", v, "sdk-session", "client_cpu_us")
        cpu_note = (
            f"; client CPU per call {pb_cpu:.0f} vs {sdk_cpu:.0f} µs = {pb_cpu / sdk_cpu:.2f}×"
            if pb_cpu and sdk_cpu
            else ""
        )
        checks.append(
            target(
                pb <= 1.05 * sdk,
                f"call latency ({v}): patchbay {pb:.0f} µs = {pb / sdk:.2f}× the raw SDK `ClientSession` "
                f"{sdk:.0f} µs (target ≤ 1.05×){cpu_note}",
            )
        )
    overhead_section(d, out, checks)
    out.append("")


OVERHEAD_LABELS = {
    "sdk-session": "SDK `ClientSession` (`stdio_client`, 2025-11-25 handshake)",
    "patchbay": "**patchbay** `MCPManager.call_tool` (`protocol: auto`)",
    "patchbay-legacy": "patchbay `MCPManager.call_tool` (`protocol: legacy`)",
    "session": "the SDK session inside patchbay's connection, called directly",
}


def overhead_section(d: Data, out: list[str], checks: list[str]) -> None:
    """The in-process A/B of call_overhead.py: one process, interleaved blocks, same server script."""
    found = next(iter(d.by.get(("latency", "call_overhead.py", "patchbay"), [])), None)
    if not found:
        return
    if not found.get("ok"):
        out.append(f"\n`benchmarks/call_overhead.py` failed: {found.get('error', '?')[:200]}")
        return
    out.append(
        f"\n**In one process** (`benchmarks/call_overhead.py`: the clients below share one process and "
        f"call in interleaved blocks of {found['block']}, {found['rounds']} rounds; medians over blocks). "
        "Separate processes of one client differ by up to a third on this machine (where the scheduler "
        "puts client and server decides much of it), more than the effect measured; here that noise "
        "is shared. The last row is patchbay's own connection without patchbay's layers, so "
        "*patchbay − that row* is patchbay's own cost and *that row − SDK* the protocol revision's.\n"
    )
    servers = found["servers"]
    names = list(servers)
    out.append(
        "| client | " + " | ".join(f"{v}: µs/call | {v}: CPU µs/call | {v}: CPU vs SDK" for v in names) + " |"
    )
    out.append("|---" * (1 + 3 * len(names)) + "|")
    for client, label in OVERHEAD_LABELS.items():
        cells = []
        for v in names:
            row, base = servers[v]["clients"].get(client), servers[v]["clients"]["sdk-session"]
            if row is None:
                cells += ["–", "–", "–"]
                continue
            cells += [
                f"{row['wall_us']:,.0f}",
                f"{row['cpu_us']:,.0f}",
                f"{row['cpu_us'] / base['cpu_us']:.2f}×",
            ]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = ", ".join(f"{v}: patchbay negotiated {servers[v]['protocol']}" for v in names)
    out.append(f"\n({notes}.)")
    for v in names:
        rows = servers[v]["clients"]
        own = rows["patchbay"]["cpu_us"] - rows["session"]["cpu_us"]
        checks.append(
            target(
                rows["patchbay"]["wall_us"] <= 1.05 * rows["sdk-session"]["wall_us"],
                f"call latency in one process ({v}): patchbay {rows['patchbay']['wall_us']:.0f} µs = "
                f"{rows['patchbay']['wall_us'] / rows['sdk-session']['wall_us']:.2f}× the SDK session "
                f"(target ≤ 1.05×); patchbay's own layers {own:+.0f} µs CPU per call",
            )
        )


def concurrency_section(d: Data, out: list[str], checks: list[str]) -> None:
    out.append("## 3. Concurrency (stdio, SDK server)\n")
    out.append(d.load("concurrency"))
    out.append(
        "Calls per second with a fixed number of calls in flight (worker tasks calling back to back): "
        "64 on one server, and 16 on each of 8 servers. lc-stateless is not run: each call starts a "
        "server process (scenario 2 shows its per-call cost).\n"
    )
    variants = ["1x64", "8x16"]
    out.append(
        "| client | 64 in flight, 1 server (calls/s) | vs patchbay "
        "| 8 × 16 in flight (calls/s) | vs patchbay |"
    )
    out.append("|---|---|---|---|---|")
    for c in d.clients("concurrency"):
        cells = []
        for v in variants:
            vals = d.values("concurrency", v, c, "calls_per_s")
            cells.append(cell(vals, digits=0) if vals else failure_note(d, "concurrency", v, c))
            cells.append(
                ratio(
                    d.median("concurrency", v, c, "calls_per_s"),
                    d.median("concurrency", v, "patchbay", "calls_per_s"),
                )
            )
        out.append(f"| {LABELS[c]} | " + " | ".join(cells) + " |")
    for v in variants:
        pb = d.median("concurrency", v, "patchbay", "calls_per_s")
        sdk = d.median("concurrency", v, "sdk-session", "calls_per_s")
        if pb is None or sdk is None:
            checks.append(target(None, f"concurrency {v}"))
            continue
        checks.append(
            target(
                pb >= sdk,
                f"concurrency {v}: patchbay {pb:.0f} calls/s = {pb / sdk:.2f}× the raw SDK "
                f"`ClientSession` {sdk:.0f} calls/s (target ≥ 1.00×)",
            )
        )
    out.append("")


def close_section(d: Data, out: list[str], checks: list[str]) -> None:
    v = "10 stubborn servers"
    out.append("## 4. Close (10 stdio servers that ignore stdin EOF and SIGTERM, each with a grandchild)\n")
    out.append(d.load("close"))
    out.append(
        "Time for the client's close call, and processes of those servers (grandchildren included) "
        "still alive when it returns; 20 were running. The clients closed side by side (each waits on "
        "its own timers, so they do not compete for CPU). lc-stateless holds no sessions to close.\n"
    )
    out.append("| client | close (s) | vs patchbay | processes left (of 20) |")
    out.append("|---|---|---|---|")
    for c in d.clients("close", v):
        vals = d.values("close", v, c, "close_s")
        left = d.values("close", v, c, "processes_left")
        opened = d.values("close", v, c, "processes_open")
        left_text = ", ".join(str(int(x)) for x in left) + (
            f" (of {int(opened[0])})" if opened and opened[0] != 20 else ""
        )
        out.append(
            f"| {LABELS[c]} | {cell(vals) if vals else failure_note(d, 'close', v, c)} | "
            f"{ratio(d.median('close', v, c, 'close_s'), d.median('close', v, 'patchbay', 'close_s'))} | "
            f"{left_text or '–'} |"
        )
    pb = d.median("close", v, "patchbay", "close_s")
    left = d.values("close", v, "patchbay", "processes_left")
    if pb is None:
        checks.append(target(None, "close"))
    else:
        checks.append(
            target(
                pb <= 1.2 * SHUTDOWN_GRACE and not any(left),
                f"close: patchbay {pb:.2f} s = {pb / SHUTDOWN_GRACE:.2f}× one shutdown grace of "
                f"{SHUTDOWN_GRACE:g} s (target ≤ 1.20×), processes left: "
                f"{max(left, default=0):.0f} (target 0)",
            )
        )
    out.append("")


def crash_section(d: Data, out: list[str], checks: list[str]) -> None:
    v = "kill -9"
    out.append("## 5. Crash recovery (`kill -9` the server, then keep calling)\n")
    out.append(d.load("crash"))
    caps = [r["cap_s"] for c in d.clients("crash", v) for r in d.ok("crash", v, c) if "cap_s" in r]
    cap = f"{max(caps):g}" if caps else "5"  # run.py's crash_cap (older records do not carry it)
    out.append(
        "Seconds from the kill until a call succeeds again with no recovery code in the caller (the "
        f'harness retries every 0.1 s). "never" = still failing {cap} s after the kill. lc-stateless '
        "has no server between calls (each call starts one), so there is nothing to kill.\n"
    )
    out.append("| client | recovered after (s) | first error the caller saw |")
    out.append("|---|---|---|")
    for c in d.clients("crash", v):
        rows = d.ok("crash", v, c)
        times = [r["recovered_s"] for r in rows if r.get("recovered_s") is not None]
        nevers = sum(1 for r in rows if r.get("recovered_s") is None)
        text = cell(times) if times else ""
        if nevers:
            text += (", " if text else "") + f"never ×{nevers}"
        errors = sorted({str(r.get("first_error")) for r in rows if r.get("first_error")})
        errors += [f"run failed: {e}" for e in d.errors("crash", v, c)]
        out.append(
            f"| {LABELS[c]} | {text or failure_note(d, 'crash', v, c)} | {'; '.join(errors)[:160] or '–'} |"
        )
    rows = d.ok("crash", v, "patchbay")
    if not rows:
        checks.append(target(None, "crash recovery"))
    else:
        worst = []
        for r in rows:
            startup = (r.get("reconnect_connect_ms") or 0) / 1000
            limit = BASE_DELAY + startup + 0.5
            worst.append((r.get("recovered_s"), limit, startup))
        ok = all(t is not None and t <= lim for t, lim, _ in worst)
        desc = ", ".join(
            f"{t:.2f} s ≤ {lim:.2f} s"
            if t is not None and t <= lim
            else (f"{t:.2f} s > {lim:.2f} s" if t is not None else "never")
            for t, lim, _ in worst
        )
        checks.append(
            target(
                ok,
                f"crash recovery: patchbay per run vs base delay {BASE_DELAY:g} s + that "
                f"run's server start-up + 0.5 s: {desc}",
            )
        )
    out.append("")


def hang_section(d: Data, out: list[str], checks: list[str]) -> None:
    v = "never-answering tool"
    out.append("## 6. Hang (a tool that never answers; every client on its default settings)\n")
    out.append(d.load("hang"))
    out.append(
        'Seconds until the caller gets an error; "never" = nothing after 60 s. All clients ran '
        "side by side (each is idle, waiting).\n"
    )
    out.append("| client | error after (s) | what the caller got |")
    out.append("|---|---|---|")
    for c in d.clients("hang", v):
        rows = d.ok("hang", v, c)
        times = [r["error_after_s"] for r in rows if r.get("error_after_s") is not None]
        nevers = sum(1 for r in rows if r.get("error_after_s") is None)
        text = cell(times) if times else ""
        if nevers:
            text += (", " if text else "") + f"never ×{nevers}"
        outcomes = sorted({str(r.get("outcome")) for r in rows})
        out.append(f"| {LABELS[c]} | {text or failure_note(d, 'hang', v, c)} | {'; '.join(outcomes)[:160]} |")
    times = d.values("hang", v, "patchbay", "error_after_s")
    rows = d.ok("hang", v, "patchbay")
    if not rows:
        checks.append(target(None, "hang"))
    else:
        ok = len(times) == len(rows) and max(times) <= DEFAULT_TIMEOUT + 1
        checks.append(
            target(ok, f"hang: patchbay errors after {cell(times)} s (target ≤ {DEFAULT_TIMEOUT + 1:g} s)")
        )
    out.append("")


def memory_section(d: Data, out: list[str], checks: list[str]) -> None:
    out.append("## 7. Memory (host RSS with 1 and 20 open stdio sessions)\n")
    out.append(d.load("memory"))
    out.append(
        "Resident set of the client process after connecting to N raw servers and calling each once "
        "(`gc.collect()` first), median (min–max) in MB; per extra connection = (RSS₂₀ − RSS₁) ÷ 19 "
        "on the medians. Raw servers keep the run short; the client-side cost does not depend on them.\n"
    )
    out.append("| client | RSS, 1 session (MB) | RSS, 20 sessions (MB) | per extra connection (KB) |")
    out.append("|---|---|---|---|")
    for c in d.clients("memory"):
        one = d.values("memory", "N=1", c, "rss_kb")
        twenty = d.values("memory", "N=20", c, "rss_kb")
        per = (statistics.median(twenty) - statistics.median(one)) / 19 if one and twenty else None
        out.append(
            f"| {LABELS[c]} | {cell(one, scale=1 / 1024, digits=1)} "
            f"| {cell(twenty, scale=1 / 1024, digits=1)} "
            f"| {fmt(per, digits=0)} |"
        )
    one = d.values("memory", "N=1", "patchbay", "rss_kb")
    twenty = d.values("memory", "N=20", "patchbay", "rss_kb")
    if one and twenty:
        per = (statistics.median(twenty) - statistics.median(one)) / 19
        checks.append(
            target(per <= 150, f"memory: patchbay {per:.0f} KB per extra idle connection (target ≤ 150 KB)")
        )
    else:
        checks.append(target(None, "memory"))
    out.append("")


def startup_section(d: Data, out: list[str], checks: list[str]) -> None:
    out.append("## 8. Start-up (wall time of a fresh process)\n")
    out.append(d.load("startup"))
    names = [
        "python -c pass",
        "import patchbay",
        "patchbay --help",
        "import mcp (SDK 2.3)",
        "import fastmcp",
        "import langchain_mcp_adapters.client",
        "import mcp_use",
    ]
    base = None
    for c in d.clients("startup", "python -c pass") or ["python"]:
        base = d.median("startup", "python -c pass", c, "wall_s")
    out.append("| command | ms | vs `python -c pass` |")
    out.append("|---|---|---|")
    medians: dict[str, float | None] = {}
    for name in names:
        rows = [r for (s, v, _c), rs in d.by.items() if s == "startup" and v == name for r in rs]
        vals = [r["wall_s"] for r in rows if r.get("ok")]
        medians[name] = statistics.median(vals) if vals else None
        text = cell(vals, scale=1000, digits=0) if vals else (rows[0].get("error", "–")[:80] if rows else "–")
        out.append(f"| `{name}` | {text} | {ratio(medians[name], base)} |")
    modules = next(
        (
            r.get("modules")
            for (s, v, _c), rs in d.by.items()
            if s == "startup" and v == "modules after import patchbay"
            for r in rs
        ),
        None,
    )
    if modules:
        loaded = [m for m, present in modules.items() if present is True]
        out.append(
            f"\nAfter `import patchbay`, of {', '.join(modules)} these are loaded: "
            f"{', '.join(loaded) or 'none'}."
        )
    script = next(
        (r for (s, v, _c), rs in d.by.items() if s == "startup" and v == "startup.py" for r in rs), None
    )
    if script and script.get("ok"):
        out.append(
            f"\n`benchmarks/startup.py` (the CLI's own start-up benchmark, {script.get('runs')} interleaved "
            "runs, run by `make bench` too):\n"
        )
        out.append("| command | median ms | min–max ms | vs `python -c pass` |")
        out.append("|---|---|---|---|")
        for row in script.get("results", []):
            out.append(
                f"| `{row['command']}` | {row['median_ms']:.0f} | {row['min_ms']:.0f}–{row['max_ms']:.0f} "
                f"| {row['ratio_to_python_pass']:.1f}× |"
            )
        flags = [f"{k}: {'yes' if v else 'no'}" for k, v in script.items() if k.endswith("imports mcp")]
        if flags:
            out.append("\n" + "; ".join(flags) + ".")
    elif script:
        out.append(f"\n`benchmarks/startup.py` failed: {script.get('error', '?')[:200]}")
    helptime = medians.get("patchbay --help")
    if helptime is None or base is None:
        checks.append(target(None, "`patchbay --help` start-up"))
    else:
        checks.append(
            target(
                helptime <= 0.3 and helptime <= 5 * base,
                f"`patchbay --help` {helptime * 1000:.0f} ms (target ≤ 300 ms and ≤ 5 × "
                f"`python -c pass` = {5 * base * 1000:.0f} ms)",
            )
        )
    if modules:
        server_stack = [
            m for m in ("mcp.server", "mcp.server.mcpserver", "starlette", "uvicorn") if modules.get(m)
        ]
        checks.append(
            target(
                not server_stack,
                "`import patchbay` does not import the SDK's server stack"
                + (f" (loaded: {', '.join(server_stack)})" if server_stack else ""),
            )
        )
    out.append("")


def http_section(d: Data, out: list[str], checks: list[str]) -> None:
    v = "streamable HTTP, SDK server"
    out.append("## 9. Streamable HTTP (scenario 2 against one local `MCPServer` on 127.0.0.1)\n")
    out.append(d.load("http"))
    latency_table(d, "http", [v], out, "")
    pb = d.median("http", v, "patchbay", "median_us")
    sdk = d.median("http", v, "sdk-session", "median_us")
    if pb is not None and sdk is not None:
        out.append(f"\npatchbay / raw SDK `ClientSession` over HTTP: {pb / sdk:.2f}×.")
    out.append("")


# ---------------------------------------------------------------------------------------- chart


def chart(d: Data, floors: dict[str, float], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    variants = [v for v in ("N=10", "N=30") if d.clients("connect", v)]
    clients = [c for c in d.clients("connect") if c != "patchbay-legacy"]
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        meds = [d.median("connect", v, c, "wall_s") or 0 for c in clients]
        xs = [k + i * width for k in range(len(clients))]
        bars = ax1.bar(xs, meds, width, label=v, color=["#1f77b4", "#ff7f0e"][i % 2])
        for bar, client in zip(bars, clients, strict=True):
            if client == "patchbay":
                bar.set_edgecolor("black")
                bar.set_linewidth(1.5)
        if v in floors:
            ax1.hlines(
                floors[v],
                -0.4,
                len(clients) - 0.2,
                colors=["#1f77b4", "#ff7f0e"][i % 2],
                linestyles="dashed",
                label=f"CPU floor {v}",
            )
    ax1.set_xticks([k + width * (len(variants) - 1) / 2 for k in range(len(clients))])
    ax1.set_xticklabels(clients, rotation=30, ha="right")
    from matplotlib.patches import Patch

    handles = [Patch(color=["#1f77b4", "#ff7f0e"][i % 2], label=v) for i, v in enumerate(variants)]
    handles += [h for h in ax1.get_legend_handles_labels()[0] if not hasattr(h, "patches")]
    ax1.legend(handles=handles, fontsize=8)
    ax1.set_ylabel("seconds until every tool is listed")
    ax1.set_title("1. Connect N slow-start stdio servers (lower is better; patchbay outlined)")

    lat_clients = [c for c in d.clients("latency") if c != "lc-stateless"]
    variants2 = [v for v in ("sdk-server", "raw-server") if d.clients("latency", v)]
    width2 = 0.8 / max(1, len(variants2))
    for i, v in enumerate(variants2):
        meds = [d.median("latency", v, c, "median_us") or 0 for c in lat_clients]
        xs = [k + i * width2 for k in range(len(lat_clients))]
        ax2.bar(xs, meds, width2, label=f"{v}", color=["#2ca02c", "#9467bd"][i % 2])
    ax2.set_xticks([k + width2 * (len(variants2) - 1) / 2 for k in range(len(lat_clients))])
    ax2.set_xticklabels(lat_clients, rotation=30, ha="right")
    ax2.set_ylabel("median µs per call")
    stateless = d.median("latency", "sdk-server", "lc-stateless", "median_us")
    note = f" (lc-stateless: {stateless / 1000:,.0f} ms, off the chart)" if stateless else ""
    ax2.set_title("2. Sequential echo call latency, lower is better" + note, fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------- main


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "latest.jsonl"
    meta, rows = load(source)
    d = Data(rows)
    cores = int(meta.get("cores") or 2)
    out: list[str] = []
    checks: list[str] = []
    body: list[str] = []
    floors = connect_section(d, cores, body, checks)
    latency_section(d, body, checks)
    concurrency_section(d, body, checks)
    close_section(d, body, checks)
    crash_section(d, body, checks)
    hang_section(d, body, checks)
    memory_section(d, body, checks)
    startup_section(d, body, checks)
    http_section(d, body, checks)
    has_chart = chart(d, floors, HERE / "benchmarks.png")

    v2, v1 = meta.get("sdk2_venv", {}), meta.get("sdk1_venv", {})
    total = d.seconds("total")
    out.append("# patchbay benchmarks: side by side with the SDK and the other Python MCP clients\n")
    out.append(
        f"Measured {meta.get('date', '?')} by `make bench` ({meta.get('profile', '?')} profile"
        + (f", {total / 60:.1f} min" if total else "")
        + "). Regenerate with `make bench`; raw records are in `results/latest.jsonl`.\n"
    )
    out.append(
        f"**Machine:** {meta.get('cores')} cores ({meta.get('cpu')}), {meta.get('memory_gb')} GB, "
        f"{meta.get('os')}, Python {meta.get('python')}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in meta.get('load_at_start', []))} (other work shares this machine).\n"
    )
    out.append(
        "**Versions:** "
        + ", ".join(f"{k} {val}" for k, val in v2.items())
        + " (bench venv `.venv`); "
        + ", ".join(f"{k} {val}" for k, val in v1.items())
        + " (bench venv `.venv-mcp1`: langchain-mcp-adapters and mcp-use resolve to the SDK 1.x). "
        "Every server runs on the SDK 2.3 interpreter, so every client talks to the same servers. "
        "mcp-use telemetry is switched off (`MCP_USE_ANONYMIZED_TELEMETRY=false`).\n"
    )
    out.append(
        "**Method:** each measurement is a fresh process per client; clients are interleaved "
        "(A B C … A B C …) over the repetitions; figures are medians with (min–max) across "
        "repetitions, ratios compare medians from this same run. Servers are in `benchmarks/servers/`.\n"
    )
    if has_chart:
        out.append("![connect and call latency](benchmarks.png)\n")
    out.append("## Targets (patchbay, computed from this run)\n")
    out.extend(checks)
    out.append("")
    out.extend(body)
    notes = HERE / "NOTES.md"
    if notes.exists():
        out.append(notes.read_text().strip() + "\n")
    (HERE / "RESULTS.md").write_text("\n".join(out))
    print("\n".join(checks))


if __name__ == "__main__":
    main()
