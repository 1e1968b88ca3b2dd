"""/docs and /redoc work without internet: the pages and every asset they
load come from the service itself (issue 18, point 16). And /metrics counts
the documentation routes under their own names, and both spellings of a
path under one route (point 17)."""

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

# Where a page can refer to another resource: attributes, CSS url(), and any absolute URL at all.
REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")
ABSOLUTE = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+")


@pytest.mark.parametrize(
    ("page", "script"),
    [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")],
)
async def test_a_documentation_page_loads_nothing_from_another_host(client, page, script):
    answer = await client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert not ABSOLUTE.findall(html), ABSOLUTE.findall(html)
    assert "fonts.googleapis" not in html and "cdn." not in html
    references = [a or b for a, b in REFERENCES.findall(html)]
    assert any(r.endswith(script) for r in references), references
    for reference in references:
        assert reference.startswith("/"), reference
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 1000, reference
        if reference.endswith(".css"):
            external = [u for u in REFERENCES.findall(asset.text) if ABSOLUTE.match(u[1] or u[0])]
            assert not external, external
    # The page reads the service's own document.
    assert "/openapi.json" in html


async def test_the_swagger_ui_asks_no_outside_validator(client):
    html = (await client.get("/docs")).text
    assert '"validatorUrl": null' in html


def _requests_by_route(text: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "tasklogs_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    route = sample.labels["route"]
                    counts[route] = counts.get(route, 0) + sample.value
    return counts


async def test_metrics_count_docs_routes_by_name_and_both_spellings_as_one(client):
    before = _requests_by_route((await client.get("/metrics")).text)
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css", "/healthz", "/healthz/"):
        assert (await client.get(path)).status_code == 200, path
    for path in ("/tasklogs/1/", "/tasklogs/1", "/taskLogs/task/250", "/taskLogs/task/250/"):
        await client.get(path)
    after = _requests_by_route((await client.get("/metrics")).text)

    def added(route: str) -> float:
        return after.get(route, 0) - before.get(route, 0)

    assert added("/docs") == 1 and added("/redoc") == 1 and added("/openapi.json") == 1
    assert added("/docs/assets") == 1
    assert added("/healthz") == 2 and "/healthz/" not in after
    assert added("/tasklogs/{taskLogId}/") == 2 and added("/taskLogs/task/{taskId}/") == 2
    assert not any(route != "/" and route.endswith("}") and route + "/" in after for route in after)
    assert added("unmatched") == 0
