"""Masking of secrets for anything a person or a log can see."""

from __future__ import annotations

import re


def mask(secret: str | None) -> str:
    """Keep only the last 4 characters: enough to tell keys apart, useless to an attacker."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "****"
    return "****" + secret[-4:]


_URL_CRED = re.compile(r"(?<=://)([^/@:]+):([^/@]+)@")


def mask_url(url: str) -> str:
    """Hide the password in a URL such as an egress proxy `socks5://user:pass@host`."""
    return _URL_CRED.sub(lambda m: f"{m.group(1)}:****@", url)
