"""``docs/protocol.md`` must say what the code does: every message, field, error code and limit.

The spec is parsed, not grepped: its sections are split at headings, and each
message section's field table is compared with the message class (names,
msgpack types, defaults). Every JSON example is encoded and decoded with the
real codec, so an example that the daemon would refuse fails here.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Union

import msgpack
import pytest

from reloadd.protocol import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    ClientInfo,
    ErrorCode,
    GlobSpec,
    Message,
    ProtocolError,
    ReloadInfo,
    Side,
    StatusReply,
    Welcome,
    decode,
    decode_reply,
    decode_request,
    limits,
    record,
)
from reloadd.protocol.digest import registration_digest
from reloadd.protocol.endpoint import ROOT_MARKERS
from reloadd.protocol.fields import Bounds

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

CLIENT_MESSAGES = tuple(cls for cls in MESSAGE_TYPES if cls.SENT_BY is Side.CLIENT)
"""The messages a client sends; the daemon sends all the others."""


@dataclass
class Section:
    """One heading of the spec and the text up to the next heading of any level."""

    level: int
    title: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def tables(self) -> list[list[list[str]]]:
        """The tables of the section, each as rows of cells, header and rule removed."""
        tables: list[list[list[str]]] = []
        current: list[list[str]] = []
        for line in [*self.lines, ""]:
            if line.startswith("|"):
                current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
                continue
            if current:
                assert len(current) >= 2, f"a table without rows in {self.title!r}"
                assert all(set(cell) <= set("-: ") for cell in current[1]), current[1]
                tables.append(current[2:])
                current = []
        return tables

    def code_blocks(self, language: str) -> list[str]:
        blocks: list[str] = []
        inside: list[str] | None = None
        for line in self.lines:
            if inside is None and line == f"```{language}":
                inside = []
            elif inside is not None and line == "```":
                blocks.append("\n".join(inside))
                inside = None
            elif inside is not None:
                inside.append(line)
        assert inside is None, f"an unclosed code block in {self.title!r}"
        return blocks


def parse_spec(text: str) -> list[Section]:
    sections = [Section(0, "")]
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"(#{1,6}) (.+)", line)
        if heading:
            sections.append(Section(len(heading[1]), heading[2].strip()))
        else:
            sections[-1].lines.append(line)
    assert not fenced, "an unclosed code block"
    return sections


SECTIONS = parse_spec(SPEC.read_text(encoding="utf-8"))


def section(title: str) -> Section:
    found = [s for s in SECTIONS if s.title == title]
    assert len(found) == 1, f"the spec needs exactly one section {title!r}, has {len(found)}"
    return found[0]


def message_sections() -> dict[str, Section]:
    """The ``### `type``` sections between ``## Messages`` and the next level-2 heading."""
    start = SECTIONS.index(section("Messages"))
    found: dict[str, Section] = {}
    for candidate in SECTIONS[start + 1 :]:
        if candidate.level <= 2:
            break
        name = re.fullmatch(r"`(\w+)`", candidate.title)
        assert name, f"a message heading must be the type in backticks: {candidate.title!r}"
        assert name[1] not in found, f"two sections for {name[1]!r}"
        found[name[1]] = candidate
    return found


