"""Signs of an anti-bot challenge page (SITES §2, §11): recorded as "blocked", never bypassed.

One list for the HTTP client (which checks every response) and the notice parsers (which check
pages that fail to parse).
"""

from __future__ import annotations

import re

# Markup that only a challenge/interstitial page carries: searched anywhere.
CHALLENGE_MARKUP = ("challenge-platform", "/cdn-cgi/challenge", "captcha-container", "TTGCaptcha")
# Human-readable markers: a notice may mention them, so a parsed page is only checked in
# <title>/<h1> (``looks_like_challenge``).
CHALLENGE_HEADINGS = (
    "Just a moment",
    "安全验证",
    "访问验证",
    "访问过于频繁",
    "Access Denied",
    "403 Forbidden",
)
CHALLENGE_MARKERS = (*CHALLENGE_MARKUP, *CHALLENGE_HEADINGS)
_HEADINGS = re.compile(r"<(title|h1)\b[^>]*>(.*?)</\1>", re.I | re.S)


def looks_like_challenge(text: str) -> str | None:
    """The challenge marker found in a page (markup anywhere, words in its title), if any."""
    for marker in CHALLENGE_MARKUP:
        if marker in text:
            return marker
    for match in _HEADINGS.finditer(text):
        for marker in CHALLENGE_HEADINGS:
            if marker.lower() in match.group(2).lower():
                return marker
    return None


def challenge_marker(html: str) -> str | None:
    """Any marker anywhere: for a page that already failed to parse as a notice."""
    return next((m for m in CHALLENGE_MARKERS if m in html), None)
