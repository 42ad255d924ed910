"""Tool results as MCP results: compact JSON text beside the structured content, and a bug as a readable error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

import caw_lab
from caw_lab.json_values import Rendered
from caw_lab.mcp import results


def test_a_rendered_result_is_sent_as_its_own_text_and_refuses_nan() -> None:
    """Not serialised again: spacing the compact form would not have is kept, so the text sent
    is the one given (and counted); a text with NaN, which no other parser reads, is refused."""
    text = '{"a": [1, 2], "b": "é"}'
    sent = results.success_result(Rendered(text))
    assert sent.content[0].text is text and sent.structured_content == {"a": [1, 2], "b": "é"}
    with pytest.raises(ValueError):
        Rendered('{"a": NaN}')


@pytest.mark.parametrize("in_thread", [True, False])
def test_a_result_is_its_compact_json_and_the_same_structure(db_path: Path, in_thread: bool) -> None:
    with caw_lab.connect(db_path) as client:
        made = anyio.run(lambda: results.run_tool(client.db, "workflow_create", {
            "name": "café", "source_type": "prompt", "source_content": "x"}, in_thread=in_thread))
    text = made.content[0].text
    assert not made.is_error and json.loads(text) == made.structured_content
    assert '"name":"café"' in text, "compact, and not escaped to ASCII: what token_estimate counts"


def test_a_result_that_is_not_json_is_an_internal_error_the_agent_can_read(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(db: Any, name: str, arguments: Any) -> dict[str, Any]:
        return {"when": object()}

    monkeypatch.setattr(results, "call_tool", broken)
    with caw_lab.connect(db_path) as client:
        answered = anyio.run(lambda: results.run_tool(client.db, "workflow_list", {}, in_thread=False))
    assert answered.is_error
    assert json.loads(answered.content[0].text)["code"] == "INTERNAL_ERROR"
