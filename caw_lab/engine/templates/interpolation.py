"""Interpolation of ``{{ variables }}`` in a sandbox that cannot reach Python's internals.

Jinja2's SandboxedEnvironment with StrictUndefined renders; on top of it every string is
checked when the template is *loaded*, against a small grammar: names, constants, an
allow-list of filters, tests, ``if``/``for``/``set``, comparisons and additive arithmetic.
Everything else is refused with the place it was found: attribute or item names starting
with ``_`` (``''.__class__.__mro__``), calls, ``attr``/``map`` style filters that reach
attributes by name, includes and imports. Multiplication, powers and ``%`` formatting are
refused too, and loops nest at most two deep, so no template can make its renderer spend
unbounded memory or time; what one string renders to is capped as well.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from caw_lab.errors import CawError

SAFE_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "first",
        "float",
        "int",
        "join",
        "last",
        "length",
        "list",
        "lower",
        "max",
        "min",
        "reverse",
        "round",
        "sort",
        "string",
        "title",
        "tojson",
        "trim",
        "truncate",
        "unique",
        "upper",
        "urlencode",
        "wordcount",
    }
)
"""Filters whose output is at most a small multiple of their input and that reach no
attribute by name (``attr``, ``map``, ``groupby``... do; ``center``, ``indent``,
``replace`` and ``format`` can grow a string without bound)."""
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Filter,
    nodes.Test,
    nodes.If,
    nodes.CondExpr,
    nodes.For,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Add,
    nodes.Sub,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Concat,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Tuple,
    nodes.List,
    nodes.Keyword,
    nodes.Assign,
)
MAX_LOOP_DEPTH = 2
MAX_RENDERED_CHARS = 64 * 1024
"""The most one interpolated string may render to."""
MARKERS = ("{{", "{%", "{#")


def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()  # range, dict, lipsum, cycler...: nothing a template needs to call
    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    return env


ENV = environment()


def unsafe(where: str, why: str) -> CawError:
    return CawError(
        "TEMPLATE_UNSAFE",
        f"{where}: {why} (refused by the template sandbox)",
        recoverable=True,
        suggestion="Use variables, filters such as |upper or |join, and {% if %}/{% for %} only.",
        details={"where": where},
    )


def is_plain(text: str) -> bool:
    return not any(marker in text for marker in MARKERS)


def parse(text: str, where: str) -> nodes.Template:
    try:
        return ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise CawError(
            "TEMPLATE_INVALID",
            f"{where}: template syntax error: {exc.message} (line {exc.lineno})",
            recoverable=True,
            suggestion="Fix the {{ }} or {% %} expression.",
            details={"where": where},
        ) from None


def check(text: str, where: str) -> None:
    """Refuse ``text`` unless every construct in it is on the allow-list; compile it too,
    so an unknown filter is reported now."""
    if is_plain(text):
        return
    tree = parse(text, where)
    for node, depth in walk(tree, 0):
        refusal = refusal_of(node, depth)
        if refusal:
            raise unsafe(where, refusal)
    try:
        ENV.compile(tree)
    except jinja2.TemplateError as exc:
        raise unsafe(where, str(exc)) from None


def walk(node: nodes.Node, depth: int) -> Iterator[tuple[nodes.Node, int]]:
    """Every node with the number of ``for`` loops around it."""
    yield node, depth
    inner = depth + 1 if isinstance(node, nodes.For) else depth
    for child in node.iter_child_nodes():
        yield from walk(child, inner)


def refusal_of(node: nodes.Node, depth: int) -> str | None:
    if not isinstance(node, ALLOWED_NODES):
        return f"{type(node).__name__.lower()} is not allowed"
    if isinstance(node, nodes.For) and depth >= MAX_LOOP_DEPTH:
        return f"loops nest at most {MAX_LOOP_DEPTH} deep"
    if isinstance(node, nodes.Getattr) and not safe_name(node.attr):
        return f"attribute {node.attr!r} is not allowed"
    if isinstance(node, nodes.Getitem) and not safe_key(node.arg):
        return "item access is allowed only with a constant number or a name not starting with '_'"
    if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
        return f"filter {node.name!r} is not allowed (allowed: {', '.join(sorted(SAFE_FILTERS))})"
    if isinstance(node, nodes.Filter) and any(k.key == "attribute" for k in node.kwargs):
        return "filters may not reach attributes by name"
    return None


def safe_name(name: str) -> bool:
    return not name.startswith("_") and name not in {
        "mro",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "f_globals",
        "func_globals",
    }


def safe_key(arg: nodes.Node) -> bool:
    if isinstance(arg, nodes.Slice):
        return True
    if isinstance(arg, nodes.Const):
        return isinstance(arg.value, int) or (isinstance(arg.value, str) and safe_name(arg.value))
    return False


def names(text: str, where: str = "template") -> set[str]:
    """The variables ``text`` reads (loop and ``set`` names excluded)."""
    return set() if is_plain(text) else set(meta.find_undeclared_variables(parse(text, where)))


def render(text: str, values: Mapping[str, Any], where: str) -> str:
    """``text`` with its variables filled in; refused past MAX_RENDERED_CHARS."""
    if is_plain(text):
        return text
    check(text, where)
    pieces: list[str] = []
    size = 0
    try:
        for piece in ENV.from_string(text).generate(dict(values)):
            size += len(piece)
            if size > MAX_RENDERED_CHARS:
                raise CawError(
                    "TEMPLATE_RENDER_FAILED",
                    f"{where} renders to more than {MAX_RENDERED_CHARS} characters",
                    recoverable=True,
                    suggestion="Shorten the template or the values.",
                    details={"where": where},
                )
            pieces.append(piece)
    except jinja2.exceptions.SecurityError as exc:
        raise unsafe(where, str(exc)) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise CawError(
            "TEMPLATE_RENDER_FAILED",
            f"{where}: {exc}",
            recoverable=True,
            suggestion="Check the variables' values and the expression using them.",
            details={"where": where},
        ) from None
    return "".join(pieces)
