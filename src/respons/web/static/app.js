/* The responder app: live offers, and an alert that keeps sounding until it is seen.
 *
 * Events (ids and states only) make the page refetch its lists. A new offer, one that was
 * not in the list before, starts the alert: a loud tone and vibration every 3 seconds
 * until the worker presses "Sett" (seen) or opens an alarm.
 */
(function () {
  "use strict";
  const state = { alerting: false, timer: null, audio: null, alerts: 0, known: new Set() };
  window.responsApp = state;
  const $ = (sel) => document.querySelector(sel);

  function offerIds() {
    const list = $("#offers");
    return new Set(list && list.dataset.ids ? list.dataset.ids.split(",").filter(Boolean) : []);
  }

  function ring() {
    state.alerts++;
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
    try {
      if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
      const ctx = state.audio;
      if (ctx.state === "suspended") ctx.resume();
      const t = ctx.currentTime + 0.02;
      for (let i = 0; i < 4; i++) {
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = "square"; osc.frequency.value = i % 2 ? 988 : 1319;
        gain.gain.setValueAtTime(0.6, t + i * 0.25); gain.gain.setValueAtTime(0.0001, t + i * 0.25 + 0.2);
        osc.connect(gain).connect(ctx.destination); osc.start(t + i * 0.25); osc.stop(t + i * 0.25 + 0.22);
      }
    } catch (e) { /* no audio device: vibration and the banner still show */ }
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

  function init() {
    state.known = offerIds();
    if (state.known.size) startAlert();
    const events = $("#live-events");
    if (events) events.addEventListener("htmx:sseMessage", refresh);
    const live = $("#live");
    if (live) live.addEventListener("htmx:sseOpen", refresh);  // after a reconnect: catch up
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target.id !== "app-lists") return;
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
