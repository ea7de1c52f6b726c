/* The operator console in the browser: live queue, answer clock, sounds, keyboard.
 *
 * The server renders every piece of HTML; this file only decides *when* to fetch which
 * piece and where to put it. htmx's SSE extension holds the event stream (and reconnects);
 * each event names one alarm, and we fetch that one row and put it where the queue order
 * says (waiting first, then priority, then oldest), so a queue of thousands stays quick.
 *
 * Live means live: the server sends a heartbeat every few seconds ({"live": true|false}).
 * "Direkte" is shown only while heartbeats saying live=true arrive; after a short silence,
 * or live=false (the node lost its cross-node feed), the page says it is not connected,
 * warns with a sound, opens a new stream, and on recovery refetches the queue and sounds
 * for every waiting alarm it had not heard of.
 *
 * The answer clock counts from the seconds the server computed when it rendered the row,
 * on this browser's monotonic clock: a workstation whose wall clock is wrong still shows
 * the right waiting time.
 *
 * Sounds persist: a waiting alarm's sound repeats until someone answers it, with a more
 * urgent sound when it passes the warning time and the answer deadline. Mute is per
 * operator and time-limited, and never silences an alarm past its deadline.
 */
(function () {
  "use strict";

  const state = {
    selectedId: null,       // the row the keyboard is on
    played: [],             // what was sounded, for the browser tests: [{kind, at, id?}]
    silenced: [],           // what mute held back: [{kind, at}]
    tick: { count: 0, totalMs: 0, maxMs: 0 },  // cost of the clock, for bench/console_queue.py
    rowUpdates: [],         // {id, ms}: event arrival to row in place, for the benchmark
    workRefreshes: 0,       // refreshes of the open alarm's work section that came back
    // The clock of the answer times, the alerts and the mute. Tests move it with advance()
    // or replace now(); the live watchdog keeps the real clock, so moving this one never
    // fakes a lost connection.
    offsetMs: 0,
    now: () => performance.now() + state.offsetMs,
    wallNow: () => Date.now() + state.offsetMs,
    advance: (ms) => { state.offsetMs += ms; tick(); alertTick(); muteTick(); },
    live: null,             // the stream watcher's state (static/live.js), set in init()
    alerts: new Map(),      // alarm id -> {warned, late}: which urgent sounds it has had
    sounded: new Set(),     // alarm ids whose new-alarm sound was played
    lastRing: -Infinity,    // when a new-alarm sound last played (state.now())
    ringing: new Set(),     // alarm ids whose unit (or an unknown caller) is calling the centre
  };
  window.respons = state;

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  let consoleEl, queueBody, warningSeconds, lateSeconds, repeatMs, muteMs, muteKey, watcher;

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
    row.dataset.t0 = String(state.now());
    if (state.ringing.has(row.dataset.alarmId)) row.dataset.call = "ringing";
    clocks.delete(row.id);  // a fresh row: its clock starts from the server's figure again
    paintClock(row, state.now());
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
    const known = new Set($$("tr.alarm-row", queueBody).map((row) => row.dataset.alarmId));
    queueBody.replaceWith(fresh);
    queueBody = fresh;
    $$("tr.alarm-row", queueBody).forEach(stamp);
    const selected = state.selectedId && document.getElementById("row-" + state.selectedId);
    if (selected) select(selected, { focus: false, open: false });
    afterQueueChange();
    // Alarms that arrived while the stream was down (or whose events were lost) ring now,
    // each one, as if its event had come: nobody may miss an alarm because the screen was
    // not connected when it arrived.
    for (const row of $$('tr.alarm-row[data-waiting="1"]', queueBody)) {
      const id = row.dataset.alarmId;
      if (!known.has(id) && !state.sounded.has(id)) newAlarmSound(id, Number(row.dataset.priority));
    }
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

  function secondsWaited(row, now) {
    const c = clockOf(row);
    return c.waiting ? c.base + (now - c.t0) / 1000 : c.base;
  }

  function paintClock(row, now) {
    const c = clockOf(row);
    if (!c.el) return;  // alarms with home care have no centre answer clock
    const seconds = secondsWaited(row, now);
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
    const now = state.now();
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
    const now = state.now();
    for (const row of onScreen) {
      if (!row.isConnected) { onScreen.delete(row); clocks.delete(row.id); if (visibility) visibility.unobserve(row); continue; }
      // Only waiting rows change; answered rows show their final answer time.
      if (row.dataset.waiting === "1") paintClock(row, now);
    }
    const spent = performance.now() - started;
    state.tick.count++;
    state.tick.totalMs += spent;
    state.tick.maxMs = Math.max(state.tick.maxMs, spent);
  }

  // ---- sounds -------------------------------------------------------------------------------
  // The sounds themselves are in sounds.js (shared with the round): alarm, critical,
  // warning, late (past the answer deadline; mute does not stop it), offline.

  // Sounds that mute may hold back; the others are about an alarm past its deadline or a
  // screen that may be missing alarms, and must be heard.
  const MUTABLE = new Set(["alarm", "critical", "warning"]);

  function play(kind, id) {
    const entry = { kind, at: Date.now() };
    if (id) entry.id = id;
    if (MUTABLE.has(kind) && muted()) { state.silenced.push(entry); return false; }
    state.played.push(entry);
    if (state.played.length > 1000) state.played.shift();
    // What the audio output did with it: "running" means it was heard, "suspended" that the
    // browser held it back until a click (the banner asks for one), "none": no audio device
    // (the banner and colours still show).
    entry.audio = ResponsSounds.play(kind);
    if (entry.audio === "suspended") showSoundBanner();
    return true;
  }

  function newAlarmSound(id, priority) {
    state.sounded.add(id);
    if (state.sounded.size > 5000) state.sounded.delete(state.sounded.values().next().value);
    state.lastRing = state.now();
    play(priority === 1 ? "critical" : "alarm", id);
  }

  // Once a second: reminders for waiting alarms, and the urgent sounds at the warning time
  // and the deadline. Reads only the waiting rows (few, even with thousands open).
  function alertTick() {
    if (!queueBody) return;
    const now = state.now();
    const waiting = queueBody.querySelectorAll('tr.alarm-row[data-waiting="1"]');
    const present = new Set();
    let critical = false, overdue = false;
    for (const row of waiting) {
      const id = row.dataset.alarmId;
      present.add(id);
      const seconds = secondsWaited(row, now);
      let a = state.alerts.get(id);
      if (!a) { a = { warned: false, late: false }; state.alerts.set(id, a); }
      if (seconds >= lateSeconds) {
        overdue = true;
        if (!a.late) { a.late = a.warned = true; play("late", id); state.lastRing = now; }
      } else if (seconds >= warningSeconds && !a.warned) {
        a.warned = true;
        play("warning", id);
      }
      if (row.dataset.priority === "1") critical = true;
    }
    for (const id of state.alerts.keys()) if (!present.has(id)) state.alerts.delete(id);
    // The reminder: until nobody waits. Past the deadline it is the siren, muted or not.
    if (waiting.length && now - state.lastRing >= repeatMs) {
      state.lastRing = now;
      play(overdue ? "late" : critical ? "critical" : "alarm");
    }
  }

  function showSoundBanner() {
    const banner = $("#sound-banner");
    const ctx = ResponsSounds.context();
    if (banner && ctx && ctx.state === "suspended") banner.hidden = false;
  }

  // ---- mute: per operator, time-limited -----------------------------------------------------
  // Kept in localStorage under the operator's own key, as a wall-clock deadline, so a reload
  // keeps it and a colleague logging in at the same workstation does not inherit it.

  function mutedUntil() {
    try { return Number(localStorage.getItem(muteKey)) || 0; } catch (e) { return 0; }
  }

  function muted() {
    return muteKey ? state.wallNow() < mutedUntil() : false;
  }

  function setMute(on) {
    try {
      if (on) localStorage.setItem(muteKey, String(state.wallNow() + muteMs));
      else localStorage.removeItem(muteKey);
    } catch (e) { /* storage refused: the mute simply does not happen */ }
    muteTick();
  }

  function muteTick() {
    const toggle = $("#sound-toggle");
    if (!toggle) return;
    const left = mutedUntil() - state.wallNow();
    if (left > 0) {
      const whole = Math.ceil(left / 1000);
      const text = toggle.dataset.off.replace("{left}", Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0"));
      if (toggle.textContent !== text) toggle.textContent = text;
      toggle.setAttribute("aria-pressed", "true");
    } else {
      if (mutedUntil()) { try { localStorage.removeItem(muteKey); } catch (e) { /* ignore */ } }
      if (toggle.getAttribute("aria-pressed") !== "false") toggle.setAttribute("aria-pressed", "false");
      if (toggle.textContent !== toggle.dataset.on) toggle.textContent = toggle.dataset.on;
    }
  }

  // ---- live: heartbeats and the watchdog ----------------------------------------------------

  function setLive(up) {
    const status = $("#live-status");
    status.dataset.live = up ? "up" : "down";
    status.textContent = up ? consoleEl.dataset.liveUp : consoleEl.dataset.liveDown;
    $("#live-banner").hidden = up;
    document.body.classList.toggle("is-offline", !up);
  }

  function wentDown() {
    setLive(false);
    play("offline");
  }

  function cameUp(catchUp) {
    setLive(true);
    if (catchUp) reloadQueue();  // changes may have been missed meanwhile
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
    try {
      if (response.ok) applyWork(id, await response.text());
    } finally {
      state.workRefreshes += 1;
    }
  }

  function applyWork(id, html) {
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const fresh = holder.querySelector("#alarm-work");
    const current = $("#alarm-work");
    if (!fresh || !current || current.dataset.alarmId !== id) return;
    // This fetch may have left before the operator's own action and come back after it (a slow
    // answer on a busy node): it is older than the screen, and would take the action off it.
    // The timeline only grows, so its length orders the two.
    if (Number(fresh.dataset.seq) < Number(current.dataset.seq)) return;
    if (fresh.dataset.state === current.dataset.state && fresh.dataset.holder === current.dataset.holder) {
      // Same state and holder, so the same forms: replace only what changed (heading and
      // timeline), never the forms, where the operator may be choosing or typing right now.
      replaceKeepingFocus(current.querySelector("#work-heading"), fresh.querySelector("#work-heading"));
      replaceKeepingFocus(current.querySelector("#timeline"), fresh.querySelector("#timeline"));
      current.dataset.seq = fresh.dataset.seq;
      return;
    }
    if (current.contains(document.activeElement) && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName)
        && document.activeElement.value) {
      // Other forms come (a new state, or a take-over); wait until the operator leaves the
      // field they are writing in, so no half-written note is lost. The heading and the
      // timeline say at once what happened.
      replaceKeepingFocus(current.querySelector("#work-heading"), fresh.querySelector("#work-heading"));
      replaceKeepingFocus(current.querySelector("#timeline"), fresh.querySelector("#timeline"));
      current.dataset.stale = "1";
      return;
    }
    const drafts = takeDrafts(current, null);
    current.replaceWith(fresh);
    htmx.process(fresh);
    putDrafts(fresh, drafts);
  }

  // What the operator has typed or chosen but not sent, and where they are, in the open
  // alarm's work section: a new work section (a colleague's action, or the answer to an action
  // that was still on its way when the operator began) must not take it away, nor move their
  // focus (a Tab or Ctrl+Enter would then land elsewhere). The form whose own answer this is
  // is left out: it was sent, shows on the timeline, and focus leaves it on purpose.
  function takeDrafts(work, sentForm) {
    if (!work) return null;
    const fields = {};
    for (const field of work.querySelectorAll("textarea[id], input[id]:not([type=hidden]), select[id]")) {
      if (!field.value || (sentForm && sentForm.contains(field))) continue;
      fields[field.id] = field.value;
    }
    const active = document.activeElement;
    const inWork = active && active.id && work.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)
      && !(sentForm && sentForm.contains(active));
    return {
      alarmId: work.dataset.alarmId, fields,
      focus: inWork ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null,
    };
  }

  function putDrafts(work, drafts) {
    if (!work || !drafts || work.dataset.alarmId !== drafts.alarmId) return;
    for (const [id, value] of Object.entries(drafts.fields)) {
      const field = work.querySelector("#" + CSS.escape(id));
      if (field && !field.value) field.value = value;
    }
    const field = drafts.focus && work.querySelector("#" + CSS.escape(drafts.focus.id));
    if (field) {
      field.focus();
      try { field.setSelectionRange(drafts.focus.start, drafts.focus.end); } catch (e) { /* not a text field */ }
    }
  }

  // A refresh may replace the very element the operator's focus is on (the heading, where
  // focus goes after each action): the new one takes the focus, so the letters keep working.
  function replaceKeepingFocus(old, fresh) {
    const focused = document.activeElement === old;
    old.replaceWith(fresh);
    if (focused) fresh.focus();
  }

  function workPost(path) {
    const work = $("#alarm-work");
    if (work) htmx.ajax("POST", "/console/alarms/" + encodeURIComponent(work.dataset.alarmId) + path, { target: "#alarm-work", swap: "outerHTML" });
  }

  function answer() {
    // The open card's alarm if it waits; otherwise the selected row's.
    const work = $("#alarm-work");
    const id = work && work.querySelector("#answer-button") ? work.dataset.alarmId : (openAlarmId() ? null : state.selectedId);
    if (id) htmx.ajax("POST", "/console/alarms/" + encodeURIComponent(id) + "/answer", { target: "#card-pane", swap: "innerHTML" });
  }

  function closeAlarm() {
    if ($("#close-button")) workPost("/close");
  }

  function takeOver() {
    if ($("#take-over-button")) workPost("/take-over");
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

  // After an action the work section is new: put focus where the next step starts (the
  // refusal or notice if there is one, else the section's heading), never in a form, so the
  // letters work again and a second Ctrl+Enter cannot repeat the action.
  function focusWork() {
    const target = $("#work-error") || $("#work-notice") || $("#work-heading");
    if (target) target.focus();
  }

  // ---- keyboard -----------------------------------------------------------------------------
  // The rule: a single-key shortcut fires only when focus is on the page itself, the queue
  // or a non-form element (a heading, a link, a section). In a field, a select or on a
  // button, keys belong to that control: letters type, Enter and Space press, arrows choose.
  // Esc (back to the queue) and Ctrl+Enter (submit the form you are in) work everywhere.

  function takesKeys(el) {
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON|OPTION)$/.test(el.tagName);
  }

  function onKey(event) {
    const target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.key === "Escape") {
      if ($("#help").open) return;  // the dialog closes itself
      const row = state.selectedId && document.getElementById("row-" + state.selectedId);
      if (row) { event.preventDefault(); select(row, { focus: true }); }
      return;
    }
    if (takesKeys(target) || event.altKey || event.ctrlKey || event.metaKey || $("#help").open) return;
    if (target.tagName === "TR" && event.key === "Enter") {
      event.preventDefault();
      select(target, { focus: true, open: true });
      return;
    }
    if (event.key === "Enter" || event.key === " ") return;  // links and the like keep their own
    const handled = {
      n: () => nextAlarm(),
      // A answers the alarm and, when its unit is calling, the call (voice.js).
      a: () => { const id = openAlarmId() || state.selectedId; answer(); if (window.respons.voice) window.respons.voice.acceptRinging(id); },
      r: () => focusField("#call-whom"),
      m: () => focusField("#note-text"),
      u: () => focusField("#outcome"),
      l: () => closeAlarm(),
      o: () => takeOver(),
      j: () => move(1), ArrowDown: () => move(1),
      k: () => move(-1), ArrowUp: () => move(-1),
      "?": () => $("#help").showModal(),
      // Voice (voice.js): T calls (the alarm unit first), H hangs up, D mutes.
      t: () => window.respons.voice && window.respons.voice.callFirst(),
      h: () => window.respons.voice && window.respons.voice.hangUp(),
      d: () => window.respons.voice && window.respons.voice.toggleMute(),
    }[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (handled) {
      event.preventDefault();
      handled();
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  function onLiveMessage(event) {
    const received = performance.now();
    const arrived = Date.now();
    const type = event.detail.type;
    if (type === "heartbeat") { watcher.heartbeat(parse(event.detail.data)); return; }
    if (type === "reload") { reloadQueue(); return; }
    const change = parse(event.detail.data);
    if (!change || !change.alarm_id) return;
    if (change.event === "queued" || change.event === "escalated" || change.event === "handed_back") {
      newAlarmSound(change.alarm_id, change.priority);
    }
    if (change.event === "missing_response") play("critical", change.alarm_id);  // help has not arrived
    if (change.event === "call") callChanged(change);
    refreshRow(change.alarm_id).then(() => {
      state.rowUpdates.push({ id: change.alarm_id, ms: performance.now() - received, arrived, event: change.event });
      if (state.rowUpdates.length > 1000) state.rowUpdates.shift();
    });
    if (openAlarmId() === change.alarm_id) {
      refreshWork(change.alarm_id, change);
      // A call rang, was taken or ended: the card's voice section shows it (voice.js).
      if (change.event === "call" && window.respons.voice) window.respons.voice.refresh();
    }
  }

  // An inbound call rings at the operator who holds its alarm, or, if nobody does, at every
  // operator whose queue shows it; a colleague's alarm rings only at the colleague, and a call
  // handed to a colleague ("for") only at that colleague. The row shows that the unit is
  // calling until someone takes the call or it ends.
  function callChanged(change) {
    const call = change.call || {};
    const id = change.alarm_id;
    const ringing = call.phase === "ringing" && call.direction === "inbound";
    if (ringing) state.ringing.add(id); else state.ringing.delete(id);
    const row = document.getElementById("row-" + id);
    if (!row) return;
    if (ringing) row.dataset.call = "ringing"; else delete row.dataset.call;
    const waiting = change.state === "queued" || change.state === "offered";
    const forMe = call.for ? call.for === consoleEl.dataset.user : (waiting || row.dataset.mine === "1");
    if (ringing && forMe) play("critical", id);
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // "Innsyn etter alarmen" (digital supervision): the look-in opens in the round's own window,
  // so the console (and a call on it) stays; a blocked pop-up falls back to this window.
  function openRound(event) {
    const url = event.detail && event.detail.url;
    if (!url) return;
    const opened = window.open(url, "respons-round");
    if (!opened) window.location.assign(url);
  }

  function init() {
    consoleEl = $("#console");
    if (!consoleEl) return;
    document.body.addEventListener("respons:open-round", openRound);
    state.reloadQueue = reloadQueue;  // for bench/console_queue.py
    state.alertTick = alertTick;      // for the browser tests
    queueBody = $("#queue-body");
    warningSeconds = Number(consoleEl.dataset.warningSeconds);
    lateSeconds = Number(consoleEl.dataset.lateSeconds);
    repeatMs = (Number(consoleEl.dataset.repeatSeconds) || 10) * 1000;
    muteMs = (Number(consoleEl.dataset.muteSeconds) || 120) * 1000;
    muteKey = "respons.mute." + consoleEl.dataset.user;
    $$("tr.alarm-row", queueBody).forEach(stamp);
    // Alarms already waiting when the page opens have rung on some screen already; they
    // get the reminder, not a new-alarm sound each.
    $$('tr.alarm-row[data-waiting="1"]', queueBody).forEach((row) => state.sounded.add(row.dataset.alarmId));
    afterQueueChange();
    muteTick();
    setInterval(() => { tick(); alertTick(); muteTick(); }, 1000);
    watcher = ResponsLive.watch({
      element: consoleEl, streamSelector: "#live",
      heartbeatMs: (Number(consoleEl.dataset.heartbeatSeconds) || 3) * 1000,
      onUp: cameUp, onDown: wentDown, onStillDown: () => play("offline"),
    });
    state.live = watcher.state;
    consoleEl.addEventListener("htmx:sseMessage", (event) => {
      if (event.target.id === "live-events") onLiveMessage(event);
    });

    queueBody.parentElement.addEventListener("click", (event) => {
      const row = event.target.closest("tr.alarm-row");
      if (row) select(row, { focus: true, open: true });
    });
    document.addEventListener("keydown", onKey);
    document.addEventListener("focusout", (event) => {
      const work = $("#alarm-work");
      if (work && work.dataset.stale === "1" && !work.contains(event.relatedTarget)) refreshWork(work.dataset.alarmId);
    });
    // An action's answer can be older than the screen: a refresh that left after the action
    // was committed (a colleague's note, say) may have landed first. The answer is still
    // shown (it may carry a refusal or a notice), then a refresh brings back what came after.
    let workBeforeSwap = null;
    let draftsBeforeSwap = null;
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      const work = $("#alarm-work");
      workBeforeSwap = work ? { id: work.dataset.alarmId, seq: Number(work.dataset.seq) } : null;
      // beforeSwap fires on the target; the form that sent the request is in its config.
      const sender = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
      draftsBeforeSwap = takeDrafts(work, sender && sender.tagName === "FORM" ? sender : null);
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      const work = $("#alarm-work");
      if (work && workBeforeSwap && work.dataset.alarmId === workBeforeSwap.id
          && Number(work.dataset.seq) < workBeforeSwap.seq) refreshWork(work.dataset.alarmId);
      workBeforeSwap = null;
      // SSE messages swap nothing (hx-swap="none") and may carry no target: skip them.
      const target = event.detail && event.detail.target;
      if (target && target.id === "card-pane") {
        const heading = $("#card-heading");
        if (heading) heading.focus();
        const id = openAlarmId();
        if (id) { state.selectedId = id; refreshRow(id); }
      } else if (target && (target.id === "alarm-work" || (event.detail.elt && event.detail.elt.id === "alarm-work"))) {
        focusWork();
        const id = openAlarmId();
        if (id) refreshRow(id);
      }
      putDrafts($("#alarm-work"), draftsBeforeSwap);
      draftsBeforeSwap = null;
    });

    const toggle = $("#sound-toggle");
    toggle.addEventListener("click", () => setMute(!muted()));
    $("#sound-test").addEventListener("click", () => {
      ResponsSounds.audio().resume();
      for (const [n, kind] of ["alarm", "critical", "warning", "late"].entries()) setTimeout(() => play(kind), n * 1800);
    });
    $("#sound-enable").addEventListener("click", () => { ResponsSounds.audio().resume().then(() => { $("#sound-banner").hidden = true; }); });
    $("#help-open").addEventListener("click", () => $("#help").showModal());
    // Ask for sound at once: the browser may hold it back until the first click.
    try { if (ResponsSounds.audio().state === "suspended") showSoundBanner(); } catch (e) { /* no audio device */ }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
