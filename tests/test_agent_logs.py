"""Agents' logs: bounded by rotation, read by absolute offsets that survive it, JSON streams rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caw_lab.runtimes import agent_logs
from caw_lab.runtimes.agent_logs import LogWriter, attempts, new_attempt, read
from caw_lab.runtimes.claude_code import render_stream_json
from caw_lab.runtimes.codex import render_exec_json


def test_attempts_are_numbered_per_task_and_kept_apart(tmp_path: Path) -> None:
    first = new_attempt(tmp_path, "tk_aaaaaaaaaaaa", "ag_000000000001")
    second = new_attempt(tmp_path, "tk_aaaaaaaaaaaa", "ag_000000000002")
    assert (first.number, second.number) == (1, 2)
    assert [a.agent_id for a in attempts(tmp_path, "tk_aaaaaaaaaaaa")] == ["ag_000000000001", "ag_000000000002"]
    assert attempts(tmp_path, "tk_bbbbbbbbbbbb") == []
    with pytest.raises(ValueError):
        new_attempt(tmp_path, "../../etc", "ag_000000000001")


def test_rotation_bounds_the_log_and_offsets_stay_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_logs, "SEGMENT_BYTES", 100)
    monkeypatch.setattr(agent_logs, "KEEP_SEGMENTS", 2)
    attempt = new_attempt(tmp_path, "tk_aaaaaaaaaaaa", "ag_000000000001")
    writer = LogWriter(attempt)
    lines = [f"line {i:03d} " + "x" * 20 for i in range(40)]  # 30 bytes a line, newline included
    for line in lines:
        writer.write_lines([line])
    writer.close()
    size = 30 * 40
    assert attempt.size() == size and len(attempt.segments()) == 2
    assert sum(p.stat().st_size for _, p in attempt.segments()) <= 2 * (100 + 30)
    tail = read(attempt, 0, 10_000)
    assert tail.dropped == tail.offset > 0 and tail.next_offset == size
    assert tail.text.splitlines() == lines[tail.offset // 30:]
    assert read(attempt, -30, 30).text == lines[-1] + "\n"
    middle = read(attempt, size - 30 * 3, 40)  # a cut never splits a line when a whole one fits
    assert middle.text == lines[-3] + "\n" and middle.next_offset == size - 30 * 2


def test_claude_code_stream_json_reads_as_lines() -> None:
    events = [
        {"type": "system", "subtype": "init", "model": "opus", "tools": ["Bash", "Read"]},
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": "Looking at the task.\n\nFirst the tests."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -q"}}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": [{"type": "text",
                                                                                         "text": "3 passed"}]}]}},
        {"type": "result", "subtype": "success", "num_turns": 3, "total_cost_usd": 0.0123, "result": "Done."},
    ]
    rendered = [line for event in events for line in render_stream_json(json.dumps(event) + "\n")]
    assert rendered == ["[init] model opus, 2 tools", "Looking at the task.", "First the tests.",
                        '-> Bash {\'command\': \'pytest -q\'}', "<- result: 3 passed",
                        "[result] success after 3 turns, $0.0123: Done."]
    assert render_stream_json("plain text, not JSON\n") == ["plain text, not JSON"]
    assert render_stream_json("[1, 2]\n") == ["[1, 2]"]


def test_codex_exec_json_reads_as_lines() -> None:
    events = [
        {"type": "thread.started", "thread_id": "t"},
        {"type": "item.started", "item": {"type": "command_execution", "command": "ls"}},
        {"type": "item.completed", "item": {"type": "command_execution", "exit_code": 0, "aggregated_output": "a\nb"}},
        {"type": "item.completed", "item": {"type": "file_change", "changes": [{"path": "x.py", "kind": "update"}]}},
        {"type": "item.completed", "item": {"type": "agent_message", "text": "All done."}},
        {"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 5}},
    ]
    rendered = [line for event in events for line in render_exec_json(json.dumps(event))]
    assert rendered == ["[thread.started]", "$ ls", "<- exit 0: a b", "~ update x.py", "All done.",
                        "[turn] 10 tokens in, 5 out"]
