"""Every command and setting README.md and docs/operations.md name exists: the `wi-adapter`
command lines (their subcommands and options, against the real parser), the `[section] key`
settings and `ADAPTER_SECTION__KEY` variables (against the settings model), the `[http]`
limits table, and the `make` targets. A guide that names a command or key that was renamed
sends the IT person who types it to an argparse error or a setting that is silently ignored.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from adapter.cli import build_parser
from adapter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/operations.md")
# what the docs write where a value goes: `ID`, `PATH`, `…`, `[--anchor …]`, `A|B`
_PLACEHOLDER = re.compile(r"^([A-Z][A-Z_-]*|…|\.\.\.)$")


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _code(text: str) -> Iterator[str]:
    """The lines of shell blocks and the inline code spans (those broken over lines too)."""
    for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.DOTALL):
        yield from block.splitlines()
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for span in re.findall(r"`([^`]+)`", prose):
        yield " ".join(span.split())


def _command_lines() -> Iterator[tuple[str, list[str]]]:
    for name in DOCS:
        for snippet in _code(_text(name)):
            if "docker" in snippet:  # the image and container are called wi-adapter too
                continue
            for match in re.finditer(r"(?:^|[\s/])wi-adapter((?: +[^\s&;`]+)*)", snippet):
                words = match.group(1).replace("\\|", "|").split()
                if words:
                    yield f"{name}: {snippet}", words


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: a for a in parser._actions for option in a.option_strings}


def _check(words: list[str]) -> str | None:
    """What in ``words`` (after ``wi-adapter``) the parser does not know, or ``None``."""
    parser = build_parser()
    index = 0
    while index < len(words):
        word = words[index].strip("[]")
        index += 1
        if word.startswith("--"):
            action = _options(parser).get(word.split("=")[0])
            if action is None:
                return word
            if action.nargs != 0 and "=" not in word:
                index += 1  # its value
            continue
        subcommands = _subcommands(parser)
        if not subcommands or _PLACEHOLDER.match(word):
            continue  # a positional value (a month, an id, a path)
        choices = word.split("|")
        if any(choice not in subcommands for choice in choices):
            return word
        if len(choices) == 1:
            parser = subcommands[word]
    return None


def test_every_wi_adapter_command_the_docs_name_parses_with_the_real_cli() -> None:
    seen = list(_command_lines())
    assert len(seen) > 40  # the docs' commands were found
    unknown = [(where, word) for where, words in seen if (word := _check(words)) is not None]
    assert unknown == []


def test_the_command_check_refuses_what_the_cli_does_not_have() -> None:
    assert _check(["queue", "list", "--status", "dead"]) is None
    assert _check(["queue", "list|summary|show"]) is None
    assert _check(["audit", "verify", "[--anchor", "FILE]"]) is None
    assert _check(["queue", "lsit"]) == "lsit"
    assert _check(["queue", "purge", "--older-than", "3"]) == "--older-than"


# values the site table shows beside the keys: kinds, auth schemes, `false`, `auto`, and
# upstream's reply field err_msg
_VALUES = {"medical", "rehab", "device", "none", "hmac", "sm", "false", "auto", "err_msg"}


def _settings() -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            known[name] = set(section.model_fields)
        else:
            known[name] = set()
    return known


def _named_settings() -> Iterator[tuple[str, str, str]]:
    """(doc, section, key or '') of every `[section] key`, `[section]` and ADAPTER_ variable."""
    known = _settings()
    for name in DOCS:
        text = _text(name)
        # `[web] secure_cookies = true`, [database] `url`, `[queue] instance_id`, `[logging]`
        # (not PromQL's [5m])
        spans = r"`\[([a-z][a-z_0-9]*)\] ([a-z_0-9]+)"
        prose = r"(?<![\w)}])`?\[([a-z][a-z_0-9]*)\]`?(?: `([a-z_0-9]+)`)?"
        for pattern in (spans, prose):
            for section, key in re.findall(pattern, text):
                yield name, section, key
        for variable in re.findall(r"ADAPTER_([A-Z0-9_]+)", text):
            section, _, key = variable.lower().partition("__")
            if section not in ("config_file", "demo_token", "test_pg_url"):
                yield name, section, key
        # the "Configure a site" table: | `[section]` | `key` (…), `key` … |; a row naming
        # another `[section]` may name its keys too
        for section, row in re.findall(r"^\| `\[([a-z0-9_]+)\]` \| (.*)\|$", text, re.MULTILINE):
            sections = [section, *re.findall(r"`\[([a-z0-9_]+)\]`", row)]
            for token in set(re.findall(r"`([a-z][a-z_0-9]*)`", row)) - _VALUES:
                owner = next((s for s in sections if token in known.get(s, ())), section)
                yield name, owner, token
        # the [http] limits table: `key` | default | what happens
        table = text.split("protects itself from clients", 1)
        if len(table) == 2:
            rows = re.findall(r"^\| `([a-z_]+)` \|", table[1].split("\n\n", 2)[1], re.MULTILINE)
            yield from ((name, "http", key) for key in rows)


def test_every_setting_the_docs_name_is_one_the_adapter_reads() -> None:
    known = _settings()
    named = list(_named_settings())
    assert len(named) > 40
    wrong = [
        (doc, section, key)
        for doc, section, key in named
        if section not in known or (key and key not in known[section])
    ]
    assert wrong == []


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_target_the_docs_name_is_in_the_makefile(doc: str) -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", _text("Makefile"), re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", _text(doc)))
    named |= set(re.findall(r"^make ([a-z][a-z-]*)", _text(doc), re.MULTILINE))
    assert named and named <= targets, named - targets
