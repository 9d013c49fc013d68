"""docs/rules.md: every rule the adapter enforces, its articles, its message and its tests.

    python -m scripts.rules_table           # rewrite docs/rules.md
    python -m scripts.rules_table --check   # exit 1 when docs/rules.md is out of date

What counts as a rule, found by reading the source (``ast``), never by a hand-kept list:

* every module-level ``NAME = Rule(code, article, message)`` under ``adapter/`` and
  ``connectors/`` (:class:`adapter.domain.rules.Rule`; the value is taken from the imported
  module, so the article and message are exactly what the clerk sees);
* every error raised with a literal ``code="..."`` and an ``article=...`` (a string, or a
  module constant such as ``ARTICLE`` or ``EXCLUDED.article``);
* every error class that declares both ``code`` and ``article`` (``CardLost``), with the
  message of its first ``raise``.

A rule's tests are the test functions under ``tests/`` that name it: its code in the test's
name (``test_PR_EXCLUDED_N3_B30_...``) or as a word anywhere in the function (decorators
included, and module-level tables the function uses), or its constant imported from the
rule's module and used in the function.

The output is deterministic: rows sorted by code, tests by path and line, no dates.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("adapter", "connectors")
SKIP = ("adapter/store/migrations", "connectors/upstream/simulator")
TESTS = "tests"
OUTPUT = ROOT / "docs" / "rules.md"
COMMAND = "python -m scripts.rules_table"
SHOWN_TESTS = 4  # per rule in the table; the rest are counted

# Beijing chapter 2 (B§7–B§18) governs Beijing-insured workers treated elsewhere: never ours.
CHAPTER_2 = range(7, 19)
_ARTICLE = re.compile(r"([NB])§(\d+)")


def chapter_2_citations(text: str) -> list[str]:
    """The Beijing chapter-2 articles ``text`` cites (a ``B§n`` with n from 7 to 18)."""
    return [
        m.group(0)
        for m in _ARTICLE.finditer(text)
        if m.group(1) == "B" and int(m.group(2)) in CHAPTER_2
    ]


def national_first(article: str) -> bool:
    """No national article follows a Beijing one in ``article`` ("N§16, B§26" is right)."""
    kinds = [m.group(1) for m in _ARTICLE.finditer(article)]
    return kinds == sorted(kinds, key=lambda kind: kind != "N")


@dataclass
class RuleRow:
    code: str
    article: str
    message: str
    kind: str  # "rule" or "error"
    defined_in: list[str] = field(default_factory=list)  # "path (NAME)" or "path"
    names: set[tuple[str, str]] = field(default_factory=set)  # (module, constant name)
    tests: list[str] = field(default_factory=list)  # "path::test_name"


# -- finding the rules ------------------------------------------------------------------------


def _python_files(top: str) -> Iterator[Path]:
    for path in sorted((ROOT / top).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not any(relative.startswith(skip) for skip in SKIP):
            yield path


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_rule_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Rule"
        and len(node.args) + len(node.keywords) >= 3
    )


def _template(node: ast.expr, namespace: dict[str, object]) -> str:
    """A message expression as the clerk would read it, placeholders as ``{expression}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"  # type: ignore[attr-defined]
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left, namespace) + _template(node.right, namespace)
    if isinstance(node, ast.Name) and isinstance(namespace.get(node.id), str):
        return str(namespace[node.id])
    if isinstance(node, ast.IfExp):  # a clause shown only sometimes: [clause]
        shown, otherwise = _template(node.body, namespace), _template(node.orelse, namespace)
        return f"[{shown}]" if not otherwise else f"[{shown} / {otherwise}]"
    return "{" + ast.unparse(node) + "}"


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _resolve(node: ast.expr, namespace: dict[str, object], where: str) -> str:
    """An ``article=`` expression's value: a literal, or a module constant it names."""
    literal = _literal(node)
    if literal is not None:
        return literal
    try:
        value = eval(compile(ast.Expression(node), where, "eval"), dict(namespace))
    except Exception as exc:
        raise SystemExit(
            f"{where}: cannot resolve article={ast.unparse(node)} ({exc}); use a string or a "
            "module constant so docs/rules.md can list it"
        ) from exc
    if not isinstance(value, str):
        raise SystemExit(f"{where}: article={ast.unparse(node)} is not a string")
    return value


