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
 */
(function () {
  "use strict";
  const state = {
    alerting: false, timer: null, audio: null, alerts: 0, known: new Set(), warnings: 0,
    live: null,  // the stream watcher's state (static/live.js), set in init()
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
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => {});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
