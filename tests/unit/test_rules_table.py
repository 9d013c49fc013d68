"""docs/rules.md is generated from the rule definitions, every rule has a test, and no rule
cites the Beijing rules' chapter 2 (B§7–B§18: Beijing-insured workers treated elsewhere).

Regenerate the table after adding or changing a rule: ``python -m scripts.rules_table``.
"""

from __future__ import annotations

import pytest

from scripts import rules_table
from scripts.rules_table import COMMAND, OUTPUT, ROOT, RuleRow, chapter_2_citations, national_first

# Where the clerk, the worker, IT or a developer reads a citation.
CITING = ("adapter", "connectors", "upload_queue", "config", "docs", "scripts")
SUFFIXES = (".py", ".html", ".toml", ".md", ".txt", ".js")
CHAPTER_2_RANGE = "B§7–B§18"  # naming the chapter to exclude it is not citing it


@pytest.fixture(scope="module")
def built() -> tuple[list[RuleRow], str]:
    return rules_table.build()


def test_docs_rules_md_is_what_the_generator_writes(built: tuple[list[RuleRow], str]) -> None:
    _, text = built
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    assert current == text, f"docs/rules.md is out of date: run `{COMMAND}` and commit it"


def test_every_rule_has_a_test_naming_it(built: tuple[list[RuleRow], str]) -> None:
    rules, _ = built
    untested = [
        f"{r.code} ({r.article}) in {', '.join(r.defined_in)}" for r in rules if not r.tests
    ]
    assert not untested, (
        "rules without a test naming them (write one named by the code and the article, e.g. "
        f"test_PR_EXCLUDED_N3_B30_..., then run `{COMMAND}`):\n" + "\n".join(untested)
    )


def test_the_table_finds_the_rules_of_every_kind(built: tuple[list[RuleRow], str]) -> None:
    rules, text = built
    codes = {r.code for r in rules}
    # a Rule in the domain, one in a service, an error with an article, an error class
    assert {"EL_FILING_EXISTS", "EL_CARD_REJECTED", "MANUAL_CLAIM_TOO_EARLY", "CARD_LOST"} <= codes
    assert all(f"| `{code}` |" in text for code in codes)


def test_no_rule_cites_beijing_chapter_2(built: tuple[list[RuleRow], str]) -> None:
    rules, _ = built
    wrong = [
        f"{r.code}: {cited}"
        for r in rules
        if (cited := chapter_2_citations(r.article + " " + r.message))
    ]
    assert not wrong, "chapter 2 (B§7–B§18) is not the treatment place's side:\n" + "\n".join(wrong)


def test_every_rule_cites_the_national_article_first(built: tuple[list[RuleRow], str]) -> None:
    rules, _ = built
    wrong = [f"{r.code}: {r.article}" for r in rules if not national_first(r.article)]
    assert not wrong, "cite the national article first:\n" + "\n".join(wrong)


def test_no_code_template_or_doc_cites_beijing_chapter_2() -> None:
    found = []
    for top in CITING:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in SUFFIXES or ".venv" in path.parts:
                continue
            text = path.read_text(encoding="utf-8").replace(CHAPTER_2_RANGE, "")
            for number, line in enumerate(text.splitlines(), 1):
                if cited := chapter_2_citations(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {', '.join(cited)}")
    for name in ("README.md",):
        text = (ROOT / name).read_text(encoding="utf-8").replace(CHAPTER_2_RANGE, "")
        found += [f"{name}: {c}" for c in chapter_2_citations(text)]
    assert not found, "chapter-2 citations (B§7–B§18) on the treatment place's side:\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    ("article", "cited"),
    [("N§16, B§26", []), ("B§17, N§16", ["B§17"]), ("B§7", ["B§7"]), ("B§70, B§180", [])],
)
def test_chapter_2_citations_are_b7_to_b18_only(article: str, cited: list[str]) -> None:
    assert chapter_2_citations(article) == cited


@pytest.mark.parametrize(
    ("article", "first"),
    [("N§16, B§26", True), ("N§34, 附表2", True), ("B§40", True), ("B§28, N§45", False)],
)
def test_national_first_reads_the_order_of_the_articles(article: str, first: bool) -> None:
    assert national_first(article) is first
