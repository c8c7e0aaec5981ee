"""A loopback OSV (api.osv.dev) fed with the recorded samples in tests/fixtures/upstream/osv/:
`POST /v1/querybatch` answering `{id, modified}` per advisory (paged by `page_token` as OSV
does), `GET /v1/vulns/{id}` answering the full record. The records are the recorded
`get-v1-vulns` and `post-v1-query` samples, re-addressed to the watched package (the samples
are OSS-Fuzz C projects) and given the aliases and CVSS vector the OSV schema carries. No tests
live here."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any

from pytest_httpserver import HTTPServer
from test_source_support import iso, load
from werkzeug import Request, Response

PACKAGE = {"ecosystem": "PyPI", "name": "vllm"}
CVSS = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"


def recorded_listing() -> list[dict[str, str]]:
    """The recorded querybatch's first result: four {id, modified} of one package."""
    return load("osv/post-v1-querybatch.sample_200.json")["results"][0]["vulns"]  # type: ignore[no-any-return]


def record_for(vuln_id: str, modified: str, *, package: dict[str, str] = PACKAGE,
               aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    """The recorded `GET /v1/vulns/{id}` record under another id, time and package."""
    record = copy.deepcopy(load("osv/get-v1-vulns.sample_200.json"))
    record.update(id=vuln_id, modified=modified, aliases=list(aliases))
    record["affected"][0]["package"] = dict(package)
    record["affected"][0]["ranges"] = [{"type": "ECOSYSTEM", "events": [
        {"introduced": "0.5.0"}, {"fixed": "0.6.1"}]}]
    record["severity"] = [{"type": "CVSS_V3", "score": CVSS}]
    return record


class FakeOsv:
    def __init__(self, server: HTTPServer, page_size: int = 100) -> None:
        self.records: dict[str, dict[str, Any]] = {}  # by id, in publication order
        self.page_size = page_size
        self.requests: list[tuple[str, str]] = []
        self.listing_override: list[Any] | None = None  # a malformed listing to serve
        self.fault: Response | None = None  # the batch query's answer while set (an outage)
        server.expect_request("/v1/querybatch", method="POST").respond_with_handler(self.batch)
        server.expect_request(re.compile(r"/v1/vulns/.+")).respond_with_handler(self.vuln)

    def seed_recorded(self) -> None:
        for item in recorded_listing():
            self.records[item["id"]] = record_for(item["id"], item["modified"])

    def publish(self, vuln_id: str, at: datetime, aliases: tuple[str, ...] = ()) -> None:
        self.records[vuln_id] = record_for(vuln_id, iso(at), aliases=aliases)
        self.records[vuln_id]["published"] = iso(at)

    def modify(self, vuln_id: str, at: datetime, **changes: Any) -> None:
        self.records[vuln_id].update(changes, modified=iso(at))

    def batch(self, request: Request) -> Response:
        self.requests.append(("POST", request.path))
        if self.fault is not None:
            return self.fault
        body = json.loads(request.data)
        results = []
        for query in body["queries"]:
            wanted = query["package"]
            items = [{"id": r["id"], "modified": r["modified"]} for r in self.records.values()
                     if any(a["package"]["name"] == wanted["name"]
                            and a["package"]["ecosystem"] == wanted["ecosystem"]
                            for a in r["affected"])]
            if self.listing_override is not None:
                items = self.listing_override
            start = int(query.get("page_token") or 0)
            result: dict[str, Any] = {"vulns": items[start:start + self.page_size]}
            if start + self.page_size < len(items):
                result["next_page_token"] = str(start + self.page_size)
            results.append(result)
        return Response(json.dumps({"results": results}), content_type="application/json")

    def vuln(self, request: Request) -> Response:
        self.requests.append(("GET", request.path))
        vuln_id = request.path.rsplit("/", 1)[1]
        if vuln_id not in self.records:
            return Response(json.dumps({"code": 5, "message": "Bug not found."}), status=404,
                            content_type="application/json")
        return Response(json.dumps(self.records[vuln_id]), content_type="application/json")
