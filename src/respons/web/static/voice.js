// Voice in the console (docs/voice.md): the browser's own WebRTC, signalled through Respons.
// The browser never speaks to the gateway's API: it sends its offer (or its answer to the
// gateway's offer, for a unit's call) and the key of whom to call, and waits on the call's
// state (GET /console/calls/{id}, a long poll). Media then flows between this browser and
// the gateway. One call is live; taking or making another puts it on hold.
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  // A call: { id, alarmId, label, target, pc, stream, audio, version, state, answeredAt, remoteSet,
  //          inbound, transferring }
  let call = null;  // the live call (ringing, or talking)
  const held = new Map();  // call id -> a call on hold
  let ticker = null;

  const { post, gathered } = window.ResponsSignalling;  // signalling.js

  function panel() { return $("#voice"); }
  function panelAlarm() { const p = panel(); return p ? p.dataset.alarmId : null; }
  // The console's routes, or the responder app's (data-base="/app"): the same calls.
  function base() { const p = panel(); return (p && p.dataset.base) || "/console"; }
  function words(key) { const p = panel(); return (p && p.dataset["w" + key]) || ""; }
  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
  function fill(text, who) { return (text || "").replace("{who}", who || ""); }
  function heldOn(alarmId) { for (const c of held.values()) if (c.alarmId === alarmId) return c; return null; }

  function say(text, stateName) {
    const el = $("#voice-state");
    if (!el) return;
    el.textContent = text;
    if (stateName) el.dataset.state = stateName;
  }

  function describe(row, who) {
    if (row.state === "failed") return fill(words("Failed"), who) + (row.failure ? " – " + (words("Failure_" + row.failure) || row.failure) : "");
    return fill(words(cap(row.state)), who);
  }

  // What the open card's voice section shows: its alarm's live call, a call of its alarm on
  // hold, or the buttons to call.
  function paint() {
    const alarmId = panelAlarm();
    if (!alarmId) return;
    const mine = call && call.alarmId === alarmId;
    const live = mine && ["ringing", "answered", "connecting"].includes(call.state);
    const waiting = heldOn(alarmId);
    const controls = $("#voice-controls"), targets = $("#voice-targets"), heldNote = $("#voice-held");
    if (controls) controls.hidden = !live;
    if (targets) targets.hidden = !!(live || waiting);
    if (heldNote) {
      heldNote.hidden = !waiting;
      if (waiting) $("#voice-held-who").textContent = fill(words("Held"), waiting.label);
    }
    if (mine) say(describe({ state: call.state === "connecting" ? "ringing" : call.state }, call.label), call.state);
    if (mine && call.transferring) say(words("Transferring"), "transferring");
    else if (mine && call.transferFailed) say(words("Transfer_failed"), "transfer_failed");
    // A call with the unit can be handed to a colleague (a phone behind the trunk cannot).
    const handOver = $("#voice-transfer");
    if (handOver) handOver.hidden = !(live && call.state === "answered" && TRANSFERABLE.includes(call.target) && !call.transferring);
    const incoming = $("#voice-incoming");
    if (incoming && mine) incoming.hidden = true;
    const callback = $("#voice-callback");
    if (callback && mine) callback.hidden = true;
    keepFocusVisible();
  }

  // A button clicked in the section (Ring opp, Sett over) may have just been hidden: focus
  // goes to the section's heading, so it is not lost and the keys (H, D, T) work again.
  function keepFocusVisible() {
    const focused = document.activeElement, section = panel();
    if (!section || !focused || !section.contains(focused) || focused.offsetParent !== null) return;
    const heading = $("#voice-heading");
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus();
  }

  const TRANSFERABLE = ["unit", "unknown"];

  async function transfer() {
    const select = $("#voice-transfer-to"), button = $("#voice-transfer-button");
    if (!call || !call.id || !select || !select.value || (button && button.disabled)) return;
    const current = call;
    if (button) button.disabled = true;  // one request at a time
    const response = await post(current.base + "/calls/" + encodeURIComponent(current.id) + "/transfer", { to: select.value });
    if (button) button.disabled = false;
    const body = response.ok ? await response.json().catch(() => ({})) : {};
    current.transferring = response.ok;
    current.transferFailed = !response.ok;
    // Answers older than the transfer's version do not know of it yet: they say nothing of it.
    current.transferFrom = body.version || 0;
    if (call === current) paint();
  }

  function clock() {
    const el = $("#voice-clock");
    if (!el || !call || !call.answeredAt || call.alarmId !== panelAlarm()) { if (el) el.textContent = ""; return; }
    const s = Math.max(0, Math.round((Date.now() - call.answeredAt) / 1000));
    el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function newCall(fields) {
    // A call keeps the routes it began with (the console's or the app's), whatever card shows.
    return Object.assign({ id: null, pc: null, stream: null, audio: null, version: 0, state: "connecting",
                           remoteSet: false, inbound: false, base: base(), transferFrom: 0 }, fields);
  }

  // Before another call becomes live: the live one goes on hold (if it is talking), or the
  // new one waits (a call still ringing out is not held: hang it up first).
  async function freeLine() {
    if (!call) return true;
    if (call.state !== "answered") return false;
    return hold(call);
  }

  async function hold(current) {
    const response = await post(current.base + "/calls/" + encodeURIComponent(current.id) + "/hold");
    if (!response.ok) return false;
    current.stream && current.stream.getAudioTracks().forEach((t) => { t.enabled = false; });
    if (current.audio) current.audio.muted = true;
    held.set(current.id, current);
    if (call === current) call = null;
    clearInterval(ticker); ticker = null;
    paint();
    return true;
  }

  async function resume(current) {
    if (call && call !== current && !(await freeLine())) return;
    const response = await post(current.base + "/calls/" + encodeURIComponent(current.id) + "/resume");
    if (!response.ok) return;
    held.delete(current.id);
    call = current;
    current.stream && current.stream.getAudioTracks().forEach((t) => { t.enabled = !voice.muted; });
    if (current.audio) current.audio.muted = false;
    voice.remoteStream = current.audio ? current.audio.srcObject : voice.remoteStream;
    voice.callId = current.id;
    ticker = setInterval(clock, 1000);
    paint();
  }

  async function microphone(current) {
    try {
      current.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      return true;
    } catch (e) {
      say(words("No_microphone"), "failed");
      return false;
    }
  }

  function peer(current) {
    const pc = new RTCPeerConnection({ iceServers: window.respons && window.respons.iceServers || [] });
    current.pc = pc;
    if (current.stream) current.stream.getTracks().forEach((track) => pc.addTrack(track, current.stream));
    pc.ontrack = (event) => {
      current.audio = current.audio || document.body.appendChild(Object.assign(document.createElement("audio"),
        { className: "voice-audio", autoplay: true }));
      current.audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      if (call === current) voice.remoteStream = current.audio.srcObject;
    };
    return pc;
  }

  // "Ring opp": the operator calls someone the alarm has an address for.
  async function start(targetKey, label) {
    const alarmId = panelAlarm();
    if (!alarmId || !(await freeLine())) return;
    const current = newCall({ alarmId, label });
    call = current;
    paint();
    if (!(await microphone(current))) { call = null; paint(); return; }
    const pc = peer(current);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await post(base() + "/alarms/" + encodeURIComponent(alarmId) + "/calls",
                                { target: targetKey, sdp: pc.localDescription.sdp });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      finish(current, { state: "failed", failure: body.error === "voice_unavailable" ? "gateway" : "unreachable" });
      return;
    }
    current.id = (await response.json()).call_id;
    voice.callId = current.id;
    follow(current);
  }

  // A unit's call (it called after its alarm): take it, then answer the gateway's offer.
  async function take(callId, alarmId) {
    if (!(await freeLine())) return;
    const current = newCall({ id: callId, alarmId, label: words("Unit"), inbound: true });
    call = current;
    voice.callId = callId;
    paint();
    const response = await post(current.base + "/calls/" + encodeURIComponent(callId) + "/take");
    if (!response.ok) { call = null; paint(); refresh(); return; }  // a colleague was first
    await microphone(current);
    follow(current);
  }

  async function answerOffer(current, sdp) {
    const pc = peer(current);
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await post(current.base + "/calls/" + encodeURIComponent(current.id) + "/answer", { sdp: pc.localDescription.sdp });
  }

  function ours(current) { return call === current || held.get(current.id) === current; }

  async function follow(current) {
    while (ours(current)) {
      let response;
      try {
        response = await fetch(current.base + "/calls/" + encodeURIComponent(current.id) + "?after=" + current.version,
          { credentials: "same-origin" });
      } catch (e) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!ours(current)) return;
      if (!response.ok) { finish(current, { state: "lost" }); return; }
      const row = await response.json();
      current.version = row.version;
      current.target = row.target;
      if (row.version >= current.transferFrom) {
        if (current.transferring && !row.transferring && row.state === "answered") current.transferFailed = true;
        current.transferring = row.transferring;
        if (row.transferring) current.transferFailed = false;
      }
      if (row.sdp && !current.remoteSet) {
        current.remoteSet = true;
        if (current.inbound) await answerOffer(current, row.sdp);
        else await current.pc.setRemoteDescription({ type: "answer", sdp: row.sdp });
      }
      if (row.state === "answered" && !current.answeredAt) {
        current.answeredAt = Date.now();
        if (call === current) ticker = setInterval(clock, 1000);
      }
      current.state = row.state;
      if (["ended", "failed", "lost"].includes(row.state)) { finish(current, row); return; }
      if (call === current) paint();
    }
  }

  function finish(current, row) {
    if (current.pc) current.pc.close();
    if (current.stream) current.stream.getTracks().forEach((t) => t.stop());
    if (current.audio) current.audio.remove();
    held.delete(current.id);
    const wasLive = call === current;
    if (wasLive) { call = null; clearInterval(ticker); ticker = null; }
    current.state = row.state;
    voice.last = { alarmId: current.alarmId, label: current.label, state: row.state };
    if (current.alarmId !== panelAlarm()) return;
    paint();
    say(describe(row, current.label), row.state);
    const again = $("#voice-again");
    if (again) again.hidden = !(row.state === "lost" || row.state === "failed");
  }

  async function hangUp() {
    if (!call) return;
    const current = call;
    if (current.id) await post(current.base + "/calls/" + encodeURIComponent(current.id) + "/hangup").catch(() => {});
    else finish(current, { state: "failed", failure: "cancelled" });
    // The call's state comes back through follow(): ended, or failed (cancelled) if it rang.
  }

  function toggleMute() {
    if (!call || !call.stream) return;
    voice.muted = !voice.muted;
    call.stream.getAudioTracks().forEach((t) => { t.enabled = !voice.muted; });
    const button = $("#voice-mute");
    if (button) {
      button.setAttribute("aria-pressed", voice.muted ? "true" : "false");
      button.firstChild.textContent = (voice.muted ? words("Unmute") : words("Mute")) + " ";
    }
  }

  // T: take back this alarm's held call; else call the first one listed (the alarm unit), or
  // again after a lost or failed call.
  function callFirst() {
    // The card's voice section is (re)loading, e.g. just after A replaced the card: call
    // when it has come, rather than lose the key.
    if (panel() && !$("#voice-state")) { voice.pendingCall = panelAlarm(); return; }
    const waiting = heldOn(panelAlarm());
    if (waiting) return resume(waiting);
    if (call && call.alarmId === panelAlarm()) return;
    const again = $("#voice-again");
    if (again && !again.hidden && voice.lastTarget) return start(voice.lastTarget.key, voice.lastTarget.label);
    const first = $("#voice-targets .voice-call:not([disabled])");
    if (first) first.click();
  }

  // A: take the call that rings on the open card; if the card is not open yet, take it when
  // its voice section arrives (A also answers the alarm: console.js).
  function acceptRinging(alarmId) {
    const incoming = $("#voice-incoming");
    if (incoming && !incoming.hidden && panel()) return take(incoming.dataset.callId, panelAlarm());
    voice.pendingTake = alarmId || null;
  }

  // The voice section again (a call event on the open alarm), unless a call is on it.
  function refresh() {
    const alarmId = panelAlarm();
    if (!alarmId || (call && call.alarmId === alarmId)) return;
    htmx.ajax("GET", base() + "/alarms/" + encodeURIComponent(alarmId) + "/voice", { target: "#voice", swap: "innerHTML" });
  }

  // The unit said it would call: when its time is up and no call came, the notice shows.
  function watchOverdue() {
    const notice = $("#voice-overdue");
    if (!notice) return;
    const wait = Number(notice.dataset.at) - Date.now();
    setTimeout(() => { if (notice.isConnected && !(call && call.alarmId === panelAlarm())) notice.hidden = false; },
               Math.max(0, wait));
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#voice button");
    if (!button) return;
    if (button.classList.contains("voice-call")) {
      const label = button.dataset.label || button.textContent.trim();
      voice.lastTarget = { key: button.dataset.target, label };
      start(button.dataset.target, label);
    } else if (button.id === "voice-hangup") hangUp();
    else if (button.id === "voice-mute") toggleMute();
    else if (button.id === "voice-again" || button.id === "voice-resume") callFirst();
    else if (button.id === "voice-take") acceptRinging();
    else if (button.id === "voice-transfer-button") transfer();
  });

  // A new voice section (another card, or the same one again): show the calls it belongs to.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!event.detail || !event.detail.target || event.detail.target.id !== "voice") return;
    watchOverdue();
    paint();
    if (voice.pendingTake && voice.pendingTake === panelAlarm() && $("#voice-incoming")) {
      voice.pendingTake = null;
      acceptRinging();
    }
    if (voice.pendingCall) {
      const wanted = voice.pendingCall;
      voice.pendingCall = null;
      if (wanted === panelAlarm()) callFirst();
    }
  });

  const voice = { start, hangUp, toggleMute, callFirst, acceptRinging, refresh, active: () => call,
                  onHold: () => [...held.keys()], remoteStream: null, callId: null, muted: false, last: null,
                  lastTarget: null, pendingTake: null, pendingCall: null };
  window.respons = window.respons || {};
  window.respons.voice = voice;
})();