def _add(rows: dict[tuple[str, str], RuleRow], row: RuleRow) -> None:
    key = (row.code, row.article)
    if key in rows:
        known = rows[key]
        known.defined_in += [d for d in row.defined_in if d not in known.defined_in]
        known.names |= row.names
    else:
        rows[key] = row


def find_rules() -> list[RuleRow]:
    """Every rule and every error that carries an article, sorted by code then article."""
    rows: dict[tuple[str, str], RuleRow] = {}
    article_classes: dict[str, tuple[str, str, str]] = {}  # class → (code, article, path)
    first_raise: dict[str, str] = {}  # class → message of its first raise
    for top in SOURCES:
        for path in _python_files(top):
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), relative)
            module_name = _module_name(path)
            has_rules = any(isinstance(n, ast.Assign) and _is_rule_call(n.value) for n in tree.body)
            has_articles = any(
                isinstance(n, ast.Call) and _keyword(n, "article") is not None
                for n in ast.walk(tree)
            )
            namespace: dict[str, object] = {}
            if has_rules or has_articles:
                namespace = vars(importlib.import_module(module_name))
            for node in tree.body:
                if isinstance(node, ast.Assign) and _is_rule_call(node.value):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            rule = namespace[target.id]
                            _add(
                                rows,
                                RuleRow(
                                    rule.code,  # type: ignore[attr-defined]
                                    rule.article,  # type: ignore[attr-defined]
                                    rule.message,  # type: ignore[attr-defined]
                                    "rule",
                                    [f"{relative} ({target.id})"],
                                    {(module_name, target.id)},
                                ),
                            )
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    attrs = {
                        t.id: _literal(n.value)
                        for n in node.body
                        if isinstance(n, ast.Assign)
                        for t in n.targets
                        if isinstance(t, ast.Name)
                    }
                    code, article = attrs.get("code"), attrs.get("article")
                    if code and article:
                        article_classes[node.name] = (code, article, relative)
                if not isinstance(node, ast.Call):
                    continue
                if isinstance(node.func, ast.Name) and node.args:
                    first_raise.setdefault(node.func.id, _template(node.args[0], namespace))
                code = _literal(_keyword(node, "code"))
                article_node = _keyword(node, "article")
                if code is None or article_node is None:
                    continue
                where = f"{relative}:{node.lineno}"
                article = _resolve(article_node, namespace, where)
                message_node = node.args[0] if node.args else _keyword(node, "message")
                message = _template(message_node, namespace) if message_node is not None else ""
                _add(rows, RuleRow(code, article, message, "error", [relative]))
    for name, (code, article, relative) in sorted(article_classes.items()):
        _add(rows, RuleRow(code, article, first_raise.get(name, ""), "error", [relative]))
    return [rows[key] for key in sorted(rows)]


# -- finding their tests ----------------------------------------------------------------------


@dataclass(frozen=True)
class TestFunction:
    id: str  # path::[Class::]name
    name: str
    path: str
    line: int
    text: str  # its source, decorators included
    identifiers: frozenset[str]  # every name it uses


