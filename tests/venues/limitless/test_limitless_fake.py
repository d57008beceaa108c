"""The fake Limitless speaks Socket.IO as a server does: handshake, namespace state, acks."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest

from pmtape.venues.limitless import sio
from pmtape.venues.limitless.fake.server import FakeLimitless, LimitlessFakeFaults
from pmtape.venues.limitless.ws import engineio_url
from tests.helpers import eventually


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


async def _joined(ws: aiohttp.ClientWebSocketResponse) -> None:
    await _text(ws)  # Engine.IO open
    await ws.send_str("40/markets,")
    await _text(ws)  # namespace ack
    await _text(ws)  # system greeting


async def _until_ack(ws: aiohttp.ClientWebSocketResponse) -> sio.Packet:
    while True:
        packet = sio.parse((await _text(ws)).encode())
        if packet is not None and packet.sio == "3":
            return packet


@pytest.mark.asyncio
async def test_events_sent_with_an_ack_id_are_acknowledged_with_that_id() -> None:
    async with (
        FakeLimitless(markets=3, rate=50) as fake,
        aiohttp.ClientSession() as http,
    ):
        await fake.quiesce()
        slugs = fake.active_slugs()
        async with http.ws_connect(engineio_url(fake.urls["ws_url"])) as ws:
            await _joined(ws)
            body = {"marketSlugs": slugs}
            await ws.send_str(sio.event_frame("/markets", "subscribe_market_prices", body, ack=7))
            ack = await _until_ack(ws)
            assert (ack.namespace, ack.ack) == ("/markets", 7)
            (result,) = msgspec.json.decode(ack.data)
            assert result["markets"] == slugs
            await ws.send_str(sio.event_frame("/markets", "subscribe_market_lifecycle", {}, ack=8))
            assert (await _until_ack(ws)).ack == 8
            unknown = {"channel": "subscribe_nothing"}
            await ws.send_str(sio.event_frame("/markets", "unsubscribe", unknown, ack=9))
            ack = await _until_ack(ws)
            assert ack.ack == 9
            assert "error" in msgspec.json.decode(ack.data)[0]
        assert fake.snapshot_stats()["ws_acks"] == 3


@pytest.mark.asyncio
async def test_unsubscribe_stops_the_named_markets_then_all_of_them() -> None:
    async with (
        FakeLimitless(markets=3, rate=50) as fake,
        aiohttp.ClientSession() as http,
    ):
        slugs = fake.active_slugs()
        async with http.ws_connect(engineio_url(fake.urls["ws_url"])) as ws:
            await _joined(ws)
            sub = {"marketSlugs": slugs}
            await ws.send_str(sio.event_frame("/markets", "subscribe_market_prices", sub, ack=0))
            assert (await _until_ack(ws)).ack == 0
            await fake.quiesce()
            (conn,) = fake.feed.conns
            assert list(conn.subs) == slugs
            one = {"channel": "subscribe_market_prices", "marketSlugs": slugs[:1]}
            await ws.send_str(sio.event_frame("/markets", "unsubscribe", one, ack=1))
            ack = await _until_ack(ws)
            assert msgspec.json.decode(ack.data)[0]["markets"] == slugs[:1]
            assert list(conn.subs) == slugs[1:]
            # Without an ack id nothing answers, but the markets still stop.
            rest = {"channel": "subscribe_market_prices"}
            await ws.send_str(sio.event_frame("/markets", "unsubscribe", rest))
            await ws.send_str(sio.event_frame("/markets", "subscribe_market_lifecycle", {}, ack=2))
            assert (await _until_ack(ws)).ack == 2
            assert not conn.subs
            sent = fake.snapshot_stats()["ws_updates"]
            generated = fake.snapshot_stats().get("generated", 0)
            fake.resume()
            await eventually(lambda: fake.snapshot_stats().get("generated", 0) > generated + 20)
            await fake.quiesce()
        stats = fake.snapshot_stats()
        assert stats["ws_acks"] == 3
        assert stats["ws_updates"] == sent
