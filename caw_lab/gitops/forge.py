"""What caw-lab asks of a forge (GitHub, GitLab), said once: issues, pull requests, checks.

A forge client is one small class over this base, as httpx's transports are: it names its
API's paths and turns its answers into the few shapes here (:class:`Issue`, :class:`Pull`,
:class:`Checks`). The base owns what every REST API shares: one ``httpx.Client`` on a
configurable root, the token in a header (never in a message or a log), answers validated
before use (a forge answering garbage is refused like one answering 500), pagination by
``Link: <...>; rel="next"`` kept on the API's own host, and the mapping of status codes to
CawErrors named for the forge (``GITHUB_NOT_FOUND``, ``GITLAB_UNAUTHORIZED``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx
from pydantic import TypeAdapter, ValidationError

from caw_lab.errors import CawError

TIMEOUT_S = 30
MAX_PAGES = 20
"""Most pages one listing follows (a hundred items each): beyond it the forge is not waited on."""

PullState = Literal["open", "closed", "merged"]
Mergeable = Literal["MERGEABLE", "CONFLICTING", "UNKNOWN"]
"""The reference's words for a pull request's mergeability (what ``gh pr view`` prints)."""


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    url: str
    state: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pull:
    number: int
    url: str
    state: PullState
    mergeable: Mergeable
    head: str
    base: str
    head_sha: str | None = None
    merge_commit: str | None = None


@dataclass(frozen=True)
class Checks:
    """The checks (CI) on a pull request's head, summed up: ``passed`` also when there are none."""

    state: Literal["passed", "failed", "pending"]
    summary: str


def env_setting(names: Sequence[str], default: str | None = None) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), default)


class Forge:
    """The shared half of a forge client; subclasses set the class attributes and the calls."""

    kind: ClassVar[str]
    """``github`` or ``gitlab``: the word in error codes (upper-cased) and in stored links."""
    label: ClassVar[str]
    token_envs: ClassVar[tuple[str, ...]]
    api_envs: ClassVar[tuple[str, ...]]
    refused_codes: ClassVar[frozenset[int]] = frozenset({409, 422})
    pull_word: ClassVar[str] = "pull request"

    def __init__(self, api: str, headers: Mapping[str, str]) -> None:
        self.api = httpx.URL(api.rstrip("/") + "/")
        self.http = httpx.Client(base_url=self.api, headers={"User-Agent": "caw-lab", **headers}, timeout=TIMEOUT_S)

    # -- the calls every forge answers ----------------------------------------------------

    def issue(self, repo: str, number: int) -> Issue:
        raise NotImplementedError

    def comment(self, repo: str, number: int, body: str) -> None:
        raise NotImplementedError

    def close_issue(self, repo: str, number: int) -> None:
        raise NotImplementedError

    def open_pull(self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool) -> Pull:
        raise NotImplementedError

    def pull(self, repo: str, number: int) -> Pull:
        raise NotImplementedError

    def merge_pull(self, repo: str, number: int, method: str) -> Pull:
        raise NotImplementedError

    def checks(self, repo: str, pull: Pull) -> Checks:
        raise NotImplementedError

    # -- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, path: str, shape: Any = dict, *, json: Any = None,
                params: Mapping[str, Any] | None = None) -> Any:
        """One call, its answer checked against ``shape`` (a type pydantic validates)."""
        return self.parse(self.send(method, path, json=json, params=params), shape)

    def pages(self, path: str, shape: Any, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Each page of a listing, following ``rel="next"`` links on the API's own host only:
        a forge (or a proxy) naming another host never receives the token."""
        url: str | httpx.URL = path
        query: Mapping[str, Any] | None = {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            response = self.send("GET", url, params=query)
            yield self.parse(response, shape)
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url, query = httpx.URL(following), None
            if (url.scheme, url.host, url.port) != (self.api.scheme, self.api.host, self.api.port):
                raise self.unavailable(f"its next page is on another host ({url.host})")

    def send(self, method: str, url: str | httpx.URL, *, json: Any = None,
             params: Mapping[str, Any] | None = None) -> httpx.Response:
        try:
            response = self.http.request(method, url, json=json, params=params)
        except httpx.HTTPError as exc:
            raise self.unavailable(f"it could not be reached ({type(exc).__name__}: {exc})") from None
        if not response.is_success:
            raise self.refusal(response)
        return response

    def parse(self, response: httpx.Response, shape: Any) -> Any:
        try:
            return TypeAdapter(shape).validate_json(response.content or b"null")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the answer"
            raise self.unavailable(f"its answer is not what its API returns ({where}: {first['msg']})") from None

    # -- errors ----------------------------------------------------------------------------

    def code(self, what: str) -> str:
        return f"{self.kind.upper()}_{what}"

    def unavailable(self, why: str) -> CawError:
        return CawError(self.code("UNAVAILABLE"), f"{self.label} could not be used: {why}", recoverable=True,
                        suggestion=f"Try again later, or check {self.api_envs[0]} (now {self.api}).")

    def refusal(self, response: httpx.Response) -> CawError:
        """The forge's error answer as a CawError an agent can act on, keeping its own words."""
        said = said_in(response)
        status = response.status_code
        if status in (401, 403):
            return CawError(self.code("UNAUTHORIZED"), f"{self.label} refused the credentials: {said}",
                            recoverable=True, suggestion=f"Set {' or '.join(self.token_envs)} to a token with "
                                                         "access to the repository.")
        if status == 404:
            return CawError(self.code("NOT_FOUND"), f"{self.label} has no such resource: {said}", recoverable=False,
                            suggestion="Check the repository and number (a private repository needs a token).")
        if status in self.refused_codes or status == 405:
            return CawError(self.code("REFUSED"), f"{self.label} refused the request ({status}): {said}",
                            recoverable=True, suggestion=f"Read {self.label}'s reason; a {self.pull_word} may "
                                                         "already exist for the branch, or not be mergeable yet.")
        return self.unavailable(f"it answered {status}: {said}")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Forge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


SAID_CHARS = 500


def said_in(response: httpx.Response) -> str:
    """What an error answer says, from the JSON shapes GitHub and GitLab use, else its reason phrase."""
    try:
        said = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(said, dict):
        return response.reason_phrase
    reasons = [e.get("message") or e.get("code", "") for e in said.get("errors", []) if isinstance(e, dict)]
    words = [said.get("message"), said.get("error"), *reasons]
    text = "; ".join(str(word) for word in words if word and not isinstance(word, (dict, list)))
    if isinstance(said.get("message"), (dict, list)):  # GitLab's validation errors: {"message": {"field": [...]}}
        text = "; ".join(filter(None, [text, str(said["message"])]))
    return (text or response.reason_phrase)[:SAID_CHARS]
