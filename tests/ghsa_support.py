"""A loopback GitHub advisories API fed with the recorded global advisory
(tests/fixtures/upstream/github/global_advisories_by_ghsa.json): `GET /advisories` filtered by
`ecosystem` and `affects`, and `GET /repos/{o}/{r}/security-advisories`, both sorted by
`updated` newest first, paged with Link next, ETag + 304 and X-RateLimit-* headers as
recorded. No tests live here."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from test_source_support import iso, json_response, load
from werkzeug import Request, Response

ECOSYSTEM, PACKAGE = "pip", "vllm"
REPO = "vllm-project/vllm"
RECORDED_ID = "GHSA-9324-jv53-9cc8"


def advisory(ghsa_id: str, cve_id: str | None, at: datetime, *, repo: bool = False,
             severity: str = "high") -> dict[str, Any]:
    """The recorded advisory under another id and time, affecting pip/vllm."""
    item: dict[str, Any] = copy.deepcopy(load("github/global_advisories_by_ghsa.json")[0])
    item.update(ghsa_id=ghsa_id, cve_id=cve_id, published_at=iso(at), updated_at=iso(at),
                html_url=f"https://github.com/advisories/{ghsa_id}", severity=severity)
    vulnerability = item["vulnerabilities"][0]
    vulnerability["package"] = {"ecosystem": ECOSYSTEM, "name": PACKAGE}
    vulnerability["vulnerable_version_range"] = ">= 0.5.0, < 0.6.1"
    if repo:
        vulnerability.pop("first_patched_version")
        vulnerability["patched_versions"] = "0.6.1"
        item["state"] = "published"
    else:
        vulnerability["first_patched_version"] = "0.6.1"
    return item


class FakeAdvisories:
    def __init__(self, server: HTTPServer, per_page_cap: int = 100) -> None:
        self.server = server
        self.global_items: list[dict[str, Any]] = []
        self.repo_items: list[dict[str, Any]] = []
        self.per_page_cap = per_page_cap
        self.requests: list[Request] = []
        self.fault: Response | None = None  # answered instead while set (an outage)
        server.expect_request("/advisories").respond_with_handler(self.global_list)
        server.expect_request(f"/repos/{REPO}/security-advisories").respond_with_handler(
            self.repo_list)

    def seed_recorded(self) -> None:
        recorded = load("github/global_advisories_by_ghsa.json")[0]
        item = advisory(RECORDED_ID, recorded["cve_id"], datetime.fromisoformat(
            recorded["updated_at"].replace("Z", "+00:00")))
        item["published_at"] = recorded["published_at"]
        self.global_items.append(item)

    def global_list(self, request: Request) -> Response:
        args = request.args
        items = [i for i in self.global_items if any(
            v["package"] == {"ecosystem": args.get("ecosystem"), "name": args.get("affects")}
            for v in i["vulnerabilities"])]
        return self._page(request, "/advisories", items)

    def repo_list(self, request: Request) -> Response:
        return self._page(request, f"/repos/{REPO}/security-advisories", self.repo_items)

    def _page(self, request: Request, path: str, items: list[dict[str, Any]]) -> Response:
        self.requests.append(request)
        if self.fault is not None:
            return self.fault
        args = request.args
        items = sorted(items, key=lambda i: i["updated_at"], reverse=True)
        per_page = min(int(args.get("per_page", "30")), self.per_page_cap)
        page = int(args.get("page", "1"))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4989",
                   "X-RateLimit-Reset": "1690600508", "X-RateLimit-Resource": "core"}
        if page * per_page < len(items):
            query = {k: v for k, v in args.items() if k != "page"}
            query["page"] = str(page + 1)
            headers["Link"] = f'<{self.server.url_for(path)}?{urlencode(query)}>; rel="next"'
        return json_response(request, chunk, headers)
