"""What an agent process inherits from the executor's environment: everything but secrets.

An agent runs whatever its task leads it to (an LLM's shell commands included), so it gets
no credential the local user did not hand it on purpose. A variable counts as a secret when
a word of its name says so (``GITHUB_TOKEN``, ``CAW_TOKEN``, ``OPENAI_API_KEY``,
``DB_PASSWORD``, ``SSH_AUTH_SOCK``...; see ``SECRET_WORDS``) or its value is a URL with a
password in it. A secret is passed on only when

- the local user names it: ``caw run --pass-env NAME`` (repeatable), ``CAW_PASS_ENV``
  (comma-separated names or glob patterns) in the executor's own environment, or
  ``Executor(env_passthrough=[...])`` from Python;
- the runtime's CLI cannot work without it: ``Runtime.credentials`` (the claude_code and
  codex runtimes keep their model provider's key);
- the agent's own ``caw --server`` needs it to reach the database: the D1 token when the
  database is on D1.

Never from a workflow's config: whoever may call workflow_set_config (over HTTP, say) could
otherwise ask for the server's secrets.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping

PASS_ENV = "CAW_PASS_ENV"
SECRET_WORDS = re.compile(
    r"(?:^|_)(?:TOKENS?|SECRETS?|PASSWORDS?|PASSWD|PASSPHRASE|CREDENTIALS?|API_?KEYS?|KEYS?|ACCESS_?KEY|"
    r"PRIVATE_?KEY|AUTH|COOKIES?)(?:_|$)",
    re.IGNORECASE,
)
PASSWORD_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
D1_CREDENTIALS = ("CAW_D1_TOKEN",)


def is_secret(name: str, value: str) -> bool:
    return bool(SECRET_WORDS.search(name) or PASSWORD_IN_URL.search(value))


def configured_passthrough(environ: Mapping[str, str] | None = None) -> list[str]:
    """The names (or glob patterns) ``CAW_PASS_ENV`` lists."""
    listed = (environ if environ is not None else os.environ).get(PASS_ENV, "")
    return [name.strip() for name in listed.split(",") if name.strip()]


def inherited(db: str, passthrough: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The executor's environment without its secrets, but for those passed through on purpose."""
    environ = dict(os.environ if environ is None else environ)
    allowed = [*passthrough, *configured_passthrough(environ), *(D1_CREDENTIALS if db.startswith("d1://") else ())]
    return {
        name: value
        for name, value in environ.items()
        if not is_secret(name, value) or any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)
    }