def _identifiers(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _test_functions(
    tree: ast.Module, source: str, relative: str
) -> Iterator[tuple[TestFunction, ast.AST]]:
    lines = source.splitlines()

    def walk(body: Iterable[ast.stmt], prefix: str) -> Iterator[tuple[TestFunction, ast.AST]]:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                yield from walk(node.body, f"{prefix}{node.name}::")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                text = "\n".join(lines[start - 1 : node.end_lineno])
                found = TestFunction(
                    f"{relative}::{prefix}{node.name}",
                    node.name,
                    relative,
                    start,
                    text,
                    frozenset(_identifiers(node)),
                )
                yield found, node

    yield from walk(tree.body, "")


def _imports(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """alias → (module, name) for every ``from module import name [as alias]``."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


def find_tests(rules: list[RuleRow]) -> None:
    """Fill each rule's ``tests`` with the test functions that name it."""
    words = {rule.code: re.compile(rf"\b{re.escape(rule.code)}\b") for rule in rules}
    in_name = {rule.code: re.compile(rf"(^|_){re.escape(rule.code)}(_|$)") for rule in rules}
    found: dict[str, list[TestFunction]] = {rule.code: [] for rule in rules}
    for path in sorted((ROOT / TESTS).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        if not any(word.search(source) for word in words.values()) and "import" not in source:
            continue
        tree = ast.parse(source, relative)
        imports = _imports(tree)
        # module-level tables (parametrize cases) that mention a code, by the names bound
        tables: dict[str, set[str]] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                segment = ast.get_source_segment(source, node) or ""
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for code, word in words.items():
                    if word.search(segment):
                        for target in targets:
                            tables.setdefault(code, set()).update(_identifiers(target))
        for function, _node in _test_functions(tree, source, relative):
            for rule in rules:
                named = (
                    bool(in_name[rule.code].search(function.name))
                    or bool(words[rule.code].search(function.text))
                    or bool(tables.get(rule.code, set()) & function.identifiers)
                    or any(
                        imports.get(alias) in rule.names
                        for alias in function.identifiers
                        if alias in imports
                    )
                )
                if named and function not in found[rule.code]:
                    found[rule.code].append(function)
    for rule in rules:
        rule.tests = [f.id for f in sorted(found[rule.code], key=lambda f: (f.path, f.line))]


# -- the table --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _tests_cell(tests: list[str]) -> str:
    if not tests:
        return "**none**"
    shown = "<br>".join(f"`{t}`" for t in tests[:SHOWN_TESTS])
    more = len(tests) - SHOWN_TESTS
    return shown + (f"<br>(+{more} more)" if more > 0 else "")


def _table(rows: list[RuleRow]) -> list[str]:
    out = [
        "| code | articles | message (Chinese, as the clerk reads it) | defined in | tests |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        out.append(
            f"| `{row.code}` | {_cell(row.article)} | {_cell(row.message)} | "
            f"{'<br>'.join(f'`{d}`' for d in row.defined_in)} | {_tests_cell(row.tests)} |"
        )
    return out


def render(rules: list[RuleRow]) -> str:
    lines = [
        "# Rules: code, articles, message, tests",
        "",
        f"Generated by `{COMMAND}` from the rule definitions; do not edit by hand.",
        "`tests/unit/test_rules_table.py` fails when this file is out of date, when a rule has",
        "no test naming it (its code, or its constant), or when a rule cites the Beijing rules'",
        "chapter 2 (B§7–B§18, Beijing-insured workers treated elsewhere: never the treatment",
        "place's side) or cites a Beijing article before a national one.",
        "",
        "`N§n`: 工伤保险跨省异地就医直接结算经办规程 第n条;",
        "`B§n`: 本市工伤保险跨省异地就医费用直接结算经办管理细则 第n条 (chapter 4, B§23–B§41,",
        "and the general chapters); 附表1/附表2: the filing forms. `{name}` in a message is",
        "filled in by the check; `[clause]` is shown only in some cases.",
        "",
        "## Rules (`Rule`: a finding in every decision — refusal, warning or passed)",
        "",
        *_table([r for r in rules if r.kind == "rule"]),
        "",
        "## Errors that cite an article (refusals raised by a use case)",
        "",
        *_table([r for r in rules if r.kind == "error"]),
        "",
    ]
    return "\n".join(lines)


def build() -> tuple[list[RuleRow], str]:
    rules = find_rules()
    find_tests(rules)
    return rules, render(rules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/rules.md differs")
    args = parser.parse_args(argv)
    _, text = build()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if args.check:
        if current != text:
            print(f"docs/rules.md is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
