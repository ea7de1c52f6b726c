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
    live: { up: false, lastBeat: null, startedAt: performance.now(), lastReconnect: 0, warned: false,
            refreshOnLive: false, source: null, opens: 0 },
  };
  window.responsApp = state;
  const $ = (sel) => document.querySelector(sel);
  let liveEl, silenceMs;

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

  function markDown() {
    const live = state.live;
    if (!live.up && live.warned) return;
    live.up = false;
    live.refreshOnLive = true;
    live.warned = true;
    setLive(false);
    state.warnings++;
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    beep([[0, 440, 0.5, "triangle"], [0.55, 330, 0.7, "triangle"]]);
  }

  function markUp() {
    const live = state.live;
    const catchUp = live.refreshOnLive;
    live.up = true;
    live.warned = false;
    live.refreshOnLive = false;
    setLive(true);
    if (catchUp) refresh();  // offers may have come meanwhile: the refetch alerts for them
  }

  function onHeartbeat(text) {
    let data = null;
    try { data = JSON.parse(text); } catch (e) { /* treated as not live */ }
    state.live.lastBeat = performance.now();
    if (data && data.live === true) { if (!state.live.up || state.live.refreshOnLive) markUp(); }
    else markDown();
  }

  function watchdog() {
    const live = state.live;
    const now = performance.now();
    const heard = live.lastBeat === null ? live.startedAt : live.lastBeat;
    if (now - heard > silenceMs) {
      markDown();
      // A silent open stream never recovers by itself: open a new one.
      if (now - live.lastReconnect > silenceMs) { live.lastReconnect = now; reconnect(); }
    }
  }

  function reconnect() {
    if (state.live.source) { try { state.live.source.close(); } catch (e) { /* already closed */ } }
    state.live.source = null;
    const old = $("#live");
    if (!old) return;
    const fresh = old.cloneNode(true);
    old.replaceWith(fresh);
    htmx.process(fresh);
  }

  function init() {
    state.known = offerIds();
    if (state.known.size) startAlert();
    liveEl = $("#app-live");
    if (liveEl) {
      const heartbeatMs = (Number(liveEl.dataset.heartbeatSeconds) || 3) * 1000;
      silenceMs = Math.min(2.5 * heartbeatMs, 9000);  // a lost connection shows within 10 s
      // Delegated: the stream's element is replaced when the watchdog opens a new stream.
      liveEl.addEventListener("htmx:sseOpen", (event) => {
        state.live.source = event.detail.source;
        if (state.live.opens++ > 0) state.live.refreshOnLive = true;  // after a reconnect: catch up
      });
      liveEl.addEventListener("htmx:sseMessage", (event) => {
        if (event.detail.type === "heartbeat") onHeartbeat(event.detail.data);
        else refresh();
      });
      setInterval(watchdog, 1000);
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
