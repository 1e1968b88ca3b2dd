"""Markdown of a run's figures, for bench/RESULTS.md:

python -m bench.report [bench/results/latest.json]
"""

import json
import re
import sys
from pathlib import Path


def verdict(row: dict) -> str:
    if row.get("met") is None:
        return ""
    return "yes" if row["met"] else "**no**"


def target(row: dict) -> str:
    if "target" in row:  # runs since the wrk rows: the run writes the target's text
        return re.sub(r"(\d)x\b", "\\1×", row["target"].replace(">=", "≥").replace("<=", "≤"))
    t = row.get("target_ratio")
    if row["key"] == "memory_rss":
        return "< 250 MB"
    if t is None:
        return ""
    text = f"≥ {t:g}×" if row["key"] == "single_rps" else f"≤ {t:g}×"
    return text + (" and < 50 ms" if row["key"].startswith("timesheet_employee") else "")


def render(result: dict) -> str:
    out = [
        f"Run of {result['date']}, {result['cores']} cores, Python {result['python']}, commit "
        f"{result.get('commit', '?')}; {result['repeats']} repeats (median, after 1 warm-up), "
        f"{result['duration_s']:g} s load runs; whole run {result['runtime_s']:.0f} s.",
        "",
        "| row | ours | floor | ours / floor | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in result["rows"]:
        if row["ours"] is None:
            out.append(f"| {row['title']} | – | – | – | | {row['note']} |")
            continue
        unit = row["unit"]
        floor = f"{row['floor']:,.1f} {unit}" if row.get("floor") is not None else "–"
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") is not None else "–"
        out.append(
            f"| {row['title']} | {row['ours']:,.1f} {unit} | {floor} | {ratio} | {target(row)} | {verdict(row)} |"
        )
    fit = result.get("bulk_fit")
    if fit:
        out += [
            "",
            f"Bulk cost, least squares over single-request batches of {sorted(fit['ours']['sizes'])} rows:",
            "",
            "| | per row | fixed per request | R² | 10,000 in chunks ÷ (10 × 1,000) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for side in ("ours", "floor"):
            f = fit[side]
            out.append(
                f"| {side} | {f['per_row_us']:,.0f} µs | {f['fixed_ms']:,.1f} ms | {f['r2']:.3f} | "
                f"{f['chunked_10000_over_10x1000']:.2f} |"
            )
    if "rss_end_kb" in result:
        rss, peak = result["rss_end_kb"], result["rss_peak_kb"]
        out += [
            "",
            f"Memory (VmRSS summed over the process tree): service {rss['ours'] / 1024:.0f} MB after the "
            f"run (peak VmHWM {peak['ours'] / 1024:.0f} MB, {result['rss_start_kb']['ours'] / 1024:.0f} MB at "
            f"start); floor {rss['floor'] / 1024:.0f} MB.",
        ]
    two = next((r for r in result["rows"] if r["key"] == "single_spread_2w_rps" and r.get("worker_cpu_share")), None)
    if two:
        out.append(
            "Load of the 2 service workers (CPU time of each over the measured wrk runs, from /proc): "
            + " / ".join(f"{s:.0%}" for s in two["worker_cpu_share"])
            + "."
        )
    cpu = result.get("load_client_cpu_share")  # runs before the wrk rows: the httpx load client
    if isinstance(cpu, dict):
        out.append(
            f"The load client process used {cpu['ours']:.0%} of a core against ours and "
            f"{cpu['floor']:.0%} against the floor (median over runs; near 100 % the client set the pace)."
        )
    elif cpu is not None:
        out.append(f"The load client process used {cpu:.0%} of a core (median over all runs).")
    for key, prof in (result.get("profiles") or {}).items():
        out += ["", f"### Profile: {key}", ""]
        spy = prof.get("pyspy", {})
        if "app" in spy:
            out.append(
                f"py-spy on the service, {spy['operations']} operations in a loop: the service's Python was "
                f"busy {spy['cpu_share']:.0%} of the time, {spy['cpu_ms_per_op']:.0f} ms of Python per "
                "operation. Inclusive share of the samples:"
            )
            out += ["", "| share | function (service) |", "| ---: | --- |"]
            out += [f"| {s:.0%} | `{n}` |" for n, s in spy["app"][:12] if not n.startswith("<module>")]
            out += ["", "| share | function (all, below the event loop) |", "| ---: | --- |"]
            out += [f"| {s:.0%} | `{n}` |" for n, s in spy["inclusive"][:14]]
        sql = prof.get("sql")
        if sql:
            ops = sql["operations"]
            out += [
                "",
                f"SQL timed in the service (bench/traced_service.py), one operation at a time: "
                f"{sql['wall_s'] / ops * 1000:.0f} ms per operation, of which "
                f"{sql['db_s'] / ops * 1000:.0f} ms in statements:",
                "",
                "| ms / op | calls / op | statement |",
                "| ---: | ---: | --- |",
            ]
            for s in sql["statements"][:8]:
                text = s["sql"][:140].replace("|", "\\|")
                out.append(f"| {s['ms_per_op']:.1f} | {s['calls_per_op']:.1f} | `{text}` |")
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json")
    print(render(json.loads(path.read_text())))
