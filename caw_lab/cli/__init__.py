"""The ``caw`` command: one click group; each module of this package adds its commands.

A module registers itself with ``@main.command()`` or ``@main.group()``; adding a command
never means editing this file. Modules are imported when needed: ``caw X`` first imports
the module named ``X`` (so name a module for its command, and keep heavy imports inside
the command), listing or help imports them all. Commands reach the database through
:func:`open_client`, which honours the global ``--db``.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

import click

from caw_lab.errors import CawError
from caw_lab.store.location import resolve_db
from caw_lab.tools.client import Client, connect
from caw_lab.version import __version__


@dataclass(frozen=True)
class Settings:
    """The global options, handed to every command through the click context."""

    db: str | None = None


class CawGroup(click.Group):
    """Finds commands in this package's modules, and shows a refused request as the CawError
    JSON on stderr with exit status 1, for every command."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            load_module(cmd_name.replace("-", "_"))
        if cmd_name not in self.commands:
            load_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """``caw --template NAME "description"``: the words after the options are the new
        workflow's name, not a command (the reference's shortcut)."""
        if ctx.params.get("template") is not None:
            from caw_lab.cli.templates import apply_from_flag

            return "--template", apply_from_flag, args
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CawError as err:
            click.echo(err.to_json(), err=True)
            ctx.exit(1)


@click.group(cls=CawGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", package_name="caw-lab")
@click.option(
    "--db", metavar="PATH", help="Database file, or d1://ACCOUNT/DATABASE; overrides CAW_DB_PATH and CAW_DB_MODE.",
)
@click.option("--server", is_flag=True, help="Run the MCP server instead of a command.")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    envvar="CAW_TRANSPORT",
    show_default=True,
    show_envvar=True,
    help="MCP transport for --server.",
)
@click.option(
    "--port", type=int, default=3100, envvar="CAW_PORT", show_default=True, show_envvar=True,
    help="HTTP port for --server --transport http.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the HTTP server binds.")
@click.option(
    "--token", envvar="CAW_TOKEN", show_envvar=True,
    help="Bearer token the HTTP server requires (default: one generated once and kept in ~/.caw/http-token); "
         "needed to bind beyond loopback.",
)
@click.option(
    "--allow-host", "allowed_hosts", multiple=True, metavar="HOST[:PORT]", envvar="CAW_ALLOWED_HOSTS",
    show_envvar=True, help="Another Host header the HTTP server accepts, besides its address and loopback "
                           "(repeatable).",
)
@click.option(
    "--allow-origin", "allowed_origins", multiple=True, metavar="ORIGIN", envvar="CAW_ALLOWED_ORIGINS",
    show_envvar=True, help="A web origin (scheme://host[:port]) allowed to call the HTTP server besides loopback "
                           "pages (repeatable).",
)
@click.option(
    "--request-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS", envvar="CAW_REQUEST_TIMEOUT",
    show_envvar=True, help="HTTP: seconds a client gets to send a request's headers, and again its body; a slower "
                           "client is dropped [default: 10].",
)
@click.option(
    "--metrics-port", type=int, envvar="CAW_METRICS_PORT", show_envvar=True,
    help="With --server, serve Prometheus metrics at 127.0.0.1:PORT/metrics (needs caw-lab[telemetry]).",
)
@click.option(
    "--otlp-endpoint", metavar="URL",
    help="Send traces and metrics over OTLP/HTTP to the collector at URL (e.g. http://localhost:4318), "
         "as OTEL_EXPORTER_OTLP_ENDPOINT does (needs caw-lab[telemetry]).",
)
@click.option(
    "--tools", "tool_profile", metavar="PROFILE", envvar="CAW_TOOLS", show_envvar=True,
    help="With --server, the tools to list: agent, reference, all (default), or a comma list of tools and groups.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", envvar="CAW_LOG_FORMAT",
    show_default=True, show_envvar=True, help="How caw-lab logs to stderr: json lines carry correlation ids.",
)
@click.option("--template", metavar="NAME", help='Create a workflow from template NAME: caw --template NAME "name".')
@click.option("--var", "template_vars", multiple=True, metavar="NAME=VALUE",
              help="With --template: a variable's value (repeatable).")
