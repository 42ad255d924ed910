"""``caw d1 local``: a real D1 on this machine, to try the distributed backend without an account."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from caw_lab.cli import main
from caw_lab.d1local import LocalD1

WATCH_INTERVAL_S = 1.0
"""How often ``caw d1 local`` checks that its server still serves."""
SILENT_PROBES = 3
"""Unanswered checks in a row after which the server counts as dead: Miniflare restarts a
crashed workerd, and the few seconds that takes are not a death."""


@main.group()
def d1() -> None:
    """Cloudflare D1: the database for agents on many machines."""


@d1.command()
@click.option("--port", type=int, default=8787, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
@click.option("--persist", type=click.Path(file_okay=False), default=".caw/d1", show_default=True,
              help="Directory where the local D1 keeps its data.")
@click.option("--database", default="local", show_default=True, help="Database id to serve.")
def local(port: int, persist: str, database: str) -> None:
    """Serve the D1 REST API on 127.0.0.1 in front of a real local D1 (Miniflare/workerd).

    Prints the environment to export so `caw --db d1://local/DATABASE` reaches it; runs
    until interrupted, or exits with status 1 once the server has died (node exited, or
    three checks a second apart went unanswered). The first run installs Node 22 and
    Miniflare from npm.
    """
    server = LocalD1(Path(persist), [database], port).start()
    click.echo(f"Local D1 ready on {server.api}")
    for name, value in server.env().items():
        click.echo(f"export {name}={value}")
    click.echo(f"caw --db {server.url()} workflows")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        if watch(server, stopped):
            server.kill()  # whatever is left of it: node, workerd, or both frozen
            click.echo("The local D1 server died; stopping.", err=True)
            raise SystemExit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def watch(server: LocalD1, stopped: threading.Event) -> bool:
    """Wait until asked to stop (False) or until the server is dead (True)."""
    silent = 0
    while not stopped.wait(WATCH_INTERVAL_S):
        if not server.running():
            return True
        silent = 0 if server.answers() else silent + 1
        if silent >= SILENT_PROBES:
            return True
    return False
