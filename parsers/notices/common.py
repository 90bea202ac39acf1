"""Helpers every notice parser shares: URLs, dates, 文号, decoding, body text, attachments.

Ministry sites differ in their selectors but not in these rules (SITES.md §0 and §12), so they
live here once and the site modules only say where things are on their pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import soupsieve
from bs4 import BeautifulSoup, Tag

from parsers.charset import to_text
from parsers.notices.quickselect import PageIndex
from parsers.text import fingerprint, fold, month_number, squash

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

# --- URLs ------------------------------------------------------------------------------------

TRACKING_PARAMS = frozenset(
    {"xxgkhide", "spm", "from", "isappinstalled", "share_token", "scene", "clicktime", "wfr"}
)
# Bare domains that serve the same pages as their www. host.
_BARE_TO_WWW = frozenset(
    {
        "gov.cn",
        "cac.gov.cn",
        "miit.gov.cn",
        "samr.gov.cn",
        "ndrc.gov.cn",
        "mofcom.gov.cn",
        "mee.gov.cn",
        "mof.gov.cn",
        "nea.gov.cn",
    }
)


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8192)  # pure, and asked about the same URLs many times a run
def canonical_url(url: str) -> str:
    """One spelling per page: https, ``wap.``/bare host -> ``www.``, no tracking params, no fragment.

    Loopback and IP hosts keep their scheme so that test and demo servers stay reachable; a
    file path or any non-web URL is returned as given.
    """
    parts = urlsplit(squash(url))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return squash(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("wap."):
        host = "www." + host[4:]
    elif host in _BARE_TO_WWW:
        host = "www." + host
    scheme, port = parts.scheme.lower(), parts.port
    if port in (80, 443):
        port = None
    if scheme == "http" and port is None and not _is_local(host):
        scheme = "https"
    netloc = f"{host}:{port}" if port else host
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith("utm_")
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


# --- dates (SITES §12; all Chinese dates are Beijing time) ------------------------------------

_TIME = r"(?:[ T\-]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日" + r"(?:\s*(\d{1,2}):(\d{2}))?"
        ),
        "ymd",
    ),
    (re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)" + _TIME), "ymd"),
    (re.compile(r"(?<!\d)(1\d{12})(?!\d)"), "epoch_ms"),
    (re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})\b"), "mdy"),
)


def _build(y: str, mo: str, d: str, hh: str | None, mm: str | None, ss: str | None) -> dt.datetime:
    return dt.datetime(
        int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=BEIJING
    )


def parse_cn_datetime(text: str | None) -> dt.datetime | None:
    """The first date in ``text`` as an aware Beijing-time datetime, whatever its SITES §12 format."""
    if not text:
        return None
    text = fold(text)
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            try:
                if kind == "epoch_ms":
                    return dt.datetime.fromtimestamp(int(m.group(1)) / 1000, tz=BEIJING)
                if kind == "mdy":
                    month = month_number(m.group(1))
                    if month is None:
                        continue
                    return _build(m.group(3), str(month), m.group(2), None, None, None)
                groups = m.groups() + (None,) * (6 - len(m.groups()))
                return _build(*groups[:6])
            except ValueError:  # 2024-02-30 and the like: look further
                continue
    return None


def parse_cn_date(text: str | None) -> dt.date | None:
    """Like :func:`parse_cn_datetime` but only the (Beijing) calendar date."""
    moment = parse_cn_datetime(text)
    return moment.date() if moment else None


# --- 文号 (document numbers) --------------------------------------------------------------------

_CJK = r"\u4e00-\u9fff"
_OPEN, _CLOSE = r"〔\[［（(【", r"〕\]］）)】"
_NUMBER = r"[0-9一二三四五六七八九十百零〇]+"
_YEAR = r"((?:19|20)\d{2})\s*年\s*第\s*(\d{1,4})\s*号"
# An order's organs may stand on lines of their own above 令 (国家发展和改革委员会 / 商务部 / 令).
_ORDER_HEAD = rf"([{_CJK}][{_CJK}\s]{{0,40}}?令)\s*"
_ORGAN_END = "部委局署院行会厅办室府门"
_DOC_NUMBER_PATTERNS = (
    re.compile(
        rf"([{_CJK}]{{2,14}})\s*[{_OPEN}]\s*((?:19|20)\d{{2}})\s*[{_CLOSE}]\s*(\d{{1,5}})\s*号"
    ),
    re.compile(rf"{_ORDER_HEAD}第\s*({_NUMBER})\s*号"),  # 市场监管总局令第26号
    re.compile(rf"([{_CJK}][{_CJK} ]{{0,24}}?公告)\s*{_YEAR}"),  # 商务部公告2024年第33号
    re.compile(rf"{_ORDER_HEAD}{_YEAR}"),  # 交通运输部令2023年第5号
    re.compile(rf"([{_CJK}][{_CJK} ]{{0,20}}?[{_ORGAN_END}])\s*第\s*({_NUMBER})\s*号令"),  # 第7号令
)
_ORGAN_LINE = re.compile(rf"[{_CJK} ]{{1,40}}[{_ORGAN_END}]")
# Words that precede a number in running text but are not part of the issuer's abbreviation.
_LEADING_WORDS = re.compile(
    r"^(?:.*?(?:按照|根据|依据|依照|贯彻|落实|印发|转发|参照|执行|详见|的通知|通知))+"
)


def _clean_prefix(prefix: str) -> str:
    prefix = squash(prefix)
    trimmed = _LEADING_WORDS.sub("", prefix)
    return trimmed if len(trimmed) >= 2 else prefix


def _order_prefix(raw: str) -> str:
    """The organs of an order, also when they stand on lines of their own above 令."""
    lines = [squash(line) for line in raw.split("\n") if squash(line)]
    head = [_clean_prefix(lines[-1])]
    for line in reversed(lines[:-1]):
        if not _ORGAN_LINE.fullmatch(line):
            break
        head.insert(0, line)
    return re.sub(r"\s+令$", "令", " ".join(head))


def _format_doc_number(m: re.Match[str], index: int) -> str:
    """The standard spelling: 〔YYYY〕 brackets, no spaces, an order as "…令第N号"."""
    if index == 0:
        return f"{_clean_prefix(m.group(1))}〔{m.group(2)}〕{m.group(3)}号"
    if index == 1:
        return f"{_order_prefix(m.group(1))}第{m.group(2)}号"
    if index == 2:
        return f"{_clean_prefix(m.group(1))}{m.group(2)}年第{m.group(3)}号"
    if index == 3:
        return f"{_order_prefix(m.group(1))}{m.group(2)}年第{m.group(3)}号"
    return f"{_clean_prefix(m.group(1))}令第{m.group(2)}号"


def find_doc_number(text: str | None) -> str | None:
    """The first 文号 in ``text``, spelled the standard way (〔YYYY〕 brackets, no spaces)."""
    if not text or "号" not in text:  # every pattern ends in 号, which nothing else folds to
        return None
    text = fold(text)  # full-width ［］（） become ASCII; the patterns accept both
    found: list[tuple[int, str]] = []
    for index, pattern in enumerate(_DOC_NUMBER_PATTERNS):
        m = pattern.search(text)
        if m:
            found.append((m.start(), _format_doc_number(m, index)))
    return min(found)[1] if found else None


def _standalone_doc_number(text: str) -> str | None:
    """A 文号 on a line of its own (the notice's own number, not one it cites in a sentence)."""
    for line in text.splitlines():
        number = find_doc_number(line)
        if number and len(re.sub(r"\s", "", fold(line))) <= len(number) + 4:
            return number
    return None


def doc_number_from(
    labelled: str | None, title: str | None, body: str, edge: int = 300
) -> str | None:
    """Search order of SITES §12: labelled field, title, start of body, end of body.

    In the body a number on its own line wins over one cited inside a sentence.
    """
    head, tail = body[:edge], body[-edge:]
    for number in (
        find_doc_number(labelled),
        find_doc_number(title),
        _standalone_doc_number(head),
        _standalone_doc_number(tail),
        find_doc_number(head),
        find_doc_number(tail),
    ):
        if number:
            return number
    return squash(labelled) if labelled and squash(labelled) else None


# --- decoding --------------------------------------------------------------------------------


def decode_html(data: bytes, encoding: str | None = None) -> str:
    """Bytes of a notice page to text (the rules are in ``parsers.charset``)."""
    return to_text(data, declared=encoding)


# --- body text -------------------------------------------------------------------------------

_BLOCK_TAGS = (
    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "section", "article", "blockquote", "pre", "ul", "ol", "dd", "dt",
)  # fmt: skip
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "form",
    "button",
    "select",
    "input",
    "iframe",
    "object",
)
NOISE_SELECTORS = (
    ".bdsharebuttonbox",
    ".share",
    ".share-bar",
    ".fenxiang",
    ".print",
    "#print",
    ".fontsize",
    ".ewm",
    ".qrcode",
)
_NOISE_LINE = re.compile(
    r"^(?:(?:【[^】]{0,12}】\s*)+|(?:责任编辑|分享到|扫一扫|相关阅读|相关链接|字号|【字体).*|"
    r"(?:打印本页|关闭窗口|打印|关闭|返回顶部|收藏|大 中 小|\[?打印\]?\s*\[?关闭\]?))$"
)


