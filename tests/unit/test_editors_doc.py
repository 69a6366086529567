"""docs/editors.md shows the editor setups as they are in ``editors/``, which the tests run.

``editors/`` is the single source: every file in it appears in the page verbatim, as one
fenced block, and every Lua, Vim script, JSON or Emacs Lisp block of the page is one of
those files, so no setup shown to users goes untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDITORS = ROOT / "editors"
PAGE = ROOT / "docs" / "editors.md"
SETUP_LANGUAGES = {"lua", "vim", "json", "elisp"}
"""The languages of the page's setup blocks (its ``sh``, ``text`` and ``python`` blocks are
examples of use, not files to paste)."""

FILES = sorted(path for path in EDITORS.rglob("*") if path.is_file())


def fenced_blocks(markdown: str) -> list[tuple[str, str]]:
    """Each fenced block of ``markdown`` as (language, text), the text ending with a newline."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def test_there_are_setups() -> None:
    assert {path.suffix for path in FILES} >= {".lua", ".vim", ".json", ".el"}


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(EDITORS)))
def test_each_setup_file_is_shown_verbatim(path: Path) -> None:
    blocks = [text for _, text in fenced_blocks(PAGE.read_text(encoding="utf-8"))]
    assert path.read_text(encoding="utf-8") in blocks, f"docs/editors.md does not show {path}"


def test_each_setup_block_is_a_tested_file() -> None:
    files = {path.read_text(encoding="utf-8") for path in FILES}
    for language, text in fenced_blocks(PAGE.read_text(encoding="utf-8")):
        if language in SETUP_LANGUAGES:
            assert text in files, f"a {language} block of docs/editors.md is in no file:\n{text}"


def test_the_blocks_are_found() -> None:
    page = "intro\n```lua\nprint(1)\n```\n\n```sh\nls\n```\n"
    assert fenced_blocks(page) == [("lua", "print(1)\n"), ("sh", "ls\n")]
