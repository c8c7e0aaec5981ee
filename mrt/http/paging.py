"""Following `Link: rel="next"` pages, on the same origin only (the token goes with them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from mrt.errors import UpstreamChanged
from mrt.http.client import HttpClient
from mrt.http.settings import JsonResponse


async def link_pages(
    http: HttpClient,
    url: str,
    *,
    params: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    max_pages: int = 50,
    conditional: bool = True,
) -> AsyncIterator[JsonResponse]:
    """Yield the first page (conditional) and each `next` page until there is none.

    A 304 on the first page ends the walk: nothing changed. The caller may stop early (break).
    """
    origin = httpx.URL(url)
    page = await http.get_json(url, params=params, headers=headers, conditional=conditional)
    yield page
    for _ in range(max_pages - 1):
        next_url = page.links.get("next")
        if page.not_modified or not next_url:
            return
        target = httpx.URL(next_url)
        if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
            raise UpstreamChanged(
                f"{page.url}: the next page points to another origin ({target.host}); "
                "not following it with this source's credentials",
                url=page.url,
            )
        page = await http.get_json(next_url, headers=headers, conditional=False)
        yield page
