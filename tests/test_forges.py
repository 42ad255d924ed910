"""The forge clients against the local stand-ins speaking GitHub's and GitLab's REST
protocols: names refused before any request, every error answer and garbage mapped to a
CawError named for the forge, pagination that never follows a link off the API's host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from caw_lab.errors import CawError
from caw_lab.gitops.forge import Pull
from caw_lab.gitops.github import GitHub
from caw_lab.gitops.gitlab import GitLab
from caw_lab.gitops.remotes import Hosted, hosted, issue_numbers, pull_ref
from github_server import TOKEN, Forge, running_forge
from gitlab_server import TOKEN as GITLAB_TOKEN
from gitlab_server import GitLabForge, running_gitlab

PROJECT = "group/sub/app"


@pytest.fixture
def github() -> Iterator[Forge]:
    with running_forge() as forge:
        forge.add_issue("octo/app", 1, "One", None)
        yield forge


@pytest.fixture
def gitlab() -> Iterator[GitLabForge]:
    with running_gitlab() as forge:
        forge.add_issue(PROJECT, 4, "Four", None)
        yield forge


def code_of(call: object) -> str:
    with pytest.raises(CawError) as refused:
        call()  # type: ignore[operator]
    return refused.value.code


def test_check_runs_are_read_page_by_page_and_a_next_link_off_the_host_is_refused(github: Forge) -> None:
    github.checks["topic"] = [{"name": f"job {i}", "status": "completed", "conclusion": "success"} for i in range(250)]
    pull = Pull(1, "u", "open", "MERGEABLE", "topic", "main", head_sha="topic")
    with GitHub(api=github.url, token=TOKEN) as client:
        assert client.checks("octo/app", pull).summary == "250 check(s) passed"
        assert [path for _, path, _ in github.requests].count("/repos/octo/app/commits/topic/check-runs") == 3
        real, github.url = github.url, "http://elsewhere.example:9"
        with pytest.raises(CawError) as refused:
            client.checks("octo/app", pull)
        github.url = real
    assert refused.value.code == "GITHUB_UNAVAILABLE" and "another host (elsewhere.example)" in refused.value.message


def test_gitlab_answers_map_to_clear_errors(gitlab: GitLabForge) -> None:
    with GitLab(url=gitlab.url, token=GITLAB_TOKEN) as client:
        assert client.issue(PROJECT, 4).title == "Four"
        assert code_of(lambda: client.issue(PROJECT, 5)) == "GITLAB_NOT_FOUND"
        client.open_pull(PROJECT, head="topic", base="main", title="T", body="", draft=True)
        assert gitlab.merge_requests[0]["title"] == "Draft: T"
        assert code_of(lambda: client.open_pull(PROJECT, head="topic", base="main", title="T", body="",
                                                draft=False)) == "GITLAB_REFUSED"
        for fault, code in [((500, "oops"), "GITLAB_UNAVAILABLE"), ((200, "not json"), "GITLAB_UNAVAILABLE"),
                            ((200, '{"iid": 4}'), "GITLAB_UNAVAILABLE"), ((403, "{}"), "GITLAB_UNAUTHORIZED")]:
            gitlab.fault = fault
            assert code_of(lambda: client.issue(PROJECT, 4)) == code
        gitlab.fault = None
        sent = len(gitlab.requests)
        for hostile in ("../../admin", "group/../x", "group", "group/app?x=1", "-x/y", "group//app"):
            assert code_of(lambda h=hostile: client.issue(h, 1)) == "INVALID_INPUT", hostile
        assert len(gitlab.requests) == sent
    with GitLab(url=gitlab.url, token="wrong") as client:
        with pytest.raises(CawError) as refused:
            client.issue(PROJECT, 4)
        err = refused.value
        assert err.code == "GITLAB_UNAUTHORIZED" and "wrong" not in err.message + (err.suggestion or "")


def test_remotes_issue_references_and_pull_urls_are_parsed_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAW_GITLAB_URL", "https://git.corp.example")
    assert hosted("git@github.com:octo/app.git") == Hosted("github", "octo/app")
    assert hosted("https://github.com/octo/app") == Hosted("github", "octo/app")
    assert hosted("ssh://git@git.corp.example/group/sub/app.git") == Hosted("gitlab", "group/sub/app")
    assert hosted("https://gitlab.com/group/app.git") is None  # not the configured GitLab
    assert hosted("https://github.com/octo/../etc") is None and hosted("/srv/repo.git") is None
    assert hosted("git@ghe.corp.example:octo/app.git") is None
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.corp.example/api/v3")
    assert hosted("git@ghe.corp.example:octo/app.git") == Hosted("github", "octo/app")
    repo = Hosted("github", "octo/app")
    assert issue_numbers(["#3", "4,5", "7-9", "https://github.com/octo/app/issues/3"], repo) == [3, 4, 5, 7, 8, 9]
    assert pull_ref("https://github.com/octo/app/pull/12") == (repo, 12)
    assert pull_ref("https://git.corp.example/group/sub/app/-/merge_requests/3") == (
        Hosted("gitlab", "group/sub/app"), 3)
    for bad in ("https://github.com/octo/app/issues/3", "file:///etc/passwd", "https://github.com/../../x/pull/1"):
        with pytest.raises(CawError):
            pull_ref(bad)
