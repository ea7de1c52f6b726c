import asyncio
import threading

from respons.engine.live import LiveBus


def test_changes_reach_interested_subscribers_from_another_thread():
    async def scenario():
        bus = LiveBus()
        mine = bus.subscribe(lambda c: c["municipality_id"] in {1, 2})
        everything = bus.subscribe()
        writer = threading.Thread(target=bus.publish, args=([{"municipality_id": 3, "n": 1}, {"municipality_id": 1, "n": 2}],))
        writer.start()
        writer.join()
        assert (await mine.next(timeout=1))["n"] == 2
        assert await mine.next(timeout=0.05) is None, "municipality 3 is outside this subscriber's scope"
        assert [(await everything.next(timeout=1))["n"] for _ in range(2)] == [1, 2]
        bus.unsubscribe(mine)
        bus.publish([{"municipality_id": 1, "n": 3}])
        assert await mine.next(timeout=0.05) is None
        assert bus.subscribers == 1

    asyncio.run(scenario())


def test_a_slow_subscriber_loses_the_oldest_changes_and_is_told():
    async def scenario():
        bus = LiveBus(queue_size=3)
        slow = bus.subscribe()
        bus.publish([{"n": i} for i in range(5)])
        await asyncio.sleep(0.01)  # let the loop run the offers
        assert slow.overflowed
        assert [(await slow.next(timeout=1))["n"] for _ in range(3)] == [2, 3, 4]

    asyncio.run(scenario())


def test_resync_tells_every_screen_to_reload_and_close_ends_every_stream():
    async def scenario():
        bus = LiveBus()
        a, b = bus.subscribe(lambda c: False), bus.subscribe()
        threading.Thread(target=bus.resync).start()
        assert await a.next(timeout=1) is None and a.overflowed, "even a screen that wants nothing reloads"
        assert await b.next(timeout=1) is None and b.overflowed and not b.closed
        threading.Thread(target=bus.close).start()
        assert await b.next(timeout=1) is None and b.closed
        assert bus.subscribe().closed, "a stream opened on a stopping node ends at once"

    asyncio.run(scenario())
