"""Where templates come from, and which one a name means when several sources have it.

Four sources, in order of precedence (the first that has a name wins it):

``file:repo``    the repository's ``.caw/templates/*.yaml|*.yml|*.json``, id ``file:repo:<file stem>``
``file:global``  the user's ``~/.caw/templates/`` (``$CAW_HOME/templates``), id ``file:global:<stem>``
``db``           templates saved in the database (template_create, template_publish), id ``tmpl_...``
``builtin``      the templates shipped in caw_lab/templates, id ``builtin:<stem>``

Ids and the first three source names are the reference's. Without a version range, a name
means the winning source's newest version of it; with one (``NAME@^1.2``), the newest
version in any source that satisfies the range, precedence breaking ties. A file that
cannot be read is skipped with a warning, as the reference's loader does, and a file that
resolves outside its folder (a symlink) is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caw_lab.engine import sandbox
from caw_lab.engine.rows import decode
from caw_lab.engine.templates import document
from caw_lab.engine.templates.versions import DEFAULT_VERSION, key, newest, parse_ref
from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.store.location import caw_home, repo_root

PRECEDENCE = ("file:repo", "file:global", "db", "builtin")
ID_PREFIXES = ("tmpl_", "file:repo:", "file:global:", "builtin:")
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "templates"
MAX_FILES = 1000
"""Files read from one folder at most: listing templates must stay cheap."""


@dataclass(frozen=True)
class Template:
    """One version of one template from one source; ``document`` is its body as written."""

    id: str
    name: str
    version: str
    source: str
    document: dict[str, Any]
    description: str | None = None
    path: str | None = None
    created_at: int = 0
    updated_at: int = 0

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "version": self.version, "path": self.path}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "description": self.description,
            "extends": self.document.get("extends"),
            "path": self.path,
            "template": self.document,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def user_dir() -> Path:
    return caw_home() / "templates"


def repo_dir(repository_path: str | None = None) -> Path:
    """``.caw/templates`` at the root of the git repository holding ``repository_path``
    (else ``$CAW_REPO_PATH``, else the working directory). A path a caller passes must lie
    inside the user's roots (engine.sandbox): a client cannot make caw-lab read elsewhere."""
    if repository_path:
        start = Path(sandbox.user_path(repository_path, "repository_path"))
    else:
        start = Path(os.environ.get("CAW_REPO_PATH") or os.getcwd()).expanduser().resolve()
    return repo_root(start) / ".caw" / "templates"


def folder_of(source: str, repository_path: str | None = None) -> Path:
    if source == "file:repo":
        return repo_dir(repository_path)
    return user_dir() if source == "file:global" else BUILTIN_DIR


def from_file(path: Path, source: str, root: Path) -> Template:
    """The template in ``path``, which must resolve inside ``root``."""
    real = path.resolve()
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        raise CawError(
            "TEMPLATE_OUTSIDE_FOLDER",
            f"{path} is not a file inside {root}",
            recoverable=True,
            suggestion="Keep template files in the templates folder itself; links out of it are refused.",
        )
    slug = document.check_slug(path.stem)
    doc = document.load(
        document.parse(document.read_bytes(real), document.FORMATS[path.suffix.lower()], str(path)), str(path)
    )
    return Template(
        id=f"{source}:{slug}",
        name=doc.pop("name", slug),
        version=doc.pop("version", DEFAULT_VERSION),
        source=source,
        description=doc.pop("description", None),
        document=doc,
        path=str(path),
    )


def scan(root: Path, source: str) -> tuple[list[Template], list[str]]:
    """Every template file in ``root``, and a warning for each that could not be read."""
    if not root.is_dir():
        return [], []
    entries = sorted(p for p in root.iterdir() if p.suffix.lower() in document.FORMATS)
    warnings = [f"{root}: only the first {MAX_FILES} template files are read"] if len(entries) > MAX_FILES else []
    found = []
    for path in entries[:MAX_FILES]:
        try:
            found.append(from_file(path, source, root))
        except CawError as err:
            warnings.append(f"{path}: {err.message}")
        except OSError as exc:
            warnings.append(f"{path}: {exc.strerror or exc}")
    return found, warnings


