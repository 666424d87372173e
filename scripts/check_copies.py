"""Check the marked copies: code that must exist twice stays identical to its source (transformers'
utils/check_copies.py, on a small scale).

Remote code forces some copies: a saved model folder is flat and its files import one another only relatively,
and the processor's files travel without the model's, so the processor keeps its own `MODALITIES`, `uses_visual`,
... Each copy is marked on the line above it with the dotted path of its source (a file path under the
repository, then names inside the file):

    # Copied from modeling_avemo.configuration_avemo.AVEmoConfig.uses_visual
    @property
    def uses_visual(self) -> bool:

The marked statement (a function, class or assignment, decorators included) must equal the source's, indentation
aside; `with Old->New[, Old2->New2]` after the path applies replacements to the source first. A marker naming a
module alone (`# Copied from modeling_avemo.face_recipes_avemo`) on the first line of a file marks the whole rest
of the file as a copy of that module.

    python scripts/check_copies.py      # lists every drifted copy; exit status 1 if there is one
"""

import ast
import re
import sys
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^\s*# Copied from ([\w.]+)(?: with (.+))?\s*$")
SKIPPED_FOLDERS = {"tests", "build", "dist", "__pycache__"}


@dataclass
class MarkedCopy:
    file: Path
    line: int  # 1-based line of the marker
    source: str  # dotted path
    replacements: list[tuple[str, str]]

    def where(self, root: Path) -> str:
        return f"{self.file.relative_to(root)}:{self.line}"


def find_copies(root: Path = REPO_ROOT) -> list[MarkedCopy]:
    """Every `# Copied from` marker in the repository's Python files (tests and hidden folders excluded)."""
    copies = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in parts[:-1]):
            continue
        with path.open(encoding="utf-8") as handle:
            # Comments only: a marker quoted in a string (as in this docstring) is not one.
            comments = [
                (token.start[0], token.string)
                for token in tokenize.generate_tokens(handle.readline)
                if token.type == tokenize.COMMENT
            ]
        for number, text in comments:
            match = MARKER.match(text)
            if match:
                replacements = []
                for pair in (match.group(2) or "").split(","):
                    if pair.strip():
                        old, _, new = pair.strip().partition("->")
                        replacements.append((old.strip(), new.strip()))
                copies.append(MarkedCopy(path, number, match.group(1), replacements))
    return copies


def _statement_text(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
    return textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno])) + "\n"


def _statements(body: list[ast.stmt]):
    """Every statement, nested ones included, with the names it defines."""
    for node in body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        yield node, names
        if isinstance(node, ast.ClassDef):
            yield from _statements(node.body)


def _resolve(source: str, root: Path) -> tuple[Path, list[str]]:
    """The file a dotted path points into and the names to look up inside it."""
    parts = source.split(".")
    for cut in range(len(parts), 0, -1):
        path = root.joinpath(*parts[:cut]).with_suffix(".py")
        if path.is_file():
            return path, parts[cut:]
    raise LookupError(f"{source}: no file {'/'.join(parts)}.py (or a prefix of it) in the repository")


def _source_text(source: str, root: Path) -> str:
    path, names = _resolve(source, root)
    text = path.read_text(encoding="utf-8")
    if not names:
        return text
    lines, body = text.splitlines(), ast.parse(text).body
    for depth, name in enumerate(names):
        found = next((node for node, defined in _statements(body) if name in defined), None)
        if found is None:
            raise LookupError(f"{source}: {name!r} is not defined in {path.relative_to(root)}")
        if depth < len(names) - 1:
            if not isinstance(found, ast.ClassDef):
                raise LookupError(f"{source}: {name!r} in {path.relative_to(root)} is not a class")
            body = found.body
    return _statement_text(lines, found)


def _copy_text(copy: MarkedCopy, source_is_module: bool) -> str:
    text = copy.file.read_text(encoding="utf-8")
    lines = text.splitlines()
    if source_is_module:
        if copy.line != 1:
            raise LookupError("a whole-module marker must be the file's first line")
        return text.split("\n", 1)[1] if "\n" in text else ""
    statement = next(
        (
            node
            for node, _ in _statements(ast.parse(text).body)
            if min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) == copy.line + 1
        ),
        None,
    )
    if statement is None:
        raise LookupError("the marker is not directly above a statement")
    return _statement_text(lines, statement)


def check_copies(root: Path = REPO_ROOT) -> list[str]:
    """One message per marked copy that differs from its source or cannot be checked; empty when all match."""
    problems = []
    for copy in find_copies(root):
        try:
            source_is_module = not _resolve(copy.source, root)[1]
            expected = _source_text(copy.source, root)
            for old, new in copy.replacements:
                expected = expected.replace(old, new)
            actual = _copy_text(copy, source_is_module)
        except (LookupError, SyntaxError) as error:
            problems.append(f"{copy.where(root)}: {error}")
            continue
        if actual != expected:
            diff = _first_difference(expected, actual)
            problems.append(f"{copy.where(root)}: differs from {copy.source} ({diff})")
    return problems


def _first_difference(expected: str, actual: str) -> str:
    for number, (want, got) in enumerate(zip(expected.splitlines(), actual.splitlines()), start=1):
        if want != got:
            return f"line {number} of the copy: {got.strip()!r}, the source has {want.strip()!r}"
    return f"the copy has {len(actual.splitlines())} lines, the source {len(expected.splitlines())}"


def main() -> int:
    copies, problems = find_copies(), check_copies()
    for problem in problems:
        print(problem)
    print(f"{len(copies)} marked copies, {len(problems)} drifted", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
