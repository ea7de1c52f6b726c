/* The operator's round (/round): the shift's look-ins by municipality and time, and the
 * look-in in the panel beside them (docs/supervision.md, "The operator's round").
 *
 * Each row carries its due time and window; once a second its clock is painted (in 12 min,
 * can start, now, 4 min late, window closed) and a look-in that falls due sounds a warning,
 * one that turns late the siren, as an alarm past its answer time does in the console.
 * The server marks late and missed look-ins itself (digital_supervision/lookins.sweep):
 * the page only shows it sooner.
 *
 * A camera look-in shows the camera's picture through the gateway (WebRTC, receive only;
 * Respons does the signalling, so the page holds no gateway credential). Decoded frames are
 * counted; a camera that shows none within 5 s, or stops for 3 s, is said to be unavailable
 * and the picture is hidden, never left frozen. The server closes the picture after the
 * look-in's length whatever this page does; the page closes its side then too.
 *
 * Keys (not while typing): N the next look-in to do, S start it, 1–4 choose the outcome,
 * Enter record it, Escape leave the note field.
 *
 * The list stays current from /round/events: each event names one look-in, and only its
 * row is fetched again; a look-in the list does not hold yet (a look again, a phone call
 * instead of the camera) reloads the list.
 */
(function () {
  "use strict";

  const REMIND_MS = 30000;
  const state = {
    selectedId: null,
    sounded: new Map(),  // look-in id -> "due_now" | "late": the sound it has had
    played: [],          // [{kind, id, at}] for the browser tests
    lastReminder: 0,
    live: null,
    rowUpdates: [],      // {id, ms}: event arrival to row in place (bench/round_list.py)
    tick: { count: 0, totalMs: 0, maxMs: 0 },  // cost of the once-a-second repaint
  };
  window.respons = window.respons || {};
  window.respons.round = state;

  let roundEl, watcher;
  const { post, gathered } = window.ResponsSignalling;  // signalling.js
  const $ = (selector, root) => (root || document).querySelector(selector);

  function words(key) { return roundEl.dataset["w" + key] || ""; }
  function fill(text, values) { return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : "")); }

  function play(kind, id) {
    const audio = ResponsSounds.play(kind);
    state.played.push({ kind, id, at: Date.now(), audio });
    if (state.played.length > 500) state.played.shift();
    // The browser holds sound back until the page is clicked: the banner asks for that click,
    // so a late look-in's siren is never silent without the operator knowing.
    if (audio === "suspended") $("#sound-banner").hidden = false;
  }

  // ---- clocks ---------------------------------------------------------------------------------

  function clockOf(row, now) {
    const due = Number(row.dataset.due), win = Number(row.dataset.window), lateAfter = Number(roundEl.dataset.lateAfter);
    // "in n min" counts to the agreed time (the row's time), not to the window's opening.
    if (now < due - win) return ["later", Math.ceil((due - now) / 60000)];
    if (now < due) return ["open", 0];
    if (now < due + lateAfter) return ["due_now", 0];
    if (now < due + win) return ["late", Math.floor((now - due) / 60000)];
    return ["missed", 0];
  }

  const WORD = { later: "Later", open: "Open", due_now: "DueNow", late: "Late", missed: "Missed" };

  function tick() {
    const started = performance.now();
    paintClocks();
    const spent = performance.now() - started;
    state.tick.count++;
    state.tick.totalMs += spent;
    state.tick.maxMs = Math.max(state.tick.maxMs, spent);
  }

  function paintClocks() {
    const now = Date.now();
    let anyLate = false;
    // Only rows still due have a clock (rows rendered started or done have none), and the DOM
    // is written only where the text or state changed: most minutes, nothing changes.
    for (const row of document.querySelectorAll('tr.lookin-row[data-state="due"]')) {
      let [clock, minutes] = clockOf(row, now);
      if (row.dataset.late === "1" && clock !== "missed") clock = "late";  // the server said so
      const text = fill(words(WORD[clock]), { m: minutes });
      if (row.dataset.clock !== clock) row.dataset.clock = clock;
      if (row.dataset.clockText !== text) {
        row.dataset.clockText = text;
        row.querySelector(".lk-clock").textContent = text;
      }
      const id = row.dataset.lookinId;
      const had = state.sounded.get(id);
      if (clock === "late") {
        anyLate = true;
        if (had !== "late") { state.sounded.set(id, "late"); play("late", id); state.lastReminder = now; }
      } else if (clock === "due_now" && !had) {
        state.sounded.set(id, "due_now");
        play("warning", id);
      }
    }
    // Until every late look-in is started, the siren comes back (as for an alarm past its deadline).
    if (anyLate && now - state.lastReminder >= REMIND_MS) { state.lastReminder = now; play("late"); }
    paintTimer(now);
    watchCamera(now);
  }

  function paintTimer(now) {
    const panel = $("#lookin"), timer = $("#view-timer");
    if (!panel || !timer || !panel.dataset.viewUntil) return;
    const left = Math.ceil((Number(panel.dataset.viewUntil) - now) / 1000);
    timer.textContent = left > 0 ? fill(words("TimeLeft"), { s: left }) : words("Closed");
    timer.dataset.left = String(Math.max(0, left));
    if (left <= 0) stopCamera("closed");
  }

  // ---- the camera's picture -----------------------------------------------------------------------

  const NO_FIRST_FRAME_MS = 5000, NO_FRAMES_MS = 3000;
  state.camera = null;  // { lookinId, pc, frames, firstFrameAt, lastFrameAt, startedAt, ended }
  state.withdrawn = new Set();  // look-ins whose picture the consent's withdrawal ended

  function cameraSay(key) {
    const box = $("#camera"), status = $("#camera-status");
    if (box && status) status.textContent = box.dataset["w" + key] || "";
  }

  async function startCamera() {
    const panel = $("#lookin");
    if (!panel || panel.dataset.method !== "camera" || !working() || !panel.dataset.viewUntil) return;
    if (Number(panel.dataset.viewUntil) <= Date.now()) return;  // its time is over (or the consent withdrawn)
    const id = panel.dataset.lookinId;
    if (state.camera && state.camera.lookinId === id && !state.camera.ended) return;
    stopCamera();
    // answeredAt: the frame watchdog starts only once the picture is on its way (the server
    // itself waits up to 5 s for a camera's packets before it offers anything).
    const cam = { lookinId: id, pc: null, frames: 0, firstFrameAt: null, lastFrameAt: null,
                  answeredAt: null, ended: null };
    state.camera = cam;
    const gone = () => state.camera !== cam || cam.ended;
    const offered = await post(`/round/lookins/${id}/camera`);
    if (gone()) return;
    if (!offered.ok) { stopCamera(await refusedAsClosed(offered) ? "closed" : "unavailable"); return; }
    const { offer } = await offered.json();
    if (gone()) return;
    const pc = new RTCPeerConnection();
    cam.pc = pc;
    const video = $("#camera-video");
    pc.ontrack = (event) => { video.srcObject = event.streams[0] || new MediaStream([event.track]); };
    // The server ends the picture after the look-in's length: the transport closes then.
    pc.addEventListener("connectionstatechange", () => {
      if (["closed", "failed"].includes(pc.connectionState) && state.camera === cam) stopCamera("closed");
    });
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (gone()) { pc.close(); return; }  // left meanwhile: this connection must not linger
    const answered = await post(`/round/lookins/${id}/camera/answer`, { sdp: pc.localDescription.sdp });
    if (gone()) { pc.close(); return; }
    if (!answered.ok) { stopCamera(await refusedAsClosed(answered) ? "closed" : "unavailable"); return; }
    cam.answeredAt = performance.now();
    const onFrame = () => {
      if (state.camera !== cam || cam.ended) return;
      const now = performance.now();
      cam.frames++;
      if (cam.firstFrameAt === null) { cam.firstFrameAt = now; video.hidden = false; cameraSay("Live"); }
      cam.lastFrameAt = now;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  // Once a second (tick): a picture that never came, or stopped, is not shown.
  function watchCamera(now) {
    const cam = state.camera;
    if (!cam || cam.ended || cam.answeredAt === null) return;
    const t = performance.now();
    if (cam.firstFrameAt === null ? t - cam.answeredAt > NO_FIRST_FRAME_MS : t - cam.lastFrameAt > NO_FRAMES_MS) {
      stopCamera("unavailable");
    }
  }

  function stopCamera(why) {
    const cam = state.camera;
    if (!cam || cam.ended) return;
    cam.ended = why || "left";
    if (cam.pc) { try { cam.pc.close(); } catch (e) { /* closed already */ } }
    const video = $("#camera-video");
    if (video && $("#lookin") && $("#lookin").dataset.lookinId === cam.lookinId) {
      video.srcObject = null;
      video.hidden = true;
      if (why === "unavailable") {
        cameraSay("Unavailable");
        const choice = $('#outcome-form input[value="camera_unavailable"]');
        if (choice && !$('#outcome-form input[name="outcome"]:checked')) { choice.checked = true; }
      } else if (why === "closed" || why === "withdrawn") cameraSay("Closed");
    }
    if (why !== "closed" && why !== "unavailable") post(`/round/lookins/${cam.lookinId}/camera/close`);
  }

  // The server said there is no picture because the look-in's time is over or the consent was
  // withdrawn: the picture is closed, not "unavailable" (which would offer outcome 4, the
  // camera failed, and with it a fallback call).
  async function refusedAsClosed(answer) {
    if (answer.status !== 409) return false;
    try { return ["view_over", "cancelled"].includes((await answer.json()).error); } catch (e) { return false; }
  }

  // Consent was withdrawn while this look-in's picture was shown: it ends now, whichever node
  // sends it, and is not opened again. The look-in stays open for its outcome.
  function endPicture(id) {
    state.withdrawn.add(id);
    const panel = $("#lookin");
    if (panel && panel.dataset.lookinId === id) panel.dataset.viewUntil = "0";
    if (state.camera && state.camera.lookinId === id) stopCamera("withdrawn");
  }

  // ---- the list ---------------------------------------------------------------------------------

  function rows() { return Array.from(document.querySelectorAll("tr.lookin-row")); }

  function select(row, { load = true } = {}) {
    for (const r of rows()) r.setAttribute("aria-selected", r === row ? "true" : "false");
    state.selectedId = row ? row.dataset.lookinId : null;
    if (!row) return;
    row.scrollIntoView({ block: "nearest" });
    if (load) loadPanel(row.dataset.lookinId);
  }

  function working() {
    const panel = $("#lookin");
    return panel && panel.dataset.mine === "1" && panel.dataset.state === "started";
  }

  // The look-in to do next: the earliest still due (not the one chosen now), one that can
  // start before one that cannot yet.
  function nextLookin() {
    if (working()) { focusPanel(); return; }  // finish this one first
    const now = Date.now();
    const due = rows().filter((r) => r.dataset.state === "due" && r.dataset.lookinId !== state.selectedId);
    const ready = due.filter((r) => ["open", "due_now", "late"].includes(clockOf(r, now)[0]));
    const pick = (ready.length ? ready : due).sort((a, b) => Number(a.dataset.due) - Number(b.dataset.due))[0];
    if (pick) select(pick);
  }

  // Each panel request takes a number; only the newest one's answer is shown, so a look-in
  // chosen (N) and at once started (S) never ends with the chosen one's older panel on top.
  let panelSeq = 0;

  async function loadPanel(id) {
    const seq = ++panelSeq;
    const answer = await fetch(`/round/lookins/${id}`, { credentials: "same-origin" });
    if (!answer.ok || seq !== panelSeq) return;
    showPanel(await answer.text());
  }

  // S: start the chosen look-in, whether or not its panel has arrived yet.
  async function startChosen() {
    if (!state.selectedId || working() || state.starting) return;
    const id = state.selectedId, seq = ++panelSeq;
    state.starting = true;
    try {
      const answer = await post(`/round/lookins/${id}/start`);
      if (seq !== panelSeq) return;
      if (answer.ok || answer.status === 409) showPanel(await answer.text());
      refreshRow(id);
    } finally {
      state.starting = false;
    }
  }

  function showPanel(html) {
    const pane = $("#lookin-pane");
    pane.innerHTML = html;
    htmx.process(pane);
    panelShown();
  }

  // Whatever brought a new panel: its timer, its camera, and the operator's focus.
  function panelShown() {
    const panel = $("#lookin");
    // A panel answered before the consent was withdrawn still carries the old time.
    if (panel && state.withdrawn.has(panel.dataset.lookinId)) panel.dataset.viewUntil = "0";
    if (state.camera && (!panel || panel.dataset.lookinId !== state.camera.lookinId || !working())) stopCamera();
    paintTimer(Date.now());
    startCamera();
    focusPanel();
  }

  function focusPanel() {
    const heading = $("#lookin-heading");
    if (heading) heading.focus();
  }

  // Per row, only the newest fetch is put in place: two changes of one look-in in quick
  // succession (started, then recorded) may be answered out of order.
  const rowSeq = new Map();

  async function refreshRow(id) {
    if (!document.getElementById("lookin-" + id)) return reloadList();
    const seq = (rowSeq.get(id) || 0) + 1;
    rowSeq.set(id, seq);
    const answer = await fetch(`/round/rows/${id}`, { credentials: "same-origin" });
    const text = answer.ok ? (await answer.text()).trim() : null;
    if (rowSeq.get(id) !== seq) return;
    const row = document.getElementById("lookin-" + id);  // the one in the page now
    if (!row) return;
    if (text === null) { row.remove(); return; }
    const holder = document.createElement("tbody");
    holder.innerHTML = text;
    const fresh = holder.firstElementChild;
    fresh.setAttribute("aria-selected", id === state.selectedId ? "true" : "false");
    row.replaceWith(fresh);
    paintClocks();
  }

  async function reloadList() {
    const answer = await fetch(`/round/list?shift=${encodeURIComponent(roundEl.dataset.shift)}`, { credentials: "same-origin" });
    if (!answer.ok) return;
    $("#round-list").innerHTML = await answer.text();
    const selected = state.selectedId && document.getElementById("lookin-" + state.selectedId);
    if (selected) selected.setAttribute("aria-selected", "true");
    paintClocks();
  }

  // ---- keys -------------------------------------------------------------------------------------

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
                      (target.tagName === "INPUT" && !["radio", "checkbox"].includes(target.type)));
  }

  function chooseOutcome(n) {
    const choices = document.querySelectorAll('#outcome-form input[name="outcome"]');
    const choice = choices[n - 1];
    if (!choice) return;
    choice.checked = true;
    choice.focus();
  }

  function record() {
    const form = $("#outcome-form");
    if (form && form.querySelector('input[name="outcome"]:checked')) form.requestSubmit();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); focusPanel(); }
      return;
    }
    if (event.key === "Enter" && $("#outcome-form") && $("#outcome-form").contains(event.target)) {
      event.preventDefault();
      record();
      return;
    }
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const handled = {
      n: nextLookin,
      s: startChosen,
      1: () => chooseOutcome(1), 2: () => chooseOutcome(2), 3: () => chooseOutcome(3), 4: () => chooseOutcome(4),
    }[key];
    if (handled) { event.preventDefault(); handled(); }
  }

  // ---- wiring -------------------------------------------------------------------------------------

  function onLiveMessage(event) {
    const type = event.detail.type;
    let data = null;
    try { data = JSON.parse(event.detail.data); } catch (e) { /* not for us */ }
    if (type === "heartbeat") { watcher.heartbeat(data); return; }
    if (type === "reload") { reloadList(); return; }
    if (!data || !data.lookin_id) return;
    const id = String(data.lookin_id);
    if (data.what === "withdrawn") endPicture(id);
    const arrived = performance.now();
    refreshRow(id).then(() => {
      state.rowUpdates.push({ id, ms: performance.now() - arrived });
      if (state.rowUpdates.length > 1000) state.rowUpdates.shift();
    });
    // A colleague started or recorded the look-in shown here, or it was missed or cancelled:
    // show it. This operator's own start or outcome shows through its own answer (a panel
    // fetched now could land after it and take away a choice already made), and "late" changes
    // nothing in the panel.
    if (id === state.selectedId && data.what !== "late" && data.by !== roundEl.dataset.user && !working()
        && !state.starting) loadPanel(id);
  }

  function setLive(up) {
    const status = $("#live-status");
    status.dataset.live = up ? "up" : "down";
    status.textContent = up ? roundEl.dataset.liveUp : roundEl.dataset.liveDown;
    $("#live-banner").hidden = up;
  }

  function init() {
    roundEl = $("#round");
    if (!roundEl) return;
    state.reloadList = reloadList;  // for bench/round_list.py
    watcher = ResponsLive.watch({
      element: roundEl, streamSelector: "#live",
      heartbeatMs: (Number(roundEl.dataset.heartbeatSeconds) || 3) * 1000,
      onUp: (catchUp) => { setLive(true); if (catchUp) reloadList(); },
      onDown: () => { setLive(false); play("offline"); },
      onStillDown: () => play("offline"),
    });
    state.live = watcher.state;
    roundEl.addEventListener("htmx:sseMessage", (event) => {
      if (event.target.id === "live-events") onLiveMessage(event);
    });
    $("#round-list").addEventListener("click", (event) => {
      const row = event.target.closest("tr.lookin-row");
      if (row && !working()) select(row);
    });
    // The start and outcome forms answer with the panel: show it, and the row changes.
    document.body.addEventListener("htmx:beforeRequest", (event) => {
      if (event.detail.target && event.detail.target.id === "lookin-pane") panelSeq++;
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target.id !== "lookin-pane") return;
      panelShown();
      const panel = $("#lookin");
      if (panel) refreshRow(panel.dataset.lookinId);
    });
    document.addEventListener("keydown", onKey);
    $("#sound-enable").addEventListener("click", () => {
      ResponsSounds.audio().resume().then(() => { $("#sound-banner").hidden = true; });
    });
    tick();
    setInterval(tick, 1000);
    // Come from an alarm's card ("Innsyn"): that look-in, already started, is shown at once.
    const opened = roundEl.dataset.openLookin && document.getElementById("lookin-" + roundEl.dataset.openLookin);
    if (opened) select(opened);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
