"""Closed-loop load generator, run as its own process by bench.run:
`concurrency` async httpx clients each POST a new single task log, wait for
the answer, and send the next, until `duration` seconds have passed. Every
client logs for its own writer employee (a fresh one per run), so every
request is a real create, never a duplicate.

Prints one JSON object: requests, errors, requests/s, latency percentiles,
and this process's CPU seconds (to see whether the client was the limit)."""

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta

import httpx

from bench.data import home_project, task_ids


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def client(http: httpx.AsyncClient, url: str, employee: int, deadline: float,
                 latencies: list[float], errors: list[int], start_day: date) -> None:
    tasks = task_ids(home_project(employee))
    base = datetime.combine(start_day, datetime.min.time(), UTC)
    i = 0
    while time.perf_counter() < deadline:
        start = base + timedelta(days=i // 4, hours=(9, 11, 14, 16)[i % 4])
        body = {"taskId": tasks[i % len(tasks)], "userId": employee,
                "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endTime": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "description": f"Single {i}", "manualAdd": False}
        i += 1
        sent = time.perf_counter()
        try:
            answer = await http.post(url, json=body)
        except httpx.HTTPError:
            errors.append(0)
            continue
        if answer.status_code not in (200, 201):
            errors.append(answer.status_code)
            continue
        latencies.append(time.perf_counter() - sent)


async def main(args: argparse.Namespace) -> dict:
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    latencies: list[float] = []
    errors: list[int] = []
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:
        started = time.perf_counter()
        deadline = started + args.duration
        await asyncio.gather(*(
            client(http, args.url, args.first_employee + n, deadline, latencies, errors, date(2012, 1, 2))
            for n in range(args.concurrency)
        ))
        elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": len(latencies), "errors": len(errors), "error_statuses": sorted(set(errors))[:10],
        "elapsed_s": elapsed, "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000, "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000, "max_ms": max(latencies, default=0) * 1000,
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", default=os.environ.get("BENCH_API_KEY"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--first-employee", type=int, required=True)
    arguments = parser.parse_args()
    if not arguments.url.startswith("http://127.0.0.1:"):
        sys.exit("the load generator only talks to 127.0.0.1")
    try:
        import uvloop

        result = uvloop.run(main(arguments))
    except ImportError:
        result = asyncio.run(main(arguments))
    print(json.dumps(result))
