/* Live means live, for every screen that holds an event stream (the console, the app).
 *
 * The server sends a heartbeat every few seconds ({"live": true|false}; false: the node
 * cannot hear the other nodes). A screen is "live" only while heartbeats arrive and say
 * true. After 2.5 heartbeats of silence (never more than 9 s, so a lost connection shows
 * within 10 s) or a false, it is down: the page says so and warns, and a new stream is
 * opened, because a stream that stays open and says nothing (an old process holding its
 * socket after a restart, a proxy buffering) never recovers by itself. When it is live
 * again after a gap, or after any reopened stream, the page catches up (refetches), since
 * changes may have been missed.
 *
 * The watchdog keeps the real clock (performance.now()), so a test that moves a page's
 * own clock never looks like a lost connection.
 *
 *   const live = ResponsLive.watch({ element, streamSelector, heartbeatMs, onUp, onDown, onStillDown });
 *   live.heartbeat(data)   // on each heartbeat event
 *   live.state             // { up, source, ... } for the page and its tests
 */
(function () {
  "use strict";

  // While down, the page is reminded this often: a screen nobody watches still calls out.
  const REMIND_MS = 30000;

  function watch({ element, streamSelector, heartbeatMs, onUp, onDown, onStillDown }) {
    const silenceMs = Math.min(2.5 * heartbeatMs, 9000);
    const state = { up: false, everUp: false, lastBeat: null, startedAt: performance.now(), lastReconnect: 0,
                    downSince: null, lastReminder: null, catchUp: false, source: null, opens: 0 };

    function markDown() {
      if (!state.up && state.downSince !== null) return;  // already said and warned
      state.up = false;
      state.catchUp = true;  // whatever comes back, it starts with a refetch
      state.downSince = state.lastReminder = performance.now();
      onDown();
    }

    function markUp() {
      const catchUp = state.catchUp;
      state.up = true;
      state.everUp = true;
      state.catchUp = false;
      state.downSince = state.lastReminder = null;
      onUp(catchUp);
    }

    function heartbeat(data) {
      state.lastBeat = performance.now();
      if (data && data.live === true) { if (!state.up || state.catchUp) markUp(); }
      else markDown();  // the node cannot hear the other nodes: this screen may miss changes
    }

    function reconnect() {
      if (state.source) { try { state.source.close(); } catch (e) { /* already closed */ } }
      state.source = null;
      const old = document.querySelector(streamSelector);
      if (!old) return;
      const fresh = old.cloneNode(true);  // attributes only: htmx keeps its state on the old node
      old.replaceWith(fresh);
      htmx.process(fresh);
    }

    function watchdog() {
      const now = performance.now();
      const heard = state.lastBeat === null ? state.startedAt : state.lastBeat;
      if (now - heard > silenceMs) {
        markDown();
        if (now - state.lastReconnect > silenceMs) { state.lastReconnect = now; reconnect(); }
      }
      if (!state.up && state.lastReminder !== null && now - state.lastReminder >= REMIND_MS) {
        state.lastReminder = now;
        if (onStillDown) onStillDown();
      }
    }

    // Delegated to ``element``: the stream's own element is replaced on every reconnect.
    element.addEventListener("htmx:sseOpen", (event) => {
      state.source = event.detail.source;
      if (state.opens++ > 0) state.catchUp = true;  // a reopened stream may have missed changes
    });
    setInterval(watchdog, 1000);
    return { state, heartbeat };
  }

  window.ResponsLive = { watch };
})();
