"""YAML config loading that keeps line numbers, so every config error names file:line.

``load_yaml`` parses with PyYAML's safe constructors and also returns, for each path into the
document (``("watchlists", 0, "sectors", 1)``), the line it came from. ``validate`` runs a
pydantic model over the data and turns every validation error into one readable line:

    config/watchlists.yaml:12: watchlists[0].sectorz: unknown key; allowed: name, sectors, ...

``substitute_env`` resolves the ``${VAR}`` references that secrets are written as (channel URLs,
mailbox passwords).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from policywatch.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class YamlDoc:
    """Parsed YAML plus the line (1-based) of every mapping key and sequence entry."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of ``loc``, or of its closest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1

    def where(self, loc: Sequence[str | int]) -> str:
        return f"{self.path}:{self.line(loc)}"


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines)


# libyaml's C loader when PyYAML was built with it (about 10x faster on the taxonomy files);
# it gives the same node marks, so file:line in errors is unchanged.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """One parse for both the line numbers (the node tree) and the data (built from it)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_yaml(path: Path) -> YamlDoc:
    """Read ``path`` with a safe loader; a syntax error becomes a ConfigError with file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found",
            hint="create it or point --config-dir at the folder that has it",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        node, data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        line, what, hint = syntax_error(exc, text.splitlines())
        fix = f" ({hint})" if hint else ""
        raise ConfigError(f"{path}:{line}: invalid YAML: {what}{fix}") from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(path=path, data=data if data is not None else {}, lines=lines)


_INDENT_HINT = "entries of one mapping or list start in the same column; indent with spaces"


def syntax_error(exc: yaml.MarkedYAMLError, lines: Sequence[str]) -> tuple[int, str, str | None]:
    """The line a YAML syntax error really is on, what is wrong there, and how to fix it.

    The parser notices many mistakes only on the next line (a key without ':', a quote or a
    bracket never closed); the line where the mistake starts is then the context mark, or
    the line before."""
    context, problem = exc.context or "", exc.problem or str(exc)
    at = exc.problem_mark.line if exc.problem_mark else 0
    start = exc.context_mark.line if exc.context_mark else at
    if "tab" in problem or "\t" in _indent(lines, at):
        return at + 1, "a tab in the indentation", "indent with spaces; YAML does not allow tabs"
    if "simple key" in context:
        return start + 1, "a key without ':'", "write 'key: value' (a space after the colon)"
    if "quoted scalar" in context:
        return start + 1, "a quote opened on this line is never closed", "close the quote"
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[ ... ]" if "sequence" in context else "{ ... }"
        return start + 1, "a bracket opened on this line is never closed", f"write {bracket}"
    if "mapping values are not allowed" in problem:
        before = _previous_content_line(lines, at)
        if before is not None and not _has_key(lines[before]):
            return before + 1, "a key without ':'", "write 'key: value' (a space after the colon)"
        return (
            at + 1,
            "the indentation does not line up",
            _INDENT_HINT + "; quote a value with ': '",
        )
    if "block end" in problem or "expected key" in problem or "'-' indicator" in problem:
        return at + 1, "the indentation does not line up", _INDENT_HINT
    return at + 1, problem, None


def _indent(lines: Sequence[str], index: int) -> str:
    line = lines[index] if 0 <= index < len(lines) else ""
    return line[: len(line) - len(line.lstrip())]


def _previous_content_line(lines: Sequence[str], index: int) -> int | None:
    for i in range(min(index, len(lines)) - 1, -1, -1):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            return i
    return None


def _has_key(line: str) -> bool:
    """Whether a line holds ``key:`` (a list dash alone, ``- value``, holds none either)."""
    body = line.split(" #", 1)[0].strip()
    return body.endswith(":") or ": " in body


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like ``name``, for "did you mean" hints."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if match:
        return match[0]
    lowered = {k.lower(): k for k in known}
    hit = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


def unknown_name(
    doc: YamlDoc, loc: Sequence[str | int], what: str, name: str, known: Iterable[str]
) -> str:
    """``file:line: path: unknown <what> 'x' (did you mean 'y'?)``."""
    hint = closest(name, known)
    msg = f"{doc.where(loc)}: {dotted(loc)}: unknown {what} '{name}'"
    return msg + (f" (did you mean '{hint}'?)" if hint else "")


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """Walk ``model``'s fields along ``loc`` to list the keys allowed where an unknown one was."""
    current: Any = model
    mapping_key = False  # the part after a dict[str, Model] field is a user's key, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or mapping_key:
            mapping_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        mapping_key = getattr(info.annotation, "__origin__", None) is dict if info else False
        if info is None:
            return None
        current = _inner_model(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def error_lines(doc: YamlDoc, model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One ``file:line: path: message`` string per pydantic error."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            hint = closest(str(loc[-1]), allowed or [])
            msg = "unknown key"
            if hint:
                msg += f" (did you mean '{hint}'?)"
            if allowed:
                msg += f"; allowed: {', '.join(allowed)}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{doc.where(loc)}: {dotted(loc)}: {msg}")
    return out


def validate(doc: YamlDoc, model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Validate ``doc.data`` with ``model``; all problems are reported at once in one ConfigError."""
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        lines = error_lines(doc, model, exc)
        raise ConfigError(
            "\n".join(lines), hint=f"fix {doc.path} and run `policywatch check-config`"
        ) from None


def substitute_env(
    value: str, environ: Mapping[str, str], where: str, path: str
) -> tuple[str, list[str]]:
    """Replace ``${VAR}``; missing variables are reported by name, never by value."""
    missing = [m for m in ENV_REF.findall(value) if m not in environ]
    errors = [
        f"{where}: {path}: environment variable {var} is not set"
        " (export it before running policywatch)"
        for var in dict.fromkeys(missing)
    ]
    return ENV_REF.sub(lambda m: environ.get(m.group(1), ""), value), errors
