/* The operator console in the browser: live queue, answer clock, sounds, keyboard.
 *
 * The server renders every piece of HTML; this file only decides *when* to fetch which
 * piece and where to put it. htmx's SSE extension holds the event stream (and reconnects);
 * each event names one alarm, and we fetch that one row and put it where the queue order
 * says (waiting first, then priority, then oldest), so a queue of thousands stays quick.
 *
 * The answer clock counts from the seconds the server computed when it rendered the row,
 * on this browser's monotonic clock: a workstation whose wall clock is wrong still shows
 * the right waiting time.
 */
(function () {
  "use strict";

  const state = {
    selectedId: null,       // the row the keyboard is on
    liveOpens: 0,           // SSE connections opened; after the first, a reopen means "refetch all"
    soundOn: true,
    audio: null,
    played: [],             // what was played, for the browser tests: [{kind, at}]
    tick: { count: 0, totalMs: 0, maxMs: 0 },  // cost of the clock, for bench/console_queue.py
    rowUpdates: [],         // {id, ms}: event arrival to row in place, for the benchmark
  };
  window.respons = state;

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  let consoleEl, queueBody, warningSeconds, lateSeconds;

  // ---- queue rows ---------------------------------------------------------------------------

  function rowKey(row) {
    return [Number(row.dataset.waiting === "1" ? 0 : 1), Number(row.dataset.priority), Number(row.dataset.received)];
  }

  function before(a, b) {
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return a[i] < b[i];
    }
    return false;
  }

  function stamp(row) {
    row.dataset.t0 = String(performance.now());
    clocks.delete(row.id);  // a fresh row: its clock starts from the server's figure again
    paintClock(row, performance.now());
    watch(row);
  }

  function insertSorted(row) {
    const rows = queueBody.rows;
    const key = rowKey(row);
    let lo = 0, hi = rows.length;
    while (lo < hi) {  // binary search: the rows are always in queue order
      const mid = (lo + hi) >> 1;
      if (before(key, rowKey(rows[mid]))) hi = mid; else lo = mid + 1;
    }
    queueBody.insertBefore(row, rows[lo] || null);
  }

  function removeRow(id) {
    const row = document.getElementById("row-" + id);
    if (!row) return;
    const wasSelected = state.selectedId === id;
    const next = row.nextElementSibling || row.previousElementSibling;
    const hadFocus = document.activeElement === row;
    row.remove();
    if (wasSelected) select(next, { focus: hadFocus });
    afterQueueChange();
  }

  function placeRow(html) {
    const holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    const row = holder.querySelector("tr");
    if (!row) return null;
    const old = document.getElementById(row.id);
    const hadFocus = old && document.activeElement === old;
    if (old) old.remove();
    stamp(row);
    insertSorted(row);
    if (state.selectedId === row.dataset.alarmId) select(row, { focus: hadFocus, open: false });
    afterQueueChange();
    return row;
  }

  async function refreshRow(id) {
    const response = await fetch("/console/queue/rows/" + encodeURIComponent(id), {
      credentials: "same-origin", headers: { "HX-Request": "true" },
    });
    if (response.status === 401) { window.location.href = "/login?next=/console"; return; }
    if (response.status === 204 || response.status === 404) { removeRow(id); return; }
    if (!response.ok) return;
    placeRow(await response.text());
  }

  async function reloadQueue() {
    const response = await fetch("/console/queue", { credentials: "same-origin", headers: { "HX-Request": "true" } });
    if (!response.ok) return;
    const holder = document.createElement("table");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("tbody");
    queueBody.replaceWith(fresh);
    queueBody = fresh;
    $$("tr.alarm-row", queueBody).forEach(stamp);
    const selected = state.selectedId && document.getElementById("row-" + state.selectedId);
    if (selected) select(selected, { focus: false, open: false });
    afterQueueChange();
  }

  function afterQueueChange() {
    const rows = queueBody.rows;
    let waiting = 0;
    for (const row of rows) if (row.dataset.waiting === "1") waiting++;
    $("#count-waiting").textContent = String(waiting);
    $("#count-working").textContent = String(rows.length - waiting);
    $("#queue-empty").hidden = rows.length > 0;
    if (!queueBody.querySelector('tr[tabindex="0"]') && rows.length) rows[0].tabIndex = 0;
  }

  // ---- the answer clock ---------------------------------------------------------------------

  // Each row's clock, cached: the tick runs every second over every waiting row, so it
  // reads no attributes and writes only what changed (measured in bench/console_queue.py).
  const clocks = new Map();  // row id -> {row, el, base, t0, waiting, text, level}

  function clockOf(row) {
    let c = clocks.get(row.id);
    if (!c || c.row !== row) {
      c = { row, el: row.querySelector("[data-clock]"), base: Number(row.dataset.answerSeconds),
            t0: Number(row.dataset.t0), waiting: row.dataset.waiting === "1", text: null, level: null };
      clocks.set(row.id, c);
    }
    return c;
  }

  function paintClock(row, now) {
    const c = clockOf(row);
    if (!c.el) return;  // alarms with home care have no centre answer clock
    const seconds = c.waiting ? c.base + (now - c.t0) / 1000 : c.base;
    const whole = Math.floor(seconds);
    const text = Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
    if (c.text !== text) { c.el.textContent = text; c.text = text; }
    const level = seconds >= lateSeconds ? "is-late" : seconds >= warningSeconds ? "is-warning" : "";
    if (c.level !== level) { c.el.className = "clock " + level; c.level = level; }
  }

  // Only rows on screen are repainted each second; a row scrolled into view is painted at
  // once. With 2,000 open alarms that is a few dozen rows instead of all of them.
  const onScreen = new Set();
  const visibility = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    const now = performance.now();
    for (const entry of entries) {
      if (entry.isIntersecting) { onScreen.add(entry.target); paintClock(entry.target, now); }
      else onScreen.delete(entry.target);
    }
  }) : null;

  function watch(row) {
    if (visibility) visibility.observe(row); else onScreen.add(row);
  }

  function tick() {
    const started = performance.now();
    for (const row of onScreen) {
      if (!row.isConnected) { onScreen.delete(row); clocks.delete(row.id); if (visibility) visibility.unobserve(row); continue; }
      // Only waiting rows change; answered rows show their final answer time.
      if (row.dataset.waiting === "1") paintClock(row, started);
    }
    const spent = performance.now() - started;
    state.tick.count++;
    state.tick.totalMs += spent;
    state.tick.maxMs = Math.max(state.tick.maxMs, spent);
  }

  // ---- sounds -------------------------------------------------------------------------------
  // Generated with Web Audio, so nothing is fetched: a new alarm rings a two-tone chime
  // twice; a critical one (fall, fire) a fast, harsher triple beep that repeats.

  function audio() {
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    return state.audio;
  }

  function tone(ctx, at, frequency, duration, type, volume) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = type;
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(volume, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + duration);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + duration + 0.05);
  }

  function play(kind) {
    state.played.push({ kind, at: Date.now() });
    if (!state.soundOn) return;
    const ctx = audio();
    if (ctx.state === "suspended") { ctx.resume(); showSoundBanner(); }
    const t = ctx.currentTime + 0.05;
    if (kind === "critical") {
      for (let r = 0; r < 2; r++) for (let i = 0; i < 3; i++) tone(ctx, t + r * 0.9 + i * 0.18, 1175, 0.14, "square", 0.5);
    } else {
      for (let r = 0; r < 2; r++) { tone(ctx, t + r * 0.8, 880, 0.3, "sine", 0.6); tone(ctx, t + r * 0.8 + 0.3, 660, 0.35, "sine", 0.6); }
    }
  }

  function showSoundBanner() {
    const banner = $("#sound-banner");
    if (banner && state.audio && state.audio.state === "suspended") banner.hidden = false;
  }

  // ---- selection and the card ---------------------------------------------------------------

  function select(row, { focus = true, open = false } = {}) {
    if (!row) return;
    for (const r of queueBody.querySelectorAll('tr[aria-current="true"], tr[tabindex="0"]')) {
      r.removeAttribute("aria-current");
      r.tabIndex = -1;
    }
    row.setAttribute("aria-current", "true");
    row.tabIndex = 0;
    state.selectedId = row.dataset.alarmId;
    if (focus) { row.focus(); row.scrollIntoView({ block: "nearest" }); }
    if (open) openCard(row.dataset.alarmId);
  }

  function openCard(id) {
    return htmx.ajax("GET", "/console/alarms/" + encodeURIComponent(id), { target: "#card-pane", swap: "innerHTML" });
  }

  function openAlarmId() {
    const card = $("#card");
    return card ? card.dataset.alarmId : null;
  }

  async function refreshWork(id, change) {
    const work = $("#alarm-work");
    if (!work || work.dataset.alarmId !== id) return;
    if (change && Number(change.seq) <= Number(work.dataset.seq)) return;  // our own action: already shown
    const response = await fetch("/console/alarms/" + encodeURIComponent(id) + "/work", {
      credentials: "same-origin", headers: { "HX-Request": "true" },
    });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("#alarm-work");
    const current = $("#alarm-work");
    if (!fresh || !current || current.dataset.alarmId !== id) return;
    if (fresh.dataset.state === current.dataset.state) {
      // Same state, so the same forms: replace only what changed (heading and timeline),
      // never the forms, where the operator may be choosing or typing right now.
      current.querySelector("#work-heading").replaceWith(fresh.querySelector("#work-heading"));
      current.querySelector("#timeline").replaceWith(fresh.querySelector("#timeline"));
      current.dataset.seq = fresh.dataset.seq;
      return;
    }
    if (current.contains(document.activeElement) && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName)
        && document.activeElement.value) {
      // A new state brings other forms; wait until the operator leaves the field they are
      // writing in, so no half-written note is lost.
      current.dataset.stale = "1";
      return;
    }
    current.replaceWith(fresh);
    htmx.process(fresh);
  }

  function answer() {
    // The open card's alarm if it waits; otherwise the selected row's.
    const work = $("#alarm-work");
    const id = work && work.querySelector("#answer-button") ? work.dataset.alarmId : (openAlarmId() ? null : state.selectedId);
    if (id) htmx.ajax("POST", "/console/alarms/" + encodeURIComponent(id) + "/answer", { target: "#card-pane", swap: "innerHTML" });
  }

  function closeAlarm() {
    const work = $("#alarm-work");
    if (work && work.querySelector("#close-button")) {
      htmx.ajax("POST", "/console/alarms/" + encodeURIComponent(work.dataset.alarmId) + "/close", { target: "#alarm-work", swap: "outerHTML" });
    }
  }

  function nextAlarm() {
    const row = queueBody.querySelector('tr[data-waiting="1"]') || queueBody.rows[0];
    if (row) select(row, { focus: true, open: true });
  }

  function move(step) {
    const rows = queueBody.rows;
    if (!rows.length) return;
    const current = state.selectedId ? document.getElementById("row-" + state.selectedId) : null;
    const index = current ? Array.prototype.indexOf.call(rows, current) : -1;
    const target = rows[Math.max(0, Math.min(rows.length - 1, index + step))];
    select(target, { focus: true });
  }

  function focusField(selector) {
    const field = $(selector);
    if (field) { field.focus(); return true; }
    return false;
  }

  // ---- keyboard -----------------------------------------------------------------------------

  function onKey(event) {
    const target = event.target;
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.key === "Escape") {
      const row = state.selectedId && document.getElementById("row-" + state.selectedId);
      if (row) { event.preventDefault(); select(row, { focus: true }); }
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey || $("#help").open) return;
    if (target.tagName === "TR" && event.key === "Enter") {
      event.preventDefault();
      select(target, { focus: true, open: true });
      return;
    }
    const handled = {
      n: () => nextAlarm(),
      a: () => answer(),
      m: () => focusField("#note-text"),
      u: () => focusField("#outcome"),
      l: () => closeAlarm(),
      j: () => move(1), ArrowDown: () => move(1),
      k: () => move(-1), ArrowUp: () => move(-1),
      "?": () => $("#help").showModal(),
    }[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (event.key === "?" || handled) {
      event.preventDefault();
      (handled || (() => $("#help").showModal()))();
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  function onLiveMessage(event) {
    const received = performance.now();
    const arrived = Date.now();
    if (event.detail.type === "reload") { reloadQueue(); return; }
    const change = JSON.parse(event.detail.data);
    if (change.event === "queued" || change.event === "escalated" || change.event === "handed_back") {
      play(change.priority === 1 ? "critical" : "alarm");
    }
    if (change.event === "missing_response") play("critical");  // help has not arrived
    refreshRow(change.alarm_id).then(() => {
      state.rowUpdates.push({ id: change.alarm_id, ms: performance.now() - received, arrived, event: change.event });
      if (state.rowUpdates.length > 1000) state.rowUpdates.shift();
    });
    if (openAlarmId() === change.alarm_id) refreshWork(change.alarm_id, change);
  }

  function setLive(up) {
    const status = $("#live-status");
    status.dataset.live = up ? "up" : "down";
    status.textContent = up ? consoleEl.dataset.liveUp : consoleEl.dataset.liveDown;
  }

  function init() {
    consoleEl = $("#console");
    if (!consoleEl) return;
    state.reloadQueue = reloadQueue;  // for bench/console_queue.py
    queueBody = $("#queue-body");
    warningSeconds = Number(consoleEl.dataset.warningSeconds);
    lateSeconds = Number(consoleEl.dataset.lateSeconds);
    $$("tr.alarm-row", queueBody).forEach(stamp);
    afterQueueChange();
    setInterval(tick, 1000);

    const live = $("#live");
    live.addEventListener("htmx:sseOpen", () => {
      setLive(true);
      // The stream ends every few minutes (and on network trouble): after a reopen, changes
      // may have been missed, so refetch the whole queue once.
      if (state.liveOpens++ > 0) reloadQueue();
    });
    live.addEventListener("htmx:sseError", () => setLive(false));
    $("#live-events").addEventListener("htmx:sseMessage", onLiveMessage);

    queueBody.parentElement.addEventListener("click", (event) => {
      const row = event.target.closest("tr.alarm-row");
      if (row) select(row, { focus: true, open: true });
    });
    document.addEventListener("keydown", onKey);
    document.addEventListener("focusout", (event) => {
      const work = $("#alarm-work");
      if (work && work.dataset.stale === "1" && !work.contains(event.relatedTarget)) refreshWork(work.dataset.alarmId);
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target.id === "card-pane") {
        const heading = $("#card-heading");
        if (heading) heading.focus();
        const id = openAlarmId();
        if (id) { state.selectedId = id; refreshRow(id); }
      } else if (event.detail.target.id === "alarm-work" || event.detail.elt.id === "alarm-work") {
        const id = openAlarmId();
        if (id) refreshRow(id);
      }
    });

    const toggle = $("#sound-toggle");
    toggle.addEventListener("click", () => {
      state.soundOn = !state.soundOn;
      toggle.setAttribute("aria-pressed", String(state.soundOn));
      toggle.textContent = state.soundOn ? toggle.dataset.on : toggle.dataset.off;
    });
    $("#sound-test").addEventListener("click", () => { audio().resume(); play("alarm"); setTimeout(() => play("critical"), 1800); });
    $("#sound-enable").addEventListener("click", () => { audio().resume().then(() => { $("#sound-banner").hidden = true; }); });
    $("#help-open").addEventListener("click", () => $("#help").showModal());
    // Ask for sound at once: the browser may hold it back until the first click.
    if (audio().state === "suspended") showSoundBanner();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
