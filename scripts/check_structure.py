"""The shape rules of the code (README, "Layout"), checked by `make test`:

- no module over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES lines;
- no import of our own code inside a function (the layers are visible at the top of each
  module), except where it saves a real start-up cost, with a comment saying so.

Tests (and the fake Telegram Bot API they run against) are exempt. `lint-imports`
(`.importlinter`) checks the layers and that no imports go in a circle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("bot", "actions", "bench", "scripts")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
OURS = ("bot", "actions", "bench", "scripts", "tests")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else ["."]
    return [alias.name for alias in node.names]


def _commented(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or on the line above it."""
    return "#" in lines[line - 1] or (line > 1 and lines[line - 2].strip().startswith("#"))


def check_file(path: Path) -> list[str]:
    """Every rule the file breaks, as `path:line: what`."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    name = path.relative_to(ROOT)
    problems = []
    if len(lines) > MAX_MODULE_LINES:
        problems.append(f"{name}:1: {len(lines)} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(
                    f"{name}:{node.lineno}: {node.name}() is {length} lines (at most {MAX_FUNCTION_LINES})"
                )
            problems += _late_imports(node, lines, name)
    return problems


def _late_imports(function: ast.AST, lines: list[str], name: Path) -> list[str]:
    problems = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        modules = _imported(node)
        ours = any(m == "." or m.split(".")[0] in OURS for m in modules)
        if ours and not _commented(lines, node.lineno):
            problems.append(
                f"{name}:{node.lineno}: {', '.join(modules)} imported inside a function "
                "(import at the top, or say in a comment which start-up cost it saves)"
            )
    return problems


def main() -> int:
    """Print every problem; exit 1 if there is one."""
    problems = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            problems += check_file(path)
    for problem in problems:
        print(problem)
    print(f"structure: {len(problems)} problem(s) in {', '.join(CHECKED)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
