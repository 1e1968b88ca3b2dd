"""Run the real service (`tasklogs serve`) in a subprocess on loopback, for
tests that must talk to it over a socket (contract fuzzing, several workers)."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


# The server process behind each base URL, for tests that kill it.
PROCESSES: dict[str, subprocess.Popen] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tasklogs(env: dict[str, str], *args: str) -> str:
    """Run a `tasklogs` command with this environment; its standard output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tasklogs {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@contextmanager
def live_service(database_url: str, *, workers: int = 1, **settings: str) -> Iterator[tuple[str, str]]:
    """Migrate, load the demo company, create a platform key, serve. Yields (base URL, API key)."""
    env = {
        **os.environ,
        "TASKLOGS_DATABASE_URL": database_url,
        "TASKLOGS_LOG_LEVEL": "warning",
        "TASKLOGS_JWT_SECRET": "live-server-secret-0123456789abcdef0123456789",
        **{f"TASKLOGS_{k.upper()}": v for k, v in settings.items()},
    }
    tasklogs(env, "migrate")
    tasklogs(env, "demo")
    # Load and fuzzing tests send far more than a service's usual 600 requests a minute.
    key = tasklogs(env, "apikey", "create", "--name", "live-test", "--rate-limit", "1000000").strip()
    port = free_port()
    # The server's own output, for the failure message if it dies.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log_file.seek(0)
                raise RuntimeError(f"the service did not start: {log_file.read().decode(errors='replace')}")
            time.sleep(0.2)
        PROCESSES[base] = server
        yield base, key
    finally:
        PROCESSES.pop(base, None)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.seek(0)
        output = log_file.read().decode(errors="replace")
        log_file.close()
        if os.environ.get("TASKLOGS_TEST_SERVER_LOG"):
            Path(os.environ["TASKLOGS_TEST_SERVER_LOG"]).write_text(output)
