"""Who issued a notice: the lead issuer and every co-issuer of a joint document (DESIGN 3.2).

A joint document names its issuers in several places, none of them complete on every site:
the labelled issuer field (gov.cn's 发文机关 "工业和信息化部 国家发展改革委"), the title before
关于, the 文号 of an order or announcement ("商务部 海关总署公告2025年第18号"), the order's
heading lines (国家发展和改革委员会 / 商务部 / 令) and the signature block at the end, where
each organ signs on a line of its own, sometimes with its head's title and name
("商务部部长　王某某"). All of them are read and merged, the lead issuer first.
"""

from __future__ import annotations

import re

from parsers.bodies import BodyIndex
from parsers.text import fold, squash

__all__ = ["all_issuers", "lead_body", "ordered_bodies", "title_issuer_part"]

_HEAD_LINES = 8  # at most this many organs sign one document
_TAIL_LINES = 10  # the signature date stands among the last lines (before attachments, if any)
_DATE_LINE = re.compile(r"^(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")
_ORDER_LINE = re.compile(
    r"^(?:令|第\s*[0-9一二三四五六七八九十百零〇]+\s*号|(?:19|20)\d{2}\s*年\s*第\s*\d{1,4}\s*号)$"
)
# What may stand next to an organ's name on a signature line: the state's name, 令, and a
# head's title with a (possibly masked) personal name.
_SIGNATURE_REST = re.compile(
    r"^(?:中华人民共和国|办公厅|办公室|综合司)*"
    r"(?:令|(?:主任|部长|局长|署长|行长|院长|主席|总理|秘书长|书记)[\u4e00-\u9fff·]{0,6})?$"
)


def title_issuer_part(title: str) -> str:
    """The part of a title before 关于 names the issuer (工业和信息化部办公厅关于 ...)."""
    head, sep, _ = title.partition("关于")
    return head if sep else ""


def ordered_bodies(bodies: BodyIndex, text: str) -> list[str]:
    """Ids of the bodies named in ``text``, in the order ``text`` names them."""
    folded = fold(text)

    def position(body_id: str) -> int:
        body = bodies.get(body_id)
        names = body.names() if body else ()
        return min((i for n in names if (i := folded.find(fold(n))) >= 0), default=len(folded))

    return sorted(bodies.find_in(text), key=position)


def lead_body(bodies: BodyIndex, text: str) -> str | None:
    """The body named first in ``text``: the lead issuer of a joint document (工业和信息化部 国家发展改革委)."""
    found = ordered_bodies(bodies, text)
    return found[0] if found else None


def signature_bodies(bodies: BodyIndex, body_text: str) -> list[str]:
    """Bodies on the lines that hold nothing but organs: an order's heading (the organs above
    令 or 第N号) and the signature block (the organs, or their heads, above the date).

    Elsewhere an organ on a line of its own may be a recipient or a copy (抄送) and is not read.
    """
    lines = [squash(line) for line in body_text.splitlines() if squash(line)]
    found: list[str] = []
    head = _organ_run(bodies, lines, 0, 1)
    after = lines[len(head)] if len(head) < len(lines) else ""
    if head and (head[-1].endswith("令") or _ORDER_LINE.match(after)):
        found.extend(head)
    tail = max(len(lines) - _TAIL_LINES, 0)
    for i in range(len(lines) - 1, tail - 1, -1):
        if _DATE_LINE.match(lines[i]):
            found.extend(_organ_run(bodies, lines, i - 1, -1))
    ids: list[str] = []
    for line in found:
        ids.extend(b for b in ordered_bodies(bodies, line) if b not in ids)
    return ids


def _organ_run(bodies: BodyIndex, lines: list[str], start: int, step: int) -> list[str]:
    """The lines from ``start`` on (``step`` 1 down, -1 up) that hold only organs, in text order."""
    run: list[str] = []
    i = start
    while 0 <= i < len(lines) and len(run) < _HEAD_LINES and _only_organs(bodies, lines[i]):
        run.append(lines[i])
        i += step
    return run if step > 0 else run[::-1]


def _only_organs(bodies: BodyIndex, line: str) -> bool:
    named = ordered_bodies(bodies, line)
    if not named or line.endswith((":", "：")):
        return False
    rest = fold(line)
    for body_id in named:
        body = bodies.get(body_id)
        for name in sorted(body.names() if body else (), key=len, reverse=True):
            rest = rest.replace(fold(name), " ")
    return _SIGNATURE_REST.match(re.sub(r"[\s、，,和及与]", "", rest)) is not None


def all_issuers(
    bodies: BodyIndex, lead: str | None, sources: tuple[str | None, ...], body_text: str
) -> list[str]:
    """The lead issuer, then every other body named by ``sources`` (issuer field, title part,
    文号) or by the heading and signature lines of ``body_text``, each once."""
    found: list[str] = [lead] if lead else []
    named = [b for text in sources if text for b in ordered_bodies(bodies, text)]
    for body_id in named + signature_bodies(bodies, body_text):
        if body_id not in found:
            found.append(body_id)
    return found
