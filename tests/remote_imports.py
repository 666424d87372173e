"""What a model folder's remote code imports, at any depth, read from the files' syntax trees (nothing is run).

The walk starts at the modules transformers loads (config.json's and processor_config.json's `auto_map`, and
config.json's `custom_pipelines`) and follows relative imports to their flat siblings. It records `import X`,
`from X import ...` (inside functions too) and `find_spec("X")` / `import_module("X")` with a literal name. For each
it keeps the words of the error raised when the import fails: the `raise` in an `except ImportError` around an
import, or any `raise` of the function around a `find_spec` (which reports a missing module as None).
"""

import ast
import functools
import json
import re
import sys
from dataclasses import dataclass
from importlib.metadata import distributions, packages_distributions
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
_BY_NAME = {"find_spec", "import_module"}


@dataclass(frozen=True)
class ImportSite:
    module: str  # the top-level name: "PIL" for `from PIL import Image`
    file: str
    line: int
    guard: str  # the words of the error raised when the import fails; "" when nothing catches the failure

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.module}"


@dataclass
class RemoteImports:
    sites: list[ImportSite]
    files: list[str]  # the files the walk reached, in order
    unresolved: list[str]  # relative imports with no sibling file in the folder

    def third_party(self) -> list[ImportSite]:
        return [site for site in self.sites if site.module not in sys.stdlib_module_names]


def entry_modules(folder: Path) -> list[str]:
    """The remote-code modules transformers imports from the folder's configs ("processing_avemo", ...)."""
    references = []

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "auto_map":
                    references.extend(value.values())
                elif key == "impl":
                    references.append(value)
                else:
                    collect(value)

    for name in ("config.json", "processor_config.json"):
        if (folder / name).is_file():
            collect(json.loads((folder / name).read_text()))
    names = [reference if isinstance(reference, str) else reference[0] for reference in references]
    return sorted({name.rsplit(".", 1)[0] for name in names if name})


def remote_imports(folder: Path) -> RemoteImports:
    result = RemoteImports([], [], [])
    pending = entry_modules(folder)
    while pending:
        module = pending.pop(0)
        file = f"{module}.py"
        if file in result.files:
            continue
        if not (folder / file).is_file():
            result.unresolved.append(f"{file} (named by the folder's configs or a relative import)")
            continue
        result.files.append(file)
        tree = ast.parse((folder / file).read_text(), filename=file)
        sites, relatives = _walk(tree, file)
        result.sites += sites
        pending += relatives
    return result


def _walk(tree: ast.AST, file: str) -> tuple[list[ImportSite], list[str]]:
    sites, relatives = [], []

    def visit(node, guard: str, function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node
        if isinstance(node, ast.Try):
            caught = _import_error_message(node)
            for child in node.body:
                visit(child, guard if caught is None else caught, function)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guard, function)
            return
        if isinstance(node, ast.Import):
            sites.extend(ImportSite(alias.name.split(".")[0], file, node.lineno, guard) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            sites.append(ImportSite(node.module.split(".")[0], file, node.lineno, guard))
        elif isinstance(node, ast.ImportFrom):
            if node.level != 1 or node.module is None or "." in node.module:
                relatives.append(f"{'.' * node.level}{node.module or ''} (only flat siblings can be saved)")
            else:
                relatives.append(node.module)
        elif isinstance(node, ast.Call) and _called_name(node) in _BY_NAME and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                words = _raise_words(function) if function is not None else ""
                sites.append(ImportSite(node.args[0].value.split(".")[0], file, node.lineno, words))
        for child in ast.iter_child_nodes(node):
            visit(child, guard, function)

    visit(tree, "", None)
    return sites, relatives


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def _import_error_message(node: ast.Try) -> str | None:
    """The words raised by the try's `except ImportError` handler ("" if it raises nothing); None without one."""
    for handler in node.handlers:
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names = {getattr(kind, "id", None) or getattr(kind, "attr", None) for kind in types if kind is not None}
        if names & _IMPORT_ERRORS:
            return " ".join(_raise_words(statement) for statement in handler.body)
    return None


def _raise_words(node: ast.AST) -> str:
    """The string constants (f-string parts too) of every `raise` under `node`."""
    words = []
    for statement in ast.walk(node):
        if isinstance(statement, ast.Raise):
            words += [
                part.value
                for part in ast.walk(statement)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            ]
    return " ".join(words)


def pip_names(message: str) -> set[str]:
    """Canonical names of what an error message tells to `pip install` ("... : pip install pillow" -> {"pillow"})."""
    names = set()
    for command in re.findall(r"pip install ([^:;\n]+)", message):
        for word in command.split():
            try:
                names.add(canonicalize_name(Requirement(word.strip("\"'`.,)")).name))
            except InvalidRequirement:
                break  # the command's words end where prose begins
    return names


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return packages_distributions()  # a quarter of a second each time: read once


@functools.cache
def _files_by_distribution() -> dict[str, set[str]]:
    """Top-level import names each installed distribution's files provide."""
    provided = {}
    for dist in distributions():
        names = set()
        for path in dist.files or ():
            top = path.parts[0]
            if top.endswith((".dist-info", ".data")) or top == "..":
                continue
            names.add(top.split(".")[0] if len(path.parts) == 1 else top)
        provided[canonicalize_name(dist.metadata["Name"])] = names
    return provided


def providing_distributions(module: str) -> set[str]:
    """Canonical names of the installed distributions that provide top-level module `module`. Metadata first
    (`packages_distributions`); then the distributions' file lists, since a wheel's top_level.txt can be wrong
    (dlib-bin's names only `_dlib_pybind11`, not `dlib`)."""
    names = {canonicalize_name(name) for name in _packages_distributions().get(module, ())}
    return names or {dist for dist, modules in _files_by_distribution().items() if module in modules}
