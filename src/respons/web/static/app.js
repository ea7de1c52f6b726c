/* The responder app: live offers, and an alert that keeps sounding until it is seen.
 *
 * Events (ids and states only) make the page refetch its lists. A new offer, one that was
 * not in the list before, starts the alert: a loud tone and vibration every 3 seconds
 * until the worker presses "Sett" (seen) or opens an alarm.
 *
 * Live means live, as on the console: "Direkte" only while the server's heartbeats say
 * live=true; after 2.5 heartbeats of silence (or live=false) a banner says the screen is
 * not up to date, a warning sounds, a new stream is opened, and on recovery the lists are
 * refetched, so an offer that came meanwhile starts the alert.
 *
 * Web Push: "Slå på varsler" subscribes this phone (the browser's push service, VAPID key
 * from /app/push/key) so the service worker (app-sw.js) shows offers while the app is closed.
 */
(function () {
  "use strict";
  const state = {
    alerting: false, timer: null, audio: null, alerts: 0, known: new Set(), warnings: 0,
    live: null,  // the stream watcher's state (static/live.js), set in init()
    push: null,  // the service worker's registration once Web Push is set up
  };
  window.responsApp = state;
  const $ = (sel) => document.querySelector(sel);
  let liveEl, watcher;

  function offerIds() {
    const list = $("#offers");
    return new Set(list && list.dataset.ids ? list.dataset.ids.split(",").filter(Boolean) : []);
  }

  function beep(pattern) {
    try {
      if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
      const ctx = state.audio;
      if (ctx.state === "suspended") ctx.resume();
      const t = ctx.currentTime + 0.02;
      pattern.forEach(([at, frequency, length, type], i) => {
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = type; osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.6, t + at); gain.gain.setValueAtTime(0.0001, t + at + length);
        osc.connect(gain).connect(ctx.destination); osc.start(t + at); osc.stop(t + at + length + 0.02);
      });
    } catch (e) { /* no audio device: vibration and the banner still show */ }
  }

  function ring() {
    state.alerts++;
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
    beep([0, 1, 2, 3].map((i) => [i * 0.25, i % 2 ? 988 : 1319, 0.2, "square"]));
  }

  function startAlert() {
    const banner = $("#app-alert");
    if (!banner) return;
    banner.hidden = false;
    if (state.alerting) return;
    state.alerting = true;
    ring();
    state.timer = setInterval(ring, 3000);
    $("#app-seen").focus();
  }

  function stopAlert() {
    state.alerting = false;
    clearInterval(state.timer);
    const banner = $("#app-alert");
    if (banner) banner.hidden = true;
    if (navigator.vibrate) navigator.vibrate(0);
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }  // unreadable: not live
  }

  function refresh() {
    const lists = $("#app-lists");
    if (lists) htmx.trigger(lists, "refresh");
  }

  // ---- live: heartbeats and the watchdog ----------------------------------------------------

  function setLive(up) {
    const status = $("#live-status");
    if (status) {
      status.dataset.live = up ? "up" : "down";
      status.textContent = up ? liveEl.dataset.liveUp : liveEl.dataset.liveDown;
    }
    const banner = $("#live-banner");
    if (banner) banner.hidden = up;
  }

  function wentDown() {
    setLive(false);
    state.warnings++;
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    beep([[0, 440, 0.5, "triangle"], [0.55, 330, 0.7, "triangle"]]);
  }

  function cameUp(catchUp) {
    setLive(true);
    if (catchUp) refresh();  // offers may have come meanwhile: the refetch alerts for them
  }

  function init() {
    state.known = offerIds();
    if (state.known.size) startAlert();
    liveEl = $("#app-live");
    if (liveEl) {
      watcher = ResponsLive.watch({
        element: liveEl, streamSelector: "#live",
        heartbeatMs: (Number(liveEl.dataset.heartbeatSeconds) || 3) * 1000,
        onUp: cameUp, onDown: wentDown,
      });
      state.live = watcher.state;
      liveEl.addEventListener("htmx:sseMessage", (event) => {
        if (event.detail.type === "heartbeat") watcher.heartbeat(parse(event.detail.data));
        else refresh();
      });
    }
    document.body.addEventListener("htmx:afterSwap", (event) => {
      const target = event.detail && event.detail.target;  // SSE messages swap nothing
      if (!target || target.id !== "app-lists") return;
      const now = offerIds();
      const fresh = [...now].some((id) => !state.known.has(id));
      state.known = now;
      if (fresh) startAlert();
      if (!now.size) stopAlert();
    });
    const seen = $("#app-seen");
    if (seen) seen.addEventListener("click", stopAlert);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).then(setUpPush).catch(() => {});
    }
  }

  // ---- Web Push: alerts while the app is closed (docs/messages.md) ---------------------------

  function keyBytes(base64url) {
    const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - base64url.length % 4) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function pushSays(box, what) {
    const status = box.querySelector("#push-status");
    status.textContent = box.dataset[what] || "";
    box.dataset.state = what;
    const button = box.querySelector("#push-toggle");
    button.hidden = what === "unsupported" || what === "unavailable" || what === "denied";
    button.textContent = what === "on" ? box.dataset.disable : box.dataset.enable;
  }

  async function setUpPush(registration) {
    const box = $("#push");
    if (!box) return;
    state.push = { registration };
    if (!("PushManager" in window) || !("Notification" in window)) return pushSays(box, "unsupported");
    const answer = await fetch("/app/push/key", { credentials: "same-origin" });
    if (!answer.ok) return pushSays(box, "unavailable");
    const key = (await answer.json()).key;
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && Notification.permission === "granted") {
      // Told again on every start: the phone may have a new owner, or the server a new database.
      await ResponsSignalling.post("/app/push/subscriptions", subscription.toJSON());
    }
    pushSays(box, subscription ? "on" : (Notification.permission === "denied" ? "denied" : "off"));
    box.querySelector("#push-toggle").addEventListener("click", async () => {
      subscription = await registration.pushManager.getSubscription();
      try {
        if (subscription) {
          await ResponsSignalling.post("/app/push/unsubscribe", subscription.toJSON());
          await subscription.unsubscribe();
          return pushSays(box, "off");
        }
        if (await Notification.requestPermission() !== "granted") return pushSays(box, "denied");
        subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
        const saved = await ResponsSignalling.post("/app/push/subscriptions", subscription.toJSON());
        pushSays(box, saved.ok ? "on" : "failed");
      } catch (e) {
        pushSays(box, "failed");
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