def untick(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected a name in backticks, got {cell!r}"
    return match[1]


def wire_type(hint: Any) -> str:
    """How the spec spells the msgpack type of a field with this Python type hint."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return f"{wire_type(inner)} or nil"
    if origin is tuple:
        return f"array of {wire_type(typing.get_args(hint)[0])}"
    if hint is GlobSpec:
        return "[str, str]"
    if isinstance(hint, type) and issubclass(hint, record.Record):  # ClientInfo, Crash
        return f"map ({hint.__name__})"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return f"str ({hint.__name__})"
    names: dict[Any, str] = {int: "int", str: "str", float: "float", bool: "bool"}
    return names[hint]


def wire_default(value: object) -> str:
    """How the spec spells a default: as the JSON of its value on the wire."""
    plain = list(value) if isinstance(value, tuple) else value
    plain = plain.value if isinstance(plain, Enum) else plain
    return f"default `{json.dumps(plain)}`"


def expected_rows(cls: type[Any]) -> list[tuple[str, str, str]]:
    hints = typing.get_type_hints(cls)
    rows = []
    for item in record.fields(cls):
        default = "required" if item.default is record.MISSING else wire_default(item.default)
        rows.append((item.name, wire_type(hints[item.name]), default))
    return rows


def table_rows(table: list[list[str]]) -> list[tuple[str, str, str]]:
    assert all(len(row) == 4 for row in table), "field tables have four columns"
    assert all(row[3] for row in table), "every field needs a meaning"
    return [(untick(row[0]), row[1], row[2]) for row in table]


def wire_bytes(example: str) -> bytes:
    return msgpack.packb(json.loads(example))  # type: ignore[no-any-return]


def test_the_spec_states_the_version() -> None:
    assert f"`PROTOCOL_VERSION = {PROTOCOL_VERSION}`" in section("Versioning").text
    assert f"protocol version **{PROTOCOL_VERSION}**" in section("Versioning").text


def test_message_sections_follow_message_types_in_order() -> None:
    assert list(message_sections()) == [cls.TYPE for cls in MESSAGE_TYPES]


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_field_table_lists_exactly_the_fields(cls: type[Message]) -> None:
    tables = message_sections()[cls.TYPE].tables()
    assert tables, f"the section of {cls.TYPE!r} has no field table"
    rows = table_rows(tables[0])
    assert rows[0] == ("type", "str", "required")
    assert tables[0][0][3] == f'`"{cls.TYPE}"`'
    assert rows[1:] == expected_rows(cls)


def test_client_info_table_lists_exactly_its_fields() -> None:
    tables = message_sections()[StatusReply.TYPE].tables()
    assert len(tables) == 3, (
        "status_reply needs its own table, one for a ClientInfo and a ReloadInfo"
    )
    assert table_rows(tables[1]) == expected_rows(ClientInfo)
    assert table_rows(tables[2]) == expected_rows(ReloadInfo)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.TYPE)
def test_example_decodes_to_its_message(cls: type[Message]) -> None:
    blocks = message_sections()[cls.TYPE].code_blocks("json")
    assert len(blocks) == 1, f"the section of {cls.TYPE!r} needs one JSON example"
    assert type(decode(wire_bytes(blocks[0]))) is cls


def session_lines(block: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The ``X → Y  {json}`` lines of a session block: sender, receiver, message."""
    lines = []
    for line in block.splitlines():
        arrow = re.fullmatch(r"([CDE]) → ([CDE])  (.+)", line)
        if arrow:
            assert (arrow[1] == "D") != (arrow[2] == "D"), f"one side must be D: {line}"
            lines.append((arrow[1], arrow[2], json.loads(arrow[3])))
    return lines


def test_session_examples_decode_in_the_right_direction() -> None:
    """Each line decodes as its receiver reads it, except a request the next line refuses
    with that very error.

    ``C`` is a dev server, ``E`` an editor and ``D`` the daemon.
    """
    lines = [
        (receiver == "D", raw)
        for block in section("A session").code_blocks("text")
        for _, receiver, raw in session_lines(block)
    ]
    kinds = []
    for (to_daemon, raw), (_, answer) in zip(lines, [*lines[1:], (False, {})], strict=True):
        read = decode_request if to_daemon else decode_reply
        refused = to_daemon and answer.get("type") == "error" and answer["re"] == raw.get("id")
        if refused:
            with pytest.raises(ProtocolError) as caught:
                read(msgpack.packb(raw))
            assert caught.value.code.value == answer["code"]
            assert str(caught.value) == answer["message"]
            continue
        message = read(msgpack.packb(raw))
        kinds.append(message.TYPE)
    wanted = {"hello", "welcome", "watch", "watching", "changed", "status", "ping", "pong", "bye"}
    wanted |= {"saved", "noted"}
    assert wanted <= set(kinds)


def test_a_returning_client_is_welcomed_with_the_digest_of_its_registration() -> None:
    """The session's second part: the client that said ``bye`` comes back within its grace
    period, and ``welcome`` names what it registered in the first part."""
    first, returning, *_ = section("A session").code_blocks("text")
    files: set[str] = set()
    globs: set[GlobSpec] = set()
    for sender, _, raw in session_lines(first):
        if sender == "C" and raw["type"] == "watch":
            files.update(raw.get("files", []))
            globs.update(GlobSpec(*pair) for pair in raw.get("globs", []))
    (welcome,) = [raw for _, to, raw in session_lines(returning) if raw["type"] == "welcome"]
    assert welcome["registration"] == registration_digest(files, globs)
    (watch,) = [raw for _, _, raw in session_lines(returning) if raw["type"] == "watch"]
    assert watch["unchanged"] is True


def test_the_handshake_lists_every_message_only_the_daemon_sends() -> None:
    match = re.search(
        r"A message that only the daemon sends \(([^)]*)\)", section("Handshake").text
    )
    assert match, "the handshake must list the messages only the daemon sends"
    listed = [untick(name.strip()) for name in match[1].replace("\n", " ").split(",")]
    daemon_only = [cls.TYPE for cls in MESSAGE_TYPES if cls not in CLIENT_MESSAGES]
    assert listed == daemon_only


def test_heartbeat_and_grace_period_match_the_daemon() -> None:
    from reloadd.daemon.server import DEFAULT_GRACE, HEARTBEAT, SILENCE_LIMIT

    assert Welcome.heartbeat == HEARTBEAT
    heartbeats = f"more than {SILENCE_LIMIT / HEARTBEAT:g} heartbeats"
    assert heartbeats in section("Heartbeat").text.replace("\n", " ")
    assert heartbeats in message_sections()[Welcome.TYPE].text
    departure = section("Departure and return").text.replace("\n", " ")
    assert heartbeats in departure
    assert f"{DEFAULT_GRACE:g} s by default, set with `reloadd serve --grace`" in departure


def test_every_error_code_is_listed_once() -> None:
    (table,) = section("Error codes").tables()
    listed = [untick(row[0]) for row in table]
    assert sorted(listed) == sorted(code.value for code in ErrorCode)
    assert all(row[1] for row in table)


def limit_constants() -> dict[str, float]:
    return {
        name: value
        for name, value in vars(limits).items()
        if name.isupper() and isinstance(value, (int, float))
    }


def test_every_limit_is_listed_with_its_value() -> None:
    (table,) = section("Limits").tables()
    listed = {untick(row[0]): row[1] for row in table}
    constants = limit_constants()
    assert sorted(listed) == sorted(constants)
    for name, value in constants.items():
        # MAX_PID depends on the platform: its cell gives each value, the first Linux's.
        assert str(value) in listed[name].split(), name
        assert all(row[2] for row in table), "every limit needs a meaning"


def test_every_limit_the_spec_names_exists() -> None:
    named = set(re.findall(r"`((?:MAX|MIN)_[A-Z_]+)`", SPEC.read_text(encoding="utf-8")))
    assert named <= set(limit_constants()), named - set(limit_constants())


def bounded_fields() -> list[tuple[type[Any], str, Bounds]]:
    found = []
    for cls in (*MESSAGE_TYPES, ClientInfo):
        for name, hint in typing.get_type_hints(cls, include_extras=True).items():
            if typing.get_origin(hint) in (Union, types.UnionType):
                (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, Bounds):
                    found.append((cls, name, meta))
    return found


@pytest.mark.parametrize(
    ("cls", "name", "bounds"),
    bounded_fields(),
    ids=[f"{cls.__name__}.{name}" for cls, name, _ in bounded_fields()],
)
def test_every_bounded_field_gives_its_range(cls: type[Any], name: str, bounds: Bounds) -> None:
    owner = StatusReply if cls is ClientInfo else cls
    tables = message_sections()[owner.TYPE].tables()
    table = tables[1] if cls is ClientInfo else tables[0]
    (meaning,) = [row[3] for row in table if untick(row[0]) == name]
    assert bounds.spelled in meaning, f"{cls.__name__}.{name}: say {bounds.spelled!r}"


def test_the_limits_of_one_message_are_stated_in_encoding() -> None:
    text = section("Encoding").text
    for name in ("MAX_PATH_LENGTH", "MAX_PATHS_PER_MESSAGE", "MAX_MAP_ITEMS", "MAX_NESTING_DEPTH"):
        assert f"`{name}`" in text
    assert "known or not" in text
    assert "NaN" in text


def test_error_codes_named_in_the_limits_table_exist() -> None:
    (table,) = section("Limits").tables()
    codes = {code.value for code in ErrorCode}
    for row in table:
        assert row[3] == "—" or untick(row[3]) in codes, row


def test_root_markers_are_listed() -> None:
    text = section("Project root").text
    for marker in ROOT_MARKERS:
        assert f"`{marker}`" in text


def test_internal_links_point_at_headings() -> None:
    anchors = {re.sub(r"[^\w\- ]", "", s.title.lower()).replace(" ", "-") for s in SECTIONS}
    links = re.findall(r"\]\(#([^)]+)\)", SPEC.read_text(encoding="utf-8"))
    assert links
    assert set(links) <= anchors


def test_the_modules_the_spec_names_exist() -> None:
    intro = SECTIONS[1].text  # under the title
    named = re.findall(r"`(\w+\.py)`", intro)
    assert len(named) >= 8
    package = SPEC.parents[1] / "protocol"
    assert [name for name in named if not (package / name).is_file()] == []
