"""The folder source: issues received as files (PDF, HTML, TXT, MD) dropped into a folder.

Every file whose content hash was not settled before is a candidate, so a corrected file is
processed again and a copy of a known file is not. An empty file (still being written) waits for
its content; an unreadable file is skipped with a warning and does not stop the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
from datetime import UTC, date, datetime
from pathlib import Path

from policywatch.errors import ConfigError
from policywatch.settings import SourceSettings
from policywatch.sources.base import Candidate, SourceState

__all__ = ["FOLDER_SUFFIXES", "list_candidates"]

log = logging.getLogger(__name__)

FOLDER_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".txt", ".md"})


async def list_candidates(
    source: SourceSettings, state: SourceState, since: date | None, root: Path
) -> list[Candidate]:
    return await asyncio.to_thread(_scan_folder, source, state, since, root)


def _folder_of(source: SourceSettings, root: Path) -> Path:
    if not source.path:
        raise ConfigError(f"source '{source.name}': a folder source needs 'path'")
    folder = Path(source.path).expanduser()
    folder = folder if folder.is_absolute() else root / folder
    if not folder.is_dir():
        raise ConfigError(
            f"source '{source.name}': folder {folder} does not exist",
            hint="create it or fix 'path' in config/policywatch.yaml",
        )
    return folder


def _scan_folder(
    source: SourceSettings, state: SourceState, since: date | None, root: Path
) -> list[Candidate]:
    folder = _folder_of(source, root)
    name = source.name
    seen = set(state.seen)
    found: dict[str, Candidate] = {}
    for path in sorted(folder.rglob("*")):
        if not _is_issue_file(path, folder):
            continue
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
            if since and modified < since:
                continue
            content = path.read_bytes()
        except OSError as exc:  # one unreadable file must not hide the others
            log.warning("source %s: cannot read %s (%s); skipped", name, path, exc)
            continue
        if not content.strip():  # empty, or still being written: wait for its content
            continue
        key = "sha256:" + hashlib.sha256(content).hexdigest()
        if key in seen or key in found:
            continue
        found[key] = Candidate(
            source=name, url=None, path=path, content=content, key=key, title=path.stem,
            published=None, content_type=mimetypes.guess_type(path.name)[0] or "text/plain",
        )  # fmt: skip
    return list(found.values())


def _is_issue_file(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return path.is_file() and not hidden and path.suffix.lower() in FOLDER_SUFFIXES