def from_db(db: Backend) -> list[Template]:
    """Every published version of every database template."""
    rows = db.query(
        "SELECT t.id, t.name, t.created_at, t.updated_at, v.version, v.description, v.template "
        "FROM template_versions v JOIN workflow_templates t ON t.id = v.template_id ORDER BY t.name, v.created_at"
    )
    return [
        Template(
            id=r["id"],
            name=r["name"],
            version=r["version"],
            source="db",
            document=r["template"],
            description=r["description"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )
        for r in map(decode, rows)
    ]


@dataclass
class Catalogue:
    """Every template every source has, in order of precedence, and the files skipped."""

    templates: list[Template]
    warnings: list[str] = field(default_factory=list)

    def named(self, name: str) -> list[Template]:
        return [t for t in self.templates if t.name == name]

    def winner(self, candidates: list[Template]) -> Template | None:
        """The newest version in the first source of precedence that has any."""
        for source in PRECEDENCE:
            found = newest([t for t in candidates if t.source == source], lambda t: t.version)
            if found:
                return found
        return None

    def pick(self, candidates: list[Template], wanted: str | None) -> Template | None:
        return newest(candidates, lambda t: t.version, wanted) if wanted else self.winner(candidates)

    def by_id(self, ident: str) -> tuple[list[Template], str | None]:
        """The versions an id names, and the range an ``@`` after it asks for."""
        exact = [t for t in self.templates if t.id == ident]
        if exact or "@" not in ident:
            return exact, None
        base, _, wanted = ident.rpartition("@")
        return [t for t in self.templates if t.id == base], wanted

    def lookup(
        self, ref: str, version: str | None = None, exclude: frozenset[tuple[str, str]] = frozenset()
    ) -> Template:
        """The template ``ref`` (an id, NAME or NAME@RANGE) means; ``exclude`` ((id, version)
        pairs) lets a template extend the one of the same name it shadows."""
        if ref.startswith(ID_PREFIXES):
            candidates, wanted = self.by_id(ref)
        else:
            name, wanted = parse_ref(ref)
            candidates = self.named(name)
        candidates = [t for t in candidates if (t.id, t.version) not in exclude]
        wanted = version or wanted
        if not candidates:
            known = ", ".join(sorted({t.name for t in self.templates})) or "none"
            raise CawError(
                "TEMPLATE_NOT_FOUND",
                f"Template not found: {ref}",
                recoverable=False,
                suggestion=f"List templates with template_list (known: {known}).",
            )
        chosen = self.pick(candidates, wanted)
        if chosen is None:
            have = ", ".join(sorted({t.version for t in candidates}, key=key)) or "none"
            raise CawError(
                "VERSION_NOT_FOUND",
                f"No version of {ref} matches {wanted!r} (have: {have})",
                recoverable=True,
                suggestion="Ask for one of the versions it has (template_versions).",
                details={"versions": have.split(", ")},
            )
        return chosen

    def listing(self) -> dict[str, Any]:
        """One entry a name (its winner), each with the templates it shadows."""
        entries = []
        for name in sorted({t.name for t in self.templates}, key=str.casefold):
            candidates = self.named(name)
            winner = self.winner(candidates)
            assert winner is not None
            shadowed = [t.brief() for t in candidates if t is not winner]
            entries.append({**winner.to_dict(), "shadowed": shadowed})
        return {"templates": entries, "warnings": self.warnings}


def catalogue(db: Backend, repository_path: str | None = None) -> Catalogue:
    """Read every source once, the files of each folder and every database template."""
    templates: list[Template] = []
    warnings: list[str] = []
    for source in PRECEDENCE:
        if source == "db":
            templates += from_db(db)
            continue
        found, skipped = scan(folder_of(source, repository_path), source)
        templates += found
        warnings += skipped
    return Catalogue(templates, warnings)
