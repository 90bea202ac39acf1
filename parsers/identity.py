"""Which pages are the same document, and which draft a final version replaces (DESIGN 3.6).

A document reaches policywatch on a ministry's list, through gov.cn's policy library and cited
by a MERICS story. Its identity is (issuing body, normalised 文号) when it has a 文号, else its
canonical URL with mobile and mirror hosts folded. A draft for comments (征求意见稿) and its
final version share the issuer and the title stem (:func:`title_stem`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from parsers.notices.common import canonical_url
from parsers.text import fold, squash

# --- 文号 ------------------------------------------------------------------------------------

_CJK = "\u4e00-\u9fff"
_OPEN, _CLOSE = r"〔\[(【〖〘", r"〕\])】〗〙"
_CN_DIGITS = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3,
    "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = "[〇零一二三四五六七八九两十百千]+"
_CN_IN_NUMBER = re.compile(rf"(?<=第){_CN_NUMBER}|{_CN_NUMBER}(?=年|号)")
_PREFIX = rf"(?P<prefix>[{_CJK}、]{{0,40}}?)"
_YEAR, _NO = r"(?P<year>(?:19|20)\d{2})", r"0*(?P<no>\d{1,5})"
_FORMS = (
    ("bracket", re.compile(rf"{_PREFIX}[{_OPEN}]{_YEAR}[{_CLOSE}]第?{_NO}号")),
    ("order_year", re.compile(rf"{_PREFIX}令{_YEAR}年第{_NO}号")),
    ("order", re.compile(rf"{_PREFIX}令第{_NO}号")),
    ("order", re.compile(rf"{_PREFIX}第{_NO}号令")),
    ("notice", re.compile(rf"{_PREFIX}(?P<kind>公告|通告){_YEAR}年第{_NO}号")),
    ("notice", re.compile(rf"{_PREFIX}{_YEAR}年第{_NO}号(?P<kind>公告|通告)")),
)
_STATE = "中华人民共和国"


def _cn_to_int(text: str) -> int:
    """二〇二五 -> 2025 (digit by digit), 二十六 -> 26 (with units)."""
    if all(c in _CN_DIGITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total = current = 0
    for char in text:
        if char in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[char]
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def _canonical_chars(text: str) -> str:
    """Full-width to ASCII, all spaces (U+3000 too) out, Chinese numerals as digits."""
    text = re.sub(r"\s+", "", fold(text))
    return _CN_IN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(0))), text)


def _format(form: str, m: re.Match[str]) -> tuple[str, str]:
    """(issuer prefix, the number in its standard spelling without the prefix)."""
    prefix = m.group("prefix").replace(_STATE, "")
    no = str(int(m.group("no")))
    if form == "bracket":
        return prefix, f"〔{m.group('year')}〕{no}号"
    if form == "order_year":
        return prefix, f"令{m.group('year')}年第{no}号"
    if form == "order":
        return prefix, f"令第{no}号"
    return prefix, f"{m.group('kind')}{m.group('year')}年第{no}号"


def _parts(text: str | None) -> tuple[str, str, str] | None:
    """(form, prefix, number) of the first 文号 in ``text``."""
    if not text:
        return None
    text = _canonical_chars(text)
    found = [(m.start(), form, m) for form, p in _FORMS if (m := p.search(text))]
    if not found:
        return None
    _, form, m = min(found, key=lambda f: f[0])
    prefix, number = _format(form, m)
    return form, prefix, number


def normalise_doc_number(text: str | None) -> str | None:
    """The 文号 in ``text`` spelled one way, or None if there is none.

    Brackets 〔〕 [] ［］ （） 【】 ﹝﹞ become 〔〕, full-width and Chinese numerals become ASCII
    digits, spaces (U+3000 too) go, ``中华人民共和国`` is dropped from the issuer part, and
    orders and announcements take one form: ``第7号令`` -> ``令第7号``, ``2025年第18号公告``
    -> ``公告2025年第18号``, ``交通运输部令2023年第5号`` stays.
    """
    parts = _parts(text)
    return parts[1] + parts[2] if parts else None


def doc_number_key(text: str | None) -> str | None:
    """The part of a 文号 that is unique within one issuer.

    For 〔year〕 numbers that is the whole number (工信厅科函 and 工信部联科 are different series
    of one ministry). Orders and announcements are numbered per issuer, and the issuer part
    is spelled many ways (商务部 / 商务部 海关总署 / 中华人民共和国商务部), so only
    ``令第N号`` / ``公告YYYY年第N号`` is kept; the issuing body completes the identity.
    """
    parts = _parts(text)
    if parts is None:
        return None
    form, prefix, number = parts
    return prefix + number if form == "bracket" else number


# --- identity --------------------------------------------------------------------------------

# Mobile and mirror hosts of the ministries that serve the same paths as www.
_MIRROR_PREFIXES = ("wap.", "m.", "mobile.")


def identity_url(url: str) -> str:
    """The canonical URL with ``wap.``/``m.``/``mobile.`` ``*.gov.cn`` hosts folded to ``www.``."""
    url = canonical_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.endswith(".gov.cn"):
        for prefix in _MIRROR_PREFIXES:
            if host.startswith(prefix):
                netloc = "www." + parts.netloc[len(prefix) :]
                return urlunsplit(parts._replace(netloc=netloc))
    return url


def _body_key(issuing_body: str | None) -> str:
    return squash(fold(issuing_body or "")).replace(":", " ")


def document_identity(issuing_body: str | None, doc_number: str | None, url: str) -> str:
    """``doc:<body>:<文号 key>`` when both are known, else ``url:<identity URL>``.

    ``issuing_body`` is the canonical body id (``MIIT``); the same document on gov.cn's policy
    library and on the ministry's site then gets one identity. Without a body a 文号 is not
    enough (``令第7号`` exists at every ministry), so the URL decides.
    """
    body, key = _body_key(issuing_body), doc_number_key(doc_number)
    if body and key:
        return f"doc:{body}:{key}"
    return f"url:{identity_url(url)}"


# --- drafts and final versions ---------------------------------------------------------------

_DRAFT = re.compile(
    r"征求意见稿|送审稿|意见稿|\([^()]*草案[^()]*\)|征求[^,。;]{0,80}?意见|公开征求"
)
_PAREN = re.compile(r"\(([^()]*)\)")
_DRAFT_WORDS = re.compile(
    r"(?:修订|修正)?(?:草案)?(?:第?[一二三四五六七八九十\d]+次)?(?:公开)?"
    r"(?:征求意见稿|送审稿|意见稿|草案)"
)
_DRAFT_TAIL = re.compile(r"(?:公开)?(?:征求意见稿|送审稿)$")
_WRAPPER = re.compile(
    r"^(?:.*?关于|.*?(?=公开征求|征求))?"
    r"(?:公开)?(?:就|对)?(?:公开)?(?:征求)?(?:对)?(?:印发|发布|公布|颁布|转发[^《》]{0,30}?)?"
    r"《(?P<inner>.+)》"
    r"(?:向社会)?(?:公开)?(?:征求)?(?:社会各界|公众)?(?:意见|的意见)?(?:的)?(?:通知|公告|通告|函)?$"
)


def _strip_draft_parens(text: str) -> str:
    """（征求意见稿） goes; （2025年本，征求意见稿） keeps its edition: （2025年本）."""

    def strip(m: re.Match[str]) -> str:
        inner = m.group(1)
        if not _DRAFT_WORDS.search(inner):
            return m.group(0)
        rest = re.sub(r"^[,、;]+|[,、;]+$", "", _DRAFT_WORDS.sub("", inner))
        return f"({rest})" if rest else ""

    return _PAREN.sub(strip, text)


def _compact(title: str) -> str:
    return re.sub(r"\s+", "", fold(title))


def is_draft(title: str) -> bool:
    """A draft for comments, or the notice that asks for comments on one.

    征求意见稿, 送审稿, （草案）, 公开征求意见, 关于征求《X》意见的通知 ...; a bare 草案 in running
    text (计划草案的报告) and 意见 as a document type (指导意见) are not drafts.
    """
    return bool(_DRAFT.search(_compact(title)))


def title_stem(title: str) -> str:
    """The title without draft markers and the notice wrapper, for linking draft and final.

    ``关于公开征求《X（征求意见稿）》意见的通知`` -> X, ``关于印发《X》的通知`` -> X,
    ``《X（征求意见稿）》`` -> X; without 《》 the issuer before 关于 goes
    (``工业和信息化部关于推进X的指导意见（征求意见稿）`` -> ``关于推进X的指导意见``).
    The stem is width-folded and has no spaces, so compare stems, not titles.
    """
    text = _DRAFT_TAIL.sub("", _strip_draft_parens(_compact(title)))
    m = _WRAPPER.match(text)
    if m:
        text = m.group("inner")
    else:
        head, sep, rest = text.partition("关于")
        text = sep + rest if sep and head else text
    stem = _DRAFT_TAIL.sub("", _strip_draft_parens(text))
    return stem or _compact(title)


def family_key(issuing_body: str | None, title: str) -> str:
    """Equal for a draft and its final version: issuing body plus :func:`title_stem`."""
    return f"{_body_key(issuing_body)}:{title_stem(title)}"
