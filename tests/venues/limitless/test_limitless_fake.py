"""The fake Limitless speaks Socket.IO as a server does: handshake, namespace state, acks."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest

from pmtape.venues.limitless import sio
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults
from pmtape.venues.limitless.ws import engineio_url


async def _text(ws: aiohttp.ClientWebSocketResponse) -> str:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return str(msg.data)


@pytest.mark.asyncio
async def test_handshake_namespace_ack_subscription_ack_and_a_first_full_book() -> None:
    faults = LimitlessFakeFaults(ping_interval_ms=100, ping_timeout_ms=1000)
    async with (
        FakeLimitless(markets=3, rate=50, faults=faults) as fake,
        aiohttp.ClientSession() as http,
    ):
        slug = fake.active_slugs()[0]
        async with http.ws_connect(engineio_url(fake.urls["ws_url"])) as ws:
            opened = await _text(ws)
            assert opened.startswith("0{")
            assert msgspec.json.decode(opened[1:])["pingInterval"] == 100
            await ws.send_str("40/markets,")
            assert (await _text(ws)).startswith('40/markets,{"sid":')
            assert "Successfully registered connection" in await _text(ws)
            await ws.send_str(
                sio.event_frame("/markets", "subscribe_market_prices", {"marketSlugs": [slug]})
            )
            frames = [await _text(ws) for _ in range(2)]
            assert f'"markets":["{slug}"]' in frames[0]
            packet = sio.parse(frames[1].encode())
            assert packet is not None
            name, update = msgspec.json.decode(packet.data)
            assert name == "orderbookUpdate"
            assert update["marketSlug"] == slug
            bids, _ = fake.true_book(slug)
            assert [lvl["size"] for lvl in update["orderbook"]["bids"]] == [s for _, s in bids]
            while (await _text(ws)) != "2":
                pass
            await ws.send_str("3")
        assert fake.snapshot_stats()["ws_pongs"] == 1


@pytest.mark.asyncio
async def test_an_event_before_the_namespace_ack_closes_the_socket() -> None:
    async with FakeLimitless(markets=2) as fake, aiohttp.ClientSession() as http:
        async with http.ws_connect(engineio_url(fake.urls["ws_url"])) as ws:
            await _text(ws)
            await ws.send_str(
                sio.event_frame("/markets", "subscribe_market_prices", {"marketSlugs": []})
            )
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with http.ws_connect(engineio_url(fake.urls["ws_url"])) as ws:
            await _text(ws)
            await ws.send_str("40/elsewhere,")
            assert (await _text(ws)).startswith("44/elsewhere,")
        url = fake.urls["rest_url"] + "/socket.io/?EIO=3&transport=polling"
        async with http.get(url) as resp:
            assert resp.status == 400
        assert fake.snapshot_stats()["ws_invalid_state"] == 1
