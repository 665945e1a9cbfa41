"""CONTACTPOINT_ES_URL: one Elasticsearch URL, or several comma-separated (the nodes a client may use)."""
from __future__ import annotations

from urllib.parse import urlsplit


def parse_es_urls(text: str) -> list[str]:
    """The URLs in ``text``, in order; ValueError naming the entry (by position: a URL may carry a password)
    that is not an http(s) URL with a host."""
    urls = [part.strip() for part in text.split(",")]
    for position, url in enumerate(urls, 1):
        if not url:
            raise ValueError(f"entry {position} is empty: separate URLs with single commas")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"entry {position} is not an http:// or https:// URL with a host")
        try:
            parts.port
        except ValueError:
            raise ValueError(f"entry {position} has an invalid port") from None
        if url in urls[:position - 1]:
            raise ValueError(f"entry {position} repeats entry {urls.index(url) + 1}")
    return urls