def is_noise_line(line: str) -> bool:
    return bool(_NOISE_LINE.match(line))


def body_text(body: Tag) -> str:
    """Visible text of a body element, one block per line, page furniture dropped.

    Mutates ``body`` (scripts and share bars are removed), so take links out first.
    """
    index = PageIndex(body)  # one walk instead of one per kind of element
    furniture = index.named(_DROP_TAGS)
    furniture += [t for selector in NOISE_SELECTORS for t in index.select(selector)]
    for tag in furniture:
        if not tag.decomposed:  # not inside furniture already removed
            tag.decompose()
    for tag in index.named(("br",)):
        tag.replace_with("\n")
    for tag in index.named(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.append("\n")
    for cell in index.named(("td", "th")):
        cell.append(" ")
    lines = (squash(line) for line in body.get_text().split("\n"))
    return "\n".join(line for line in lines if line and not is_noise_line(line))


def content_hash(text: str) -> str:
    """Stable over whitespace and width changes, so a re-rendered page is not a revision."""
    return fingerprint(text, length=64)


# --- attachments -----------------------------------------------------------------------------

ATTACHMENT_EXTENSIONS = ("pdf", "doc", "docx", "wps", "xls", "xlsx", "zip", "ofd", "rar", "et")
_ATTACHMENT_PATH = re.compile(r"\.(" + "|".join(ATTACHMENT_EXTENSIONS) + r")$", re.I)


def attachment_links(containers: list[Tag], base_url: str) -> list[tuple[str, str]]:
    """(name, absolute URL) for every file link in ``containers``, first occurrence wins."""
    seen: dict[str, str] = {}
    for container in containers:
        for a in container.find_all("a", href=True):
            href = str(a["href"]).strip()
            url = canonical_url(urljoin(base_url, href))
            if not _ATTACHMENT_PATH.search(urlsplit(url).path) or url in seen:
                continue
            name = squash(a.get_text(" ")) or str(a.get("title") or "") or url.rsplit("/", 1)[-1]
            seen[url] = squash(name)
    return [(name, url) for url, name in seen.items()]


# --- JS redirect pages (MOFCOM legacy, SITES §7) ---------------------------------------------

REDIRECT_PATTERNS = (
    re.compile(
        r"""(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*["']([^"'+]+)["']\s*(?:;|$|<)""",
        re.M,
    ),
    re.compile(r"""location\.replace\(\s*["']([^"'+]+)["']\s*\)"""),
    re.compile(r"""_cofing1\s*=\s*\{[^}]*?\bhref\s*:\s*["']([^"'+]+)["']"""),
)
_META_REFRESH = re.compile(
    r"""<meta[^>]+http-equiv\s*=\s*["']?refresh["']?[^>]+content\s*=\s*["']?\s*\d+\s*;\s*url\s*=\s*([^"'>\s]+)""",
    re.I,
)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.I | re.S)