@click.option("--list-templates", is_flag=True, help="List the templates from every source, and exit.")
@click.pass_context
def main(
    ctx: click.Context, db: str | None, server: bool, transport: str, port: int, host: str, token: str | None,
    allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...], request_timeout: float | None,
    metrics_port: int | None, otlp_endpoint: str | None, log_format: str, template: str | None,
    template_vars: tuple[str, ...], list_templates: bool, tool_profile: str | None,
) -> None:
    """caw-lab: durable, steerable workflows for coding agents.

    Run a command below, or `caw --server` to serve the tools over MCP.
    """
    ctx.obj = Settings(db=db)
    if log_format == "json":
        from caw_lab.telemetry.logs import log_json

        log_json()
    if server:
        http = HttpOptions(host, port, token, allowed_hosts, allowed_origins, request_timeout)
        serve(resolve_db(db), transport, http, metrics_port, otlp_endpoint, tool_profile)
        ctx.exit()
    export_for_command(ctx, otlp_endpoint)
    if list_templates:
        from caw_lab.cli.templates import list_command

        ctx.invoke(list_command)
        ctx.exit()
    if template is not None and ctx.invoked_subcommand is None:
        raise click.UsageError('--template needs the new workflow\'s name: caw --template NAME "name"')
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@dataclass(frozen=True)
class HttpOptions:
    """The options of ``caw --server --transport http``."""

    host: str
    port: int
    token: str | None
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    request_timeout: float | None


def serve(db: str, transport: str, http: HttpOptions, metrics_port: int | None, otlp_endpoint: str | None,
          tools: str | None) -> None:
    """Hand over to the MCP server (imported here: no other command needs the SDK). Its refusal to
    serve HTTP beyond loopback without a token (DESIGN invariant 7), and a tool profile naming no
    tool, are usage errors, exit status 2: a client sees the server refuse to start, not an empty list."""
    mcp = import_server()
    from caw_lab.mcp import profiles

    if tools and tools not in profiles.PROFILES:  # a comma list: checked now, at the cost of importing the tools
        try:
            profiles.select(tools)
        except CawError as err:
            raise click.UsageError(f"{err.message}. {err.suggestion}") from None
    if transport == "http":
        try:
            mcp.require_token_off_loopback(http.host, http.token)
        except CawError as err:
            raise click.UsageError(f"{err.message}. {err.suggestion}") from None
    mcp.serve(db=db, transport=transport, host=http.host, port=http.port, token=http.token,
              metrics_port=metrics_port, allowed_hosts=split_list(http.allowed_hosts),
              allowed_origins=split_list(http.allowed_origins), request_timeout_s=http.request_timeout,
              otlp_endpoint=otlp_endpoint, tools=tools)


def export_for_command(ctx: click.Context, otlp_endpoint: str | None) -> None:
    """A command other than the server (``caw run``'s executor above all) exports its spans too,
    when an OTLP endpoint is given; the SDK is imported only then."""
    from caw_lab.telemetry.export import exported, otlp_wanted

    if otlp_wanted(otlp_endpoint):
        ctx.with_resource(exported(None, otlp_endpoint=otlp_endpoint))


def split_list(values: tuple[str, ...]) -> list[str]:
    """Repeated options, or one environment variable holding several values apart by spaces or commas."""
    return [item for value in values for item in value.replace(",", " ").split()]


YOUNG_GENERATION = 20_000
"""Allocations between collections of the youngest generation while serving (Python's default: 700)."""


def import_server() -> ModuleType:
    """The server, imported with the garbage collector paused: the SDK defines some six hundred
    pydantic models, and collecting while they are built is a tenth of a server's start-up
    spent finding no garbage. The objects imported are then frozen out of later collections,
    and the youngest generation is collected less often: a request allocates a few hundred
    short-lived objects (the SDK's models and tasks), and collecting every 700 of them was a
    fifth of the CPU a ping costs the server."""
    gc.disable()
    try:
        from caw_lab import mcp
    finally:
        gc.freeze()
        gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
        gc.enable()
    return mcp


def open_client() -> Client:
    """A client on the database the global options name; commands close it with ``with``."""
    settings = click.get_current_context().find_object(Settings) or Settings()
    return connect(settings.db)


def load_module(name: str) -> None:
    """Import the module ``name`` of this package if there is one: the fast path to a command."""
    if any(module.name == name for module in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{name}")


def load_commands() -> None:
    """Import every module of this package so each registers its commands on ``main``."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")

__all__ = ["CawGroup", "Settings", "main", "open_client"]
