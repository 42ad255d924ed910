"""``caw d1 local``: a real D1 on this machine, to try the distributed backend without an account."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from caw_lab.cli import main
from caw_lab.d1local import LocalD1


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
    until interrupted. The first run installs Node 22 and Miniflare from npm (~10 s).
    """
    server = LocalD1(Path(persist), [database], port).start()
    click.echo(f"Local D1 ready on {server.api}")
    for name, value in server.env().items():
        click.echo(f"export {name}={value}")
    click.echo(f"caw --db {server.url()} workflows")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
