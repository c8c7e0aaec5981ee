"""The HTTP layer's small generic pieces a token flow needs: a 401's WWW-Authenticate challenge
travels in the error's context, and a HEAD answers its headers (no body to decode)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from test_http_faults import fetch
from test_source_support import FakeClock, make_pool, run, spec_for
from werkzeug import Response

from mrt.errors import SourceError
from mrt.sources import oci

CHALLENGE = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'


def test_a_401_carries_its_challenge_and_other_errors_none(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/denied").respond_with_response(
        Response("no", status=401, headers={"WWW-Authenticate": CHALLENGE}))
    httpserver.expect_request("/gone").respond_with_response(Response("no", status=404))
    with pytest.raises(SourceError) as denied:
        fetch(httpserver, FakeClock(), path="/denied")
    assert denied.value.http_status == 401 and denied.value.context["challenge"] == CHALLENGE
    with pytest.raises(SourceError) as gone:
        fetch(httpserver, FakeClock(), path="/gone")
    assert gone.value.http_status == 404 and "challenge" not in gone.value.context


def test_head_answers_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/m", method="HEAD").respond_with_response(
        Response(status=200, headers={"Docker-Content-Digest": "sha256:abc"}))
    spec = spec_for(oci, oci.Config(images=["rust"]))

    async def go() -> str:
        async with make_pool(FakeClock()) as pool:
            client = pool.client(spec.http_settings({}), validators={})
            page = await client.request_json("HEAD", httpserver.url_for("/m"), decode=False,
                                             conditional=False)
            return str(page.headers["docker-content-digest"])

    assert run(go) == "sha256:abc"
