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

_HEAD_LINES = 8  # an order's heading lines: organs, 令, 第N号
_TAIL_LINES = 10  # the signature block: organs (or their heads), then the date
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
    """Bodies on lines that hold nothing but organs: an order's heading, the signature block.

    A line that addresses a body ("国家发展改革委：") or says anything else is not a signature.
    """
    lines = [squash(line) for line in body_text.splitlines() if squash(line)]
    picked = lines[:_HEAD_LINES] + lines[-_TAIL_LINES:]
    found: list[str] = []
    for line in picked:
        named = ordered_bodies(bodies, line)
        if not named or line.endswith((":", "：")) or not _only_organs(bodies, line, named):
            continue
        found.extend(b for b in named if b not in found)
    return found


def _only_organs(bodies: BodyIndex, line: str, named: list[str]) -> bool:
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
