"""Where a delivery connects: the address that was checked, with the name kept for Host and TLS."""

import pytest

from app.core.settings import Settings
from app.webhooks.dispatcher import pinned
from app.webhooks.urls import Target, UrlForbidden, resolve_target

STRICT = Settings(webhook_allow_http=False, webhook_allow_private=False)


async def test_a_public_address_is_the_target_and_a_loopback_name_is_refused():
    target = await resolve_target("https://8.8.4.4:8443/hooks?x=1", STRICT)
    assert (target.host, target.address) == ("8.8.4.4", "8.8.4.4")
    with pytest.raises(UrlForbidden, match="loopback, private"):
        await resolve_target("https://localhost/hooks", STRICT)
    with pytest.raises(UrlForbidden, match="https"):
        await resolve_target("http://8.8.4.4/hooks", STRICT)
    with pytest.raises(UrlForbidden, match="user name"):
        await resolve_target("https://user:pw@8.8.4.4/hooks", STRICT)


def test_the_request_goes_to_the_checked_address_under_the_name():
    headers: dict[str, str] = {}
    url, extensions = pinned(
        Target("https://hooks.example.com:8443/in?x=1", "hooks.example.com", "93.184.216.34"), headers
    )
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers["host"] == "hooks.example.com:8443" and extensions == {"sni_hostname": "hooks.example.com"}
    url, _ = pinned(Target("https://hooks.example.com/in", "hooks.example.com", "2606:2800:220:1::1"), {})
    assert url == "https://[2606:2800:220:1::1]/in"


def test_with_private_targets_allowed_the_request_goes_by_name():
    url, extensions = pinned(Target("http://127.0.0.1:9000/in", "127.0.0.1", None), {})
    assert (url, extensions) == ("http://127.0.0.1:9000/in", {})
