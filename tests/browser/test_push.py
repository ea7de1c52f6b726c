"""Web Push in real Chromium: a responder turns on alerts, closes the app, and an offer reaches
the phone through a local push service nobody here wrote (web-push-testing: it checks the
VAPID signature and decrypts the RFC 8291 payload); the app's service worker shows it.

Headless Chromium has no push service of its own (its PushManager cannot subscribe), so the
test subscribes at the local push service with the server's VAPID key and the page's
``PushManager`` hands that subscription to the app; the payload the push service received is
then delivered to the service worker through DevTools (``ServiceWorker.deliverPushMessage``),
as the browser's push service would."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from respons.messages import push
from respons.store.tables import alarm_events, messages, push_subscriptions
from tests.browser.field import PHONE, responder, routing_with_backup
from tests.browser.harness import log_in
from tests.chaos.server import free_port
from tests.message_peers import push_service_or_skip

LIVE = 10_000
PRIVATE_KEY, PUBLIC_KEY = push.new_keys()


@pytest.fixture
def push_service(tmp_path):
    service = push_service_or_skip(free_port(), tmp_path / "push.log").start()
    yield service
    service.stop()


@pytest.fixture
def push_settings(push_service):
    return {"vapid_private_key": PRIVATE_KEY, "push_services": "localhost,127.0.0.1", "message_poll_seconds": "0.2"}


# The page's PushManager gives the subscription made at the local push service, and keeps the
# key the app asked with (it must be the server's).
SUBSCRIBE = """
(subscription) => {
  const made = { endpoint: subscription.endpoint, expirationTime: null,
                 toJSON() { return { endpoint: subscription.endpoint, expirationTime: null, keys: subscription.keys }; },
                 unsubscribe: async () => true };
  PushManager.prototype.subscribe = async function (options) {
    window.__askedWithKey = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    this.__made = made;
    return made;
  };
  PushManager.prototype.getSubscription = async function () { return this.__made || null; };
}
"""


def until(check, timeout: float = 15.0, what: str = "it", page=None):
    """Poll ``check``; with ``page``, wait through Playwright so its events (DevTools) arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if page is not None:
            page.wait_for_timeout(200)
        else:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.mark.server_settings("push_settings")
def test_an_offer_reaches_a_closed_app_through_the_push_service_and_the_phone_shows_it(new_page, world, push_service):
    routing_with_backup(world, backup_minutes=4, resend_seconds=60)
    subscription = push_service.subscribe(PUBLIC_KEY)
    phone = new_page(**PHONE, permissions=["notifications"])
    phone.add_init_script(f"({SUBSCRIBE})({json.dumps(subscription)})")
    log_in(phone, world.url, responder(world, "hilde"))
    expect(phone).to_have_url(re.compile(r"/app$"))
    phone.check("input[name=zone_id]")
    phone.click("#duty-form button[type=submit]")
    expect(phone.locator("#duty-zones")).to_be_visible(timeout=LIVE)

    # Turn on alerts: the phone's subscription, made with the server's key, is the server's now.
    expect(phone.locator("#push")).to_have_attribute("data-state", "off", timeout=LIVE)
    phone.click("#push-toggle")
    expect(phone.locator("#push")).to_have_attribute("data-state", "on", timeout=LIVE)
    expect(phone.locator("#push-status")).to_contain_text("også når appen er lukket")
    assert phone.evaluate("window.__askedWithKey") == PUBLIC_KEY
    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        assert conn.execute(select(push_subscriptions.c.endpoint)).scalars().all() == [subscription["endpoint"]]

    # The app is closed; the browser (and its service worker) is not.
    other = phone.context.new_page()
    other.goto(world.url + "/static/icon.svg")
    phone.close()

    alarm_id = world.send_alarm(type="fall")
    received = until(lambda: push_service.notifications(subscription["clientHash"]), what="the push")
    payload = json.loads(received[0])
    assert payload["url"] == f"/app/alarms/{alarm_id}" and payload["tag"] == alarm_id
    assert payload["title"] == "Respons: ny alarm" and payload["body"].startswith("Fall")
    assert "Testveien" not in received[0], "no address on a lock screen"

    # The browser's push service hands it to the service worker, which shows it.
    cdp = other.context.new_cdp_session(other)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    until(lambda: any(r["scopeURL"].endswith("/app") and not r["isDeleted"] for r in registrations),
          what="the app's service worker", page=other)
    registration = next(r for r in registrations if r["scopeURL"].endswith("/app") and not r["isDeleted"])
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": world.url, "registrationId": registration["registrationId"],
                                                  "data": received[0]})
    shown = until(lambda: other.evaluate("""async () => {
        const registration = await navigator.serviceWorker.getRegistration("/app");
        return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag,
                                                                     url: n.data && n.data.url }));
    }"""), what="the notification", page=other)
    assert shown == [{"title": payload["title"], "body": payload["body"], "tag": alarm_id, "url": f"/app/alarms/{alarm_id}"}]

    # The service worker said it showed it: delivered, on the alarm's timeline.
    def delivered():
        with engine.connect() as conn:
            return conn.execute(select(messages.c.state).where(messages.c.alarm_id == alarm_id)).scalar() == "delivered"

    until(delivered, what="the delivery")
    with engine.connect() as conn:
        phases = [e.data["phase"] for e in conn.execute(select(alarm_events.c.kind, alarm_events.c.data)
                                                       .where(alarm_events.c.alarm_id == alarm_id,
                                                              alarm_events.c.kind == "message")
                                                       .order_by(alarm_events.c.seq))]
    assert phases == ["sent", "delivered"]
    engine.dispose()


@pytest.mark.server_settings("push_settings")
def test_a_subscription_the_push_service_has_forgotten_is_not_used_again(new_page, world, push_service):
    routing_with_backup(world, backup_minutes=4, resend_seconds=60)
    subscription = push_service.subscribe(PUBLIC_KEY)
    phone = new_page(**PHONE, permissions=["notifications"])
    phone.add_init_script(f"({SUBSCRIBE})({json.dumps(subscription)})")
    log_in(phone, world.url, responder(world, "per"))
    phone.check("input[name=zone_id]")
    phone.click("#duty-form button[type=submit]")
    # Going on duty loads the page again: the toggle clicked must be the new page's.
    expect(phone.locator("#duty-zones")).to_be_visible(timeout=LIVE)
    expect(phone.locator("#push")).to_have_attribute("data-state", "off", timeout=LIVE)
    phone.click("#push-toggle")
    expect(phone.locator("#push")).to_have_attribute("data-state", "on", timeout=LIVE)
    push_service.expire(subscription["clientHash"])
    alarm_id = world.send_alarm(type="fall")
    engine = create_engine(world.database_url)

    def failed():
        with engine.connect() as conn:
            return conn.execute(select(messages.c.state, messages.c.last_error)
                                .where(messages.c.alarm_id == alarm_id)).first()

    row = until(lambda: (r := failed()) is not None and r.state == "failed" and r, what="the refusal")
    assert "410" in row.last_error
    with engine.connect() as conn:
        assert conn.execute(select(push_subscriptions.c.gone_at)).scalar() is not None
    # The app on screen still alerts as before: the offer is in its list.
    expect(phone.locator(f"#offer-{alarm_id}")).to_be_visible(timeout=LIVE)
    # The next offer is not pushed to the forgotten subscription at all.
    second = world.send_alarm(type="fall")
    expect(phone.locator(f"#offer-{second}")).to_be_visible(timeout=LIVE)
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.id).where(messages.c.alarm_id == second)).first() is None
    engine.dispose()
