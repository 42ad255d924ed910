"""``caw setup claude-code`` and ``caw setup codex``: merge, never clobber, and run twice safely."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from caw_lab.setup import chosen_database, claude_code_changes, codex_changes, server_command
from caw_lab.setup.claude_code import BEGIN, END
from mcp_session import CAW, call, run


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


def test_setup_serves_the_database_the_user_chose(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir(), elsewhere.mkdir()
    made = caw("--db", "data/w.db", "call", "workflow_create", "--json",
               '{"name": "chosen", "source_type": "prompt", "source_content": "x"}', cwd=project)
    assert made.returncode == 0, made.stderr
    done = caw("--db", "data/w.db", "setup", "claude-code", "--mcp-only", cwd=project)
    assert done.returncode == 0, done.stderr
    assert not (project / "CLAUDE.md").exists()
    entry = json.loads((project / ".mcp.json").read_text())["mcpServers"]["caw"]
    assert entry["args"][-3:] == ["--db", str(project / "data" / "w.db"), "--server"]

    async def listed() -> None:  # the client starts the server wherever it likes: the database still follows
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=dict(os.environ),
                                       cwd=elsewhere)
        async with Client(params) as client:
            names = [w["name"] for w in (await call(client, "workflow_list"))["workflows"]]
            assert names == ["chosen"]

    run(listed)


def test_claude_md_only_leaves_the_mcp_config_alone_and_the_two_exclude_each_other(tmp_path: Path) -> None:
    done = caw("setup", "claude-code", "--claude-md-only", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert BEGIN in (tmp_path / "CLAUDE.md").read_text() and not (tmp_path / ".mcp.json").exists()
    both = caw("setup", "claude-code", "--mcp-only", "--claude-md-only", cwd=tmp_path)
    assert both.returncode == 2 and "exclude" in both.stderr


def test_d1_setup_forwards_the_token_without_writing_it(tmp_path: Path) -> None:
    env = {"CAW_D1_TOKEN": "", "CAW_D1_API": "", "CODEX_HOME": str(tmp_path), "CAW_DB_PATH": "d1://acct/db"}
    done = caw("setup", "claude-code", "--mcp-only", cwd=tmp_path, env=env)
    assert done.returncode == 0 and "CAW_D1_TOKEN" in done.stderr
    entry = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["caw"]
    assert entry["args"][-3:] == ["--db", "d1://acct/db", "--server"]
    assert entry["env"] == {"CAW_D1_TOKEN": "${CAW_D1_TOKEN}"}
    secret = {**env, "CAW_D1_TOKEN": "s3cret", "CAW_D1_API": "http://127.0.0.1:9"}
    assert caw("setup", "codex", cwd=tmp_path, env=secret).returncode == 0
    text = (tmp_path / "config.toml").read_text()
    assert "s3cret" not in text
    served = tomllib.loads(text)["mcp_servers"]["caw"]
    assert served["args"][-3:] == ["--db", "d1://acct/db", "--server"]
    assert served["env_vars"] == ["CAW_D1_TOKEN", "CAW_D1_API"]


def test_global_mode_is_written_as_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CAW_DB_MODE", "global")
    monkeypatch.delenv("CAW_DB_PATH", raising=False)
    [mcp_json] = claude_code_changes(tmp_path, db=chosen_database(None), claude_md=False)
    args = json.loads(mcp_json.after)["mcpServers"]["caw"]["args"]
    assert args[-3:] == ["--db", str(tmp_path / ".caw" / "workflows.db"), "--server"]


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


def test_setup_writes_the_chosen_tool_profile_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    chosen = caw("setup", "claude-code", "--tools", "agent", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["caw"]["args"][-3:] == [
        "--server", "--tools", "agent"]
    written = (tmp_path / ".mcp.json").read_text()
    refused = caw("setup", "claude-code", "--tools", "agnet", cwd=tmp_path)
    assert refused.returncode == 2 and "'agnet'" in refused.stderr
    assert (tmp_path / ".mcp.json").read_text() == written
    codex = caw("setup", "codex", "--tools", "reference", cwd=tmp_path, env={"CODEX_HOME": str(tmp_path)})
    assert codex.returncode == 0, codex.stderr
    assert tomllib.loads((tmp_path / "config.toml").read_text())["mcp_servers"]["caw"]["args"][-2:] == [
        "--tools", "reference"]
