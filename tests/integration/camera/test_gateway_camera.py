"""A camera look-in's picture through the real gateway (Janus's streaming plugin) with GStreamer
as the camera: offered only once the camera's packets arrive, reported unavailable when none
do, and closed by the node after the look-in's length whatever the browser does, or at once
when the consent is withdrawn."""

from __future__ import annotations

import asyncio

import pytest

from respons.demo import camera as simulated
from respons.digital_supervision.camera import MOUNT_BASE, CameraUnavailable, Cameras, Source
from respons.voice.gateway import STREAMING_PLUGIN, Gateway as GatewayApi
from tests.voice_stack import Gateway, camera_port, require_camera


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    require_camera()
    gateway = Gateway(tmp_path_factory.mktemp("janus")).start()
    yield gateway
    gateway.stop()


@pytest.fixture
def camera(tmp_path):
    process = simulated.start(camera_port(), log_path=tmp_path / "camera.log")
    yield process
    simulated.stop(process)


def cameras(gateway, frames_timeout: float = 5.0) -> Cameras:
    return Cameras(GatewayApi(gateway.config.url, gateway.config.api_secret), frames_timeout=frames_timeout)


async def closed_within(node: Cameras, lookin_id: int, *, seconds: float) -> bool:
    """Whether the node closes the look-in's picture within ``seconds`` (by itself)."""
    for _ in range(int(seconds * 10)):
        if not node.is_open(lookin_id):
            return True
        await asyncio.sleep(0.1)
    return not node.is_open(lookin_id)


async def mountpoint_exists(api: GatewayApi, lookin_id: int) -> bool:
    handle = await api.open_handle(STREAMING_PLUGIN)
    try:
        listed = await handle.request({"request": "list", "admin_key": api.api_secret})
        return any(m.get("id") == MOUNT_BASE + lookin_id for m in listed.get("list") or [])
    finally:
        await handle.close()


def test_a_picture_is_closed_at_once_when_any_node_announces_the_consent_withdrawn(gateway, camera):
    async def scenario():
        node = cameras(gateway)
        await node.open(42, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=120)
        # Another look-in's withdrawal, and another change of this one, close nothing.
        node.changes([{"event": "lookin", "what": "withdrawn", "lookin_id": 7},
                      {"event": "lookin", "what": "late", "lookin_id": 42}])
        await asyncio.sleep(0.2)
        assert node.is_open(42)
        # From the live bus's thread, as the journal or the relay of another node publishes it.
        await asyncio.to_thread(node.changes, [{"event": "lookin", "what": "withdrawn", "lookin_id": 42}])
        assert await closed_within(node, 42, seconds=10), "closed long before its two minutes"
        assert not await mountpoint_exists(node.gateway, 42)
        await node.gateway.close()

    asyncio.run(scenario())


def test_a_sending_camera_is_offered_to_the_browser_and_closed_after_the_look_ins_length(gateway, camera):
    async def scenario():
        node = cameras(gateway)
        # The length counts from the mountpoint's making, before the first picture is waited for:
        # long enough that a loaded machine still offers it before it ends.
        offer = await node.open(41, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=4.0)
        assert offer["type"] == "offer" and "m=video" in offer["sdp"] and "VP8" in offer["sdp"]
        assert node.is_open(41) and await mountpoint_exists(node.gateway, 41)
        # Closed by its own timer, never by the test.
        assert await closed_within(node, 41, seconds=10), "closed by the node after the look-in's length"
        assert not await mountpoint_exists(node.gateway, 41)
        await node.gateway.close()

    asyncio.run(scenario())


def test_a_camera_that_sends_nothing_is_unavailable_and_leaves_no_mountpoint(gateway):
    async def scenario():
        node = cameras(gateway, frames_timeout=1.5)
        with pytest.raises(CameraUnavailable, match="no picture"):
            await node.open(42, Source.parse(f"rtp:{camera_port(1)}/vp8"), seconds=30)
        assert not node.is_open(42) and not await mountpoint_exists(node.gateway, 42)
        await node.gateway.close()

    asyncio.run(scenario())


def test_a_look_in_opened_again_replaces_its_picture_and_a_closed_one_cannot_be_answered(gateway, camera):
    async def scenario():
        closed = []

        async def on_closed(lookin_id, seconds):
            closed.append(lookin_id)

        node = cameras(gateway)
        node.on_closed = on_closed
        await node.open(43, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=30)
        again = await node.open(43, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=30)  # the page was reloaded
        assert again["type"] == "offer" and closed == [43], "the first picture closed (and said so) first"
        assert await node.close(43) is not None and closed == [43, 43]
        with pytest.raises(CameraUnavailable):
            await node.answer(43, {"type": "answer", "sdp": "v=0"})
        await node.gateway.close()

    asyncio.run(scenario())


def test_sources_are_read_as_documented():
    assert Source.parse("rtp:20410/vp8") == Source("rtp", port=20410, codec="vp8")
    assert Source.parse("rtp:20410/h264").mountpoint()["media"][0]["codec"] == "h264"
    assert Source.parse("rtsp://10.0.0.5/stream1").mountpoint() == {
        "type": "rtsp", "url": "rtsp://10.0.0.5/stream1", "video": True, "audio": False}
    for bad in ("rtp:80/vp8", "http://x", ""):
        with pytest.raises(ValueError):
            Source.parse(bad)


def test_a_node_restarted_in_the_middle_of_a_look_in_removes_its_mountpoint(gateway, camera):
    async def scenario():
        before = cameras(gateway)
        await before.open(44, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=60)
        before._open.clear()  # the node stopped without closing (SIGKILL): its memory is gone
        after = cameras(gateway)
        assert await mountpoint_exists(after.gateway, 44)
        assert await after.remove_stale() == 1
        assert not await mountpoint_exists(after.gateway, 44)
        await before.gateway.close()
        await after.gateway.close()

    asyncio.run(scenario())


def test_a_look_in_longer_than_the_gateways_session_timeout_keeps_its_picture(tmp_path, camera):
    require_camera()
    short = Gateway(tmp_path / "janus", session_timeout=3).start()  # sessions dropped after 3 s of silence

    async def scenario():
        node = cameras(short)
        node.keepalive_seconds = 1.0  # as 20 s is to the gateway's usual 60
        await node.open(45, Source.parse(f"rtp:{camera_port()}/vp8"), seconds=9)
        await asyncio.sleep(6)
        assert node.is_open(45) and await mountpoint_exists(node.gateway, 45), "kept alive by its long poll"
        await asyncio.sleep(4)
        assert not node.is_open(45) and not await mountpoint_exists(node.gateway, 45)
        await node.gateway.close()

    try:
        asyncio.run(scenario())
    finally:
        short.stop()
