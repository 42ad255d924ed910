"""``caw setup claude-code`` and ``caw setup codex``: merge, never clobber, and run twice safely."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from caw_lab.setup import claude_code_changes, codex_changes, server_command
from caw_lab.setup.claude_code import BEGIN, END
from mcp_session import CAW


def caw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def test_claude_code_merges_into_existing_files(tmp_path: Path) -> None:
    other = {"command": "npx", "args": ["-y", "other-server"], "env": {"KEY": "v"}}
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"other": other}, "extra": True}))
    (tmp_path / "CLAUDE.md").write_text("# Project\n\nUse tabs.\n")

    first = caw("setup", "claude-code", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    config = json.loads((tmp_path / ".mcp.json").read_text())
    command, *args = server_command()
    assert config == {"mcpServers": {"other": other, "caw": {"command": command, "args": args}}, "extra": True}
    notes = (tmp_path / "CLAUDE.md").read_text()
    assert notes.startswith("# Project\n\nUse tabs.\n\n" + BEGIN)
    for step in ("agent_register", "task_claim", "task_load_context", "checkpoint_add", "task_update_status"):
        assert step in notes

    files = {p: p.read_bytes() for p in tmp_path.iterdir()}
    again = caw("setup", "claude-code", cwd=tmp_path)
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == files
    assert notes.count(BEGIN) == 1 and notes.count(END) == 1


def test_claude_code_replaces_its_own_section_in_place(tmp_path: Path) -> None:
    (tmp_path / "CLAUDE.md").write_text(f"intro\n\n{BEGIN}\nstale protocol\n{END}\n\n## Later\nkeep me\n")
    [_, notes] = claude_code_changes(tmp_path)
    assert "stale protocol" not in notes.after
    assert notes.after.startswith("intro\n\n" + BEGIN) and notes.after.endswith(f"{END}\n\n## Later\nkeep me\n")


def test_claude_code_keeps_keys_the_user_added_to_its_entry(tmp_path: Path) -> None:
    mine = {"mcpServers": {"caw": {"command": "old-caw", "args": [], "env": {"CAW_DB_MODE": "global"}}}}
    (tmp_path / ".mcp.json").write_text(json.dumps(mine))
    [mcp_json, _] = claude_code_changes(tmp_path)
    entry = json.loads(mcp_json.after)["mcpServers"]["caw"]
    assert entry["env"] == {"CAW_DB_MODE": "global"} and entry["args"] == ["--server"]


def test_print_shows_and_writes_nothing(tmp_path: Path) -> None:
    shown = caw("setup", "claude-code", "--print", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '"mcpServers"' in shown.stdout and BEGIN in shown.stdout
    assert list(tmp_path.iterdir()) == []


def test_broken_mcp_json_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text("{not json")
    refused = caw("setup", "claude-code", cwd=tmp_path)
    assert refused.returncode == 1 and json.loads(refused.stderr)["code"] == "INVALID_CONFIG"
    assert (tmp_path / ".mcp.json").read_text() == "{not json"
    assert not (tmp_path / "CLAUDE.md").exists()


def test_codex_merges_into_config_toml_keeping_comments(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = '# my settings\nmodel = "o3"  # fast\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\nargs = ["--quiet"]\n'
    config.write_text(original)
    first = caw("setup", "codex", cwd=tmp_path, env={"CODEX_HOME": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    text = config.read_text()
    assert text.startswith(original)
    parsed = tomllib.loads(text)
    command, *args = server_command()
    assert parsed["mcp_servers"] == {"docs": {"command": "docs-mcp", "args": ["--quiet"]},
                                     "caw": {"command": command, "args": args}}
    again = caw("setup", "codex", cwd=tmp_path, env={"CODEX_HOME": str(tmp_path)})
    assert "unchanged" in again.stdout and config.read_text() == text


def test_codex_print_and_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    [change] = codex_changes()
    assert change.path == tmp_path / ".codex" / "config.toml" and change.before is None
    assert tomllib.loads(change.after)["mcp_servers"]["caw"]["args"] == ["--server"]
    shown = caw("setup", "codex", "--print", cwd=tmp_path, env={"HOME": str(tmp_path), "CODEX_HOME": ""})
    assert "[mcp_servers.caw]" in shown.stdout and not (tmp_path / ".codex").exists()


def test_server_command_names_this_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    impostor = tmp_path / "caw"
    impostor.write_text("#!/bin/sh\n")
    impostor.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert server_command() == [CAW, "--server"]
    monkeypatch.setenv("PATH", str(Path(CAW).parent))
    assert server_command() == ["caw", "--server"]


URL = "http://127.0.0.1:3100/mcp"


def test_claude_code_over_http_gets_the_url_and_the_kept_token_privately(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"CAW_HOME": str(home), "CAW_TOKEN": ""}
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"caw": {"command": "caw", "args": ["--server"],
                                                                           "timeout": 30}}}))
    shown = caw("setup", "claude-code", "--url", URL, "--print", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and not home.exists(), "--print generates no token"

    done = caw("setup", "claude-code", "--url", URL, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    token = (home / "http-token").read_text().strip()
    entry = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["caw"]
    assert entry == {"timeout": 30, "type": "http", "url": URL, "headers": {"Authorization": f"Bearer {token}"}}
    assert stat.S_IMODE((tmp_path / ".mcp.json").stat().st_mode) == 0o600 and "version control" in done.stdout
    assert "unchanged" in caw("setup", "claude-code", "--url", URL, cwd=tmp_path, env=env).stdout

    back = caw("setup", "claude-code", cwd=tmp_path, env=env)
    assert back.returncode == 0, back.stderr
    command, *args = server_command()
    assert json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["caw"] == {
        "timeout": 30, "command": command, "args": args}


def test_codex_over_http_gets_the_url_and_the_given_token(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.caw]\ncommand = "caw"\nargs = ["--server"]\nenv = { A = "1" }\n'
                      'http_headers = { "X-Team" = "blue" }\n')
    done = caw("setup", "codex", "--url", URL, "--token", "t0k", cwd=tmp_path,
               env={"CODEX_HOME": str(tmp_path), "CAW_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(config.read_text())["mcp_servers"]["caw"] == {
        "url": URL, "http_headers": {"X-Team": "blue", "Authorization": "Bearer t0k"}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and not (tmp_path / "home").exists()


def test_a_url_that_is_not_http_is_a_usage_error(tmp_path: Path) -> None:
    refused = caw("setup", "claude-code", "--url", "evil.example", cwd=tmp_path)
    assert refused.returncode == 2 and "--url" in refused.stderr
    assert list(tmp_path.iterdir()) == []
