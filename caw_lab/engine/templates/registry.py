"""Registries: static JSON indexes of templates over HTTP, so any static host (or a git
repository's raw files) can serve one.

An index lists names, versions, checksums and file URLs (relative to the index)::

    {"format": "caw-templates/1",
     "templates": [{"name": "bugfix", "description": "...",
                    "versions": [{"version": "1.0.0", "url": "bugfix/1.0.0.yaml", "sha256": "..."}]}]}

``install`` downloads a version, verifies its checksum and checks the document like any
template file before writing it to the user's folder (``NAME@VERSION.yaml``) or the
database; ``publish`` writes a template and its index entry into a folder to upload. A
published version is immutable: the same name and version with other content is refused,
in the folder and in the user's templates alike. Registries are listed, one URL each, in
``$CAW_HOME/registries.json``. Only the local user reaches these functions (the CLI): no
tool lets a network client make the server fetch a URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caw_lab.engine import sandbox
from caw_lab.engine.templates import database, document
from caw_lab.engine.templates.sources import catalogue, caw_home, user_dir
from caw_lab.engine.templates.versions import key, newest, parse_ref, parse_version
from caw_lab.errors import CawError, invalid_input
from caw_lab.store.backend import Backend

FORMAT = "caw-templates/1"
INDEX_FILE = "index.json"
MAX_INDEX_BYTES = 4 * 1024 * 1024
TIMEOUT_SECONDS = 10.0


class Entry(BaseModel):
    """Unknown keys are kept out, not refused: a newer index may add fields."""

    model_config = ConfigDict(extra="ignore")


class VersionEntry(Entry):
    version: str
    url: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class TemplateEntry(Entry):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    versions: list[VersionEntry] = Field(min_length=1)


class Index(Entry):
    format: str
    templates: list[TemplateEntry]


def registries_file() -> Path:
    return caw_home() / "registries.json"


def registries() -> list[str]:
    path = registries_file()
    if not path.exists():
        return []
    try:
        listed = json.loads(path.read_text())["registries"]
    except (ValueError, KeyError, TypeError):
        raise CawError(
            "REGISTRY_CONFIG_INVALID",
            f"{path} is not a registry list",
            recoverable=True,
            suggestion='Fix or delete it; it holds {"registries": ["URL", ...]}.',
        ) from None
    return [str(u) for u in listed]


def index_url(url: str) -> str:
    """A registry's URL is its index's; a URL ending in ``/`` means the index.json inside."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_input(f"{url!r} is not an http(s) URL", "Give the URL of the registry's index.json.")
    return url + INDEX_FILE if url.endswith("/") else url


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` whole: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_once(path: Path, data: bytes) -> bool:
    """Write ``path`` unless it exists: True when written; False when it holds ``data``
    already; VERSION_EXISTS when it holds something else (published versions are immutable)."""
    if path.exists():
        if path.read_bytes() == data:
            return False
        raise CawError(
            "VERSION_EXISTS",
            f"{path} already holds a different {path.stem}",
            recoverable=True,
            suggestion="Published versions are immutable: publish a new version instead.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(tmp, path)  # fails if another writer got there first: never overwrites
    except FileExistsError:
        return create_once(path, data)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


def download(client: httpx.Client, url: str, limit: int, what: str) -> bytes:
    """``url``'s body, refused past ``limit`` bytes without reading further."""
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise CawError(
                    "REGISTRY_UNREACHABLE",
                    f"{what} {url} answered HTTP {response.status_code}",
                    recoverable=True,
                    suggestion="Check the URL; the registry may be down or moved.",
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise CawError(
                        "REGISTRY_INDEX_INVALID",
                        f"{what} {url} is over the {limit}-byte limit",
                        recoverable=False,
                        suggestion="Ask the registry's owner to split it.",
                    )
            return bytes(body)
    except httpx.HTTPError as exc:
        raise CawError(
            "REGISTRY_UNREACHABLE",
            f"Cannot reach {what} {url}: {exc}",
            recoverable=True,
            suggestion="Check the URL and your network, then try again.",
        ) from None


def client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True, max_redirects=5)


def fetch_index(http: httpx.Client, url: str) -> Index:
    url = index_url(url)
    body = download(http, url, MAX_INDEX_BYTES, "registry index")
    try:
        return parse_index(json.loads(body))
    except (ValueError, CawError) as exc:
        raise CawError(
            "REGISTRY_INDEX_INVALID",
            f"The registry index {url} is malformed: {problem_of(exc)}",
            recoverable=False,
            suggestion=f'An index is {{"format": "{FORMAT}", "templates": [...]}}; see docs/templates.md.',
        ) from None


def problem_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(index)'}: {e['msg']}" for e in exc.errors())
    return exc.message if isinstance(exc, CawError) else str(exc)


def parse_index(raw: Any) -> Index:
    index = Index.model_validate(raw)
    if index.format != FORMAT:
        raise invalid_input(f"format {index.format!r} is not {FORMAT!r}")
    for entry in index.templates:
        document.check_name(entry.name)
        for v in entry.versions:
            parse_version(v.version)
    return index


def add_registry(url: str) -> dict[str, Any]:
    """Add a registry after reading its index once: a URL that serves no index is refused
    and the list is left as it was."""
    url = index_url(url)
    with client() as http:
        index = fetch_index(http, url)
    listed = registries()
    if url not in listed:
        write_atomically(registries_file(), json.dumps({"registries": [*listed, url]}, indent=2).encode())
    return {"url": url, "templates": len(index.templates), "registries": registries()}


def remove_registry(url: str) -> dict[str, Any]:
    listed = registries()
    if index_url(url) not in listed:
        raise CawError(
            "REGISTRY_NOT_FOUND",
            f"{url} is not a registry here",
            recoverable=True,
            suggestion="List them with `caw templates registry list`.",
        )
    remaining = [u for u in listed if u != index_url(url)]
    write_atomically(registries_file(), json.dumps({"registries": remaining}, indent=2).encode())
    return {"registries": remaining}


def require_registries() -> list[str]:
    listed = registries()
    if not listed:
        raise CawError(
            "NO_REGISTRIES",
            "No template registry is configured",
            recoverable=True,
            suggestion="Add one: caw templates registry add URL",
        )
    return listed


def search(text: str) -> dict[str, Any]:
    """Templates whose name or description contains ``text`` (any case), in every registry."""
    needle = text.casefold()
    found = []
    with client() as http:
        for url in require_registries():
            for entry in fetch_index(http, url).templates:
                if needle in entry.name.casefold() or needle in (entry.description or "").casefold():
                    ordered = sorted((v.version for v in entry.versions), key=key, reverse=True)
                    found.append(
                        {
                            "name": entry.name,
                            "version": ordered[0],
                            "versions": ordered,
                            "description": entry.description,
                            "registry": url,
                        }
                    )
    return {"query": text, "templates": found}


def install(db: Backend, ref: str, to: str = "user") -> dict[str, Any]:
    """Download ``NAME[@RANGE]`` from the first registry that has the name, verify it and save
    it in the user's folder (``to="user"``) or the database (``to="db"``)."""
    if to not in ("user", "db"):
        raise invalid_input(f"--to {to!r} is neither user nor db")
    name, wanted = parse_ref(ref)
    with client() as http:
        for url in require_registries():
            entry = next((t for t in fetch_index(http, url).templates if t.name == name), None)
            if entry is not None:
                chosen = newest(entry.versions, lambda v: v.version, wanted)
                if chosen is None:
                    have = ", ".join(sorted((v.version for v in entry.versions), key=key))
                    raise CawError(
                        "VERSION_NOT_FOUND",
                        f"{url} has no version of {name} matching {wanted!r} (has: {have})",
                        recoverable=True,
                        suggestion="Pick one of those versions.",
                    )
                return install_version(db, http, url, entry, chosen, to)
    raise CawError(
        "TEMPLATE_NOT_FOUND",
        f"No registry has a template named {name}",
        recoverable=False,
        suggestion="Search them: caw templates search TEXT",
    )


def install_version(
    db: Backend, http: httpx.Client, registry: str, entry: TemplateEntry, chosen: VersionEntry, to: str
) -> dict[str, Any]:
    file_url = urljoin(registry, chosen.url)
    suffix = Path(urlsplit(file_url).path).suffix.lower()
    if urlsplit(file_url).scheme not in ("http", "https") or suffix not in document.FORMATS:
        raise CawError(
            "REGISTRY_INDEX_INVALID",
            f"{file_url} is not an http(s) URL of a .yaml or .json file",
            recoverable=False,
            suggestion="Ask the registry's owner to fix its index.",
        )
    data = download(http, file_url, document.MAX_TEMPLATE_BYTES, "template")
    if hashlib.sha256(data).hexdigest() != chosen.sha256:
        raise CawError(
            "CHECKSUM_MISMATCH",
            f"{file_url} does not match the checksum its index gives",
            recoverable=False,
            suggestion="Do not use it; tell the registry's owner.",
            details={"expected": chosen.sha256, "actual": hashlib.sha256(data).hexdigest()},
        )
    doc = document.load(document.parse(data, document.FORMATS[suffix], file_url), file_url)
    if doc.get("name", entry.name) != entry.name or doc.get("version") != chosen.version:
        raise CawError(
            "REGISTRY_INDEX_INVALID",
            f"{file_url} is {doc.get('name')}@{doc.get('version')}, but the index says {entry.name}@{chosen.version}",
            recoverable=False,
            suggestion="Ask the registry's owner to fix its index.",
        )
    result = {"name": entry.name, "version": chosen.version, "registry": registry, "sha256": chosen.sha256}
    if to == "db":
        return {**result, "to": "db", **save_in_database(db, entry.name, chosen.version, doc)}
    slug = document.check_slug(f"{entry.name}@{chosen.version}")
    path = user_dir() / f"{slug}{suffix}"
    written = create_once(path, data)
    return {**result, "to": "user", "path": str(path), "written": written}


def save_in_database(db: Backend, name: str, version: str, doc: dict[str, Any]) -> dict[str, Any]:
    description = doc.pop("description", None)
    body = {k: v for k, v in doc.items() if k not in ("name", "version")}
    if db.one("SELECT id FROM workflow_templates WHERE name = ?", (name,)) is None:
        saved = database.create(db, name=name, description=description, template=body, version=version)
        return {"template_id": saved["id"], "written": True}
    saved = database.publish(db, name=name, version=version, template=body, description=description)
    return {"template_id": saved["id"], "written": saved["published"]}


def publish(
    db: Backend, ref: str, folder: Path, version: str | None = None, repository_path: str | None = None
) -> dict[str, Any]:
    """Write template ``ref`` (from any source) as ``FOLDER/NAME/VERSION.yaml`` and add it to
    ``FOLDER/index.json``, ready to upload to a static host."""
    folder = Path(sandbox.user_path(str(folder), "registry folder"))
    template = catalogue(db, repository_path).lookup(ref)
    version = version or template.version
    parse_version(version)
    slug = document.check_slug(template.name)
    body = {
        "name": template.name,
        "version": version,
        **({"description": template.description} if template.description else {}),
        **template.document,
    }
    data = yaml.safe_dump(body, sort_keys=False, allow_unicode=True).encode()
    document.load(document.parse(data, "yaml", template.ref), template.ref)
    index_path = folder / INDEX_FILE
    index = read_local_index(index_path)
    digest = hashlib.sha256(data).hexdigest()
    entry = next((t for t in index.templates if t.name == template.name), None)
    existing = next((v for v in entry.versions if v.version == version), None) if entry else None
    if existing is not None and existing.sha256 != digest:
        raise CawError(
            "VERSION_EXISTS",
            f"{template.name}@{version} is already published in {folder} with other content",
            recoverable=True,
            suggestion="Published versions are immutable: publish with a new --version.",
        )
    relative = f"{slug}/{version}.yaml"
    create_once(folder / relative, data)
    if existing is None:
        added = VersionEntry(version=version, url=relative, sha256=digest)
        if entry is None:
            index.templates.append(
                TemplateEntry(name=template.name, description=template.description, versions=[added])
            )
        else:
            entry.versions.append(added)
            entry.description = template.description or entry.description
        write_atomically(index_path, index.model_dump_json(indent=2).encode())
    return {
        "name": template.name,
        "version": version,
        "file": str(folder / relative),
        "index": str(index_path),
        "sha256": digest,
        "published": existing is None,
    }


def read_local_index(path: Path) -> Index:
    if not path.exists():
        return Index(format=FORMAT, templates=[])
    try:
        return parse_index(json.loads(path.read_text()))
    except (ValueError, ValidationError, CawError) as exc:
        raise CawError(
            "REGISTRY_INDEX_INVALID",
            f"{path} is not a template index: {exc}",
            recoverable=False,
            suggestion="Publish into an empty folder or one made by caw templates publish.",
        ) from None