def find_redirect(html: str, url: str) -> str | None:
    """The absolute target of a JS (or meta refresh) redirect page, or None.

    Only unconditional assignments of a plain string inside ``<script>`` count, so a search box
    handler (``location.href = '/s?q=' + q``) is not mistaken for a redirect.
    """
    for script in _SCRIPT.findall(html):
        for pattern in REDIRECT_PATTERNS:
            m = pattern.search(script)
            if m and m.group(1).strip() not in ("", "#"):
                return _absolute(url, m.group(1))
    m = _META_REFRESH.search(html)
    return _absolute(url, m.group(1)) if m else None


def _absolute(base: str, target: str) -> str | None:
    target = target.strip()
    if target.lower().startswith(("javascript:", "mailto:")):
        return None
    absolute = urljoin(base, target)
    return None if absolute == base else absolute


# --- page access -----------------------------------------------------------------------------


@functools.cache
def css(selector: str) -> soupsieve.SoupSieve:
    """A compiled selector: compiling once per process makes parsing several times faster."""
    return soupsieve.compile(selector)


def select(root: BeautifulSoup | Tag, selector: str) -> list[Tag]:
    return list(css(selector).select(root))


def matches(root: BeautifulSoup | Tag, selector: str) -> Iterator[Tag]:
    """The elements ``selector`` matches, in document order, found as they are consumed."""
    return css(selector).iselect(root)


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def metas(soup: BeautifulSoup) -> dict[str, str]:
    """``<meta name=... content=...>`` by lower-cased name (first occurrence wins)."""
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        name = tag.get("name") or tag.get("property")
        content = tag.get("content")
        if name and content:
            found.setdefault(str(name).strip().lower(), squash(str(content)))
    return found


