"""``caw templates``: list, show, compare and apply templates; registries to search, install
from and publish to. ``caw --list-templates`` and ``caw --template NAME "name"`` are the
reference's shortcuts for the listing and for applying."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json, echo_table
from caw_lab.errors import invalid_input

REPO_OPTION = click.option(
    "--repo",
    "repository_path",
    metavar="PATH",
    help="Repository whose .caw/templates to read (default: CAW_REPO_PATH or the current one).",
)


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise invalid_input(f"--var {pair!r} is not NAME=VALUE", "Write variables like --var bug='login fails'.")
        values[name] = value
    return values


def print_listing(listing: dict[str, Any], show_shadowed: bool) -> None:
    rows = []
    for t in listing["templates"]:
        rows.append((t["name"], t["version"], t["source"], t["description"] or "", t["id"]))
        if show_shadowed:
            rows += [(f"  (shadows) {t['name']}", s["version"], s["source"], "", s["id"]) for s in t["shadowed"]]
    if rows:
        echo_table(rows, ["name", "version", "source", "description", "id"])
    else:
        click.echo("No templates found.")
    for warning in listing["warnings"]:
        click.echo(f"warning: {warning}", err=True)


def apply_template(ref: str, workflow_name: str, variables: dict[str, str], repository_path: str | None) -> str:
    with open_client() as client:
        applied = client.call(
            "template_apply",
            template_id=ref,
            workflow_name=workflow_name,
            variables=variables,
            **({"repository_path": repository_path} if repository_path else {}),
        )
    return str(applied["workflow_id"])


@main.group()
def templates() -> None:
    """Workflow templates from the repository, your ~/.caw, the database, the package and registries."""


@templates.command("list")
@REPO_OPTION
@click.option("--all", "show_shadowed", is_flag=True, help="Also show the templates each winner shadows.")
@click.option("--json", "as_json", is_flag=True, help="Print the template_list result as JSON.")
def list_command(repository_path: str | None, show_shadowed: bool, as_json: bool) -> None:
    """Every template name with the source that wins it (repo > user > db > builtin)."""
    with open_client() as client:
        listing = client.call("template_list", repository_path=repository_path)
    if as_json:
        echo_json(listing)
    else:
        print_listing(listing, show_shadowed)


@templates.command()
@click.argument("ref", metavar="NAME[@RANGE]")
@click.option("--resolved", is_flag=True, help="Merge the templates it extends and complete its variables.")
@REPO_OPTION
def show(ref: str, resolved: bool, repository_path: str | None) -> None:
    """Print a template (an id, NAME or NAME@RANGE) as JSON."""
    with open_client() as client:
        echo_json(client.call("template_get", template_id=ref, resolved=resolved, repository_path=repository_path))


@templates.command()
@click.argument("name")
@REPO_OPTION
def versions(name: str, repository_path: str | None) -> None:
    """Every version of NAME in every source, newest first; * marks the one NAME alone picks."""
    with open_client() as client:
        result = client.call("template_versions", name=name, repository_path=repository_path)
    echo_table(
        [(v["version"] + (" *" if v["default"] else ""), v["source"], v["id"]) for v in result["versions"]],
        ["version", "source", "id"],
    )


@templates.command()
@click.argument("name")
@click.argument("from_version", metavar="FROM")
@click.argument("to_version", metavar="TO")
@click.option("--json", "as_json", is_flag=True, help="Print the template_diff result as JSON.")
@REPO_OPTION
def diff(name: str, from_version: str, to_version: str, as_json: bool, repository_path: str | None) -> None:
    """What changed in NAME between versions FROM and TO (versions or ranges)."""
    with open_client() as client:
        result = client.call(
            "template_diff",
            name=name,
            from_version=from_version,
            to_version=to_version,
            repository_path=repository_path,
        )
    if as_json:
        echo_json(result)
    else:
        click.echo(result["text"])


@templates.command()
@click.argument("ref", metavar="NAME[@RANGE]")
@click.argument("workflow_name", metavar="WORKFLOW_NAME")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="A variable's value (repeatable).")
@REPO_OPTION
def apply(ref: str, workflow_name: str, pairs: tuple[str, ...], repository_path: str | None) -> None:
    """Create a ready workflow from a template; prints its id."""
    click.echo(apply_template(ref, workflow_name, parse_vars(pairs), repository_path))


@templates.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
def search(text: str, as_json: bool) -> None:
    """Templates in your registries whose name or description contains TEXT."""
    from caw_lab.engine.templates import registry

    found = registry.search(text)
    if as_json:
        echo_json(found)
        return
    rows = [(t["name"], t["version"], t["description"] or "", t["registry"]) for t in found["templates"]]
    echo_table(rows, ["name", "latest", "description", "registry"]) if rows else click.echo("No templates match.")


@templates.command()
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option(
    "--to",
    "target",
    type=click.Choice(["user", "db"]),
    default="user",
    show_default=True,
    help="Write to your ~/.caw/templates folder, or into the database.",
)
def install(ref: str, target: str) -> None:
    """Download a template from the first registry that has it, verify its checksum, and save it."""
    from caw_lab.engine.templates import registry

    with open_client() as client:
        echo_json(registry.install(client.db, ref, target))


@templates.command()
@click.argument("ref", metavar="NAME[@RANGE]")
@click.option(
    "--to",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The registry folder: gets NAME/VERSION.yaml and its entry in index.json.",
)
@click.option("--version", "version", metavar="X.Y.Z", help="Publish as this version (default: the template's).")
@REPO_OPTION
def publish(ref: str, folder: Path, version: str | None, repository_path: str | None) -> None:
    """Write a template and its index entry into a registry folder, to serve from any static host."""
    from caw_lab.engine.templates import registry

    with open_client() as client:
        echo_json(registry.publish(client.db, ref, folder, version, repository_path))


@templates.group("registry")
def registry_group() -> None:
    """The registries search and install read (kept in $CAW_HOME/registries.json)."""


@registry_group.command("add")
@click.argument("url")
def registry_add(url: str) -> None:
    """Add the registry whose index is at URL (a URL ending in / means its index.json)."""
    from caw_lab.engine.templates import registry

    echo_json(registry.add_registry(url))


@registry_group.command("list")
def registry_list() -> None:
    """The registries configured, in the order they are searched."""
    from caw_lab.engine.templates import registry

    for url in registry.registries():
        click.echo(url)


@registry_group.command("remove")
@click.argument("url")
def registry_remove(url: str) -> None:
    """Forget the registry at URL."""
    from caw_lab.engine.templates import registry

    echo_json(registry.remove_registry(url))


@click.command("--template", hidden=True)
@click.argument("words", nargs=-1, required=True, metavar="NAME")
@click.pass_context
def apply_from_flag(ctx: click.Context, words: tuple[str, ...]) -> None:
    """``caw --template TEMPLATE "name"``: apply TEMPLATE as a workflow named by the words."""
    assert ctx.parent is not None
    params = ctx.parent.params
    click.echo(apply_template(params["template"], " ".join(words), parse_vars(params["template_vars"]), None))