def first_tag(
    soup: BeautifulSoup | Tag, selectors: tuple[str, ...], *, min_text: int = 1
) -> Tag | None:
    """The first element matched by the selectors, in order, that has some text."""
    return first_with_text((matches(soup, selector) for selector in selectors), min_text)


def first_with_text(found: Iterable[Iterable[Tag]], min_text: int = 1) -> Tag | None:
    """The first tag of the first group with at least ``min_text`` characters of text."""
    for tags in found:
        for tag in tags:
            if len(squash(tag.get_text(" "))) >= min_text:
                return tag
    return None


def first_text(soup: BeautifulSoup | Tag, selectors: tuple[str, ...]) -> str | None:
    tag = first_tag(soup, selectors)
    return squash(tag.get_text(" ")) if tag else None


def strip_label(text: str | None, *labels: str) -> str | None:
    """``来源：科技司`` -> ``科技司``; returns None when nothing is left."""
    if text is None:
        return None
    text = squash(text)
    for label in labels:
        m = re.search(rf"{label}\s*[:：]\s*(.*)", text)
        if m:
            text = m.group(1)
            break
    return squash(text) or None


def labelled_value(soup: BeautifulSoup | Tag, label: str) -> str | None:
    """Text after ``label：`` in the first element that starts with it (来源：, 发布时间：)."""
    pattern = re.compile(rf"^\s*{label}\s*[:：]")
    for string in soup.find_all(string=pattern):
        text = squash(str(string))
        value = strip_label(text, label)
        if value:
            return value
        parent = string.parent
        if parent is not None:
            return strip_label(squash(parent.get_text(" ")), label)
    return None
