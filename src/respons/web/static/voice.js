// Voice in the console (docs/voice.md): the browser's own WebRTC, signalled through Respons.
// The browser never speaks to the gateway's API: it sends its offer and the key of whom to
// call, and waits on the call's state (GET /console/calls/{id}, a long poll) for the
// gateway's answer. Media then flows between this browser and the gateway.
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  let call = null;  // { id, alarmId, label, pc, stream, version, state, answeredAt, remoteSet }
  let ticker = null;

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  function panel() { return $("#voice"); }
  function words(key) { const p = panel(); return (p && p.dataset["w" + key]) || ""; }

  function say(text, stateName) {
    const el = $("#voice-state");
    if (!el) return;
    el.textContent = text;
    if (stateName) el.dataset.state = stateName;
  }

  function show(state) {
    const controls = $("#voice-controls"), again = $("#voice-again"), targets = $("#voice-targets");
    const mine = call && panel() && panel().dataset.alarmId === call.alarmId;
    const live = mine && (state === "ringing" || state === "answered" || state === "connecting");
    if (controls) controls.hidden = !live;
    if (targets) targets.hidden = !!live;
    if (again) again.hidden = !(mine && (state === "lost" || state === "failed"));
  }

  function describe(row) {
    const who = call ? call.label : "";
    if (row.state === "failed") return fill(words("Failed"), who) + (row.failure ? " – " + (words("Failure_" + row.failure) || row.failure) : "");
    return fill(words(cap(row.state)), who);
  }
  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
  function fill(text, who) { return (text || "").replace("{who}", who); }

  function clock() {
    const el = $("#voice-clock");
    if (!el || !call || !call.answeredAt) { if (el) el.textContent = ""; return; }
    const s = Math.max(0, Math.round((Date.now() - call.answeredAt) / 1000));
    el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  async function start(targetKey, label) {
    const p = panel();
    if (!p || call) return;
    const alarmId = p.dataset.alarmId;
    call = { id: null, alarmId, label, pc: null, stream: null, version: 0, state: "connecting", remoteSet: false };
    show("connecting");
    say(fill(words("Ringing"), label), "ringing");
    try {
      call.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (e) {
      say(words("No_microphone"), "failed");
      call = null; show("idle");
      return;
    }
    const pc = new RTCPeerConnection({ iceServers: window.respons && window.respons.iceServers || [] });
    call.pc = pc;
    call.stream.getTracks().forEach((track) => pc.addTrack(track, call.stream));
    pc.ontrack = onTrack;
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch("/console/alarms/" + encodeURIComponent(alarmId) + "/calls", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ target: targetKey, sdp: pc.localDescription.sdp }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      finish({ state: "failed", failure: body.error === "voice_unavailable" ? "gateway" : "unreachable" });
      return;
    }
    call.id = (await response.json()).call_id;
    voice.callId = call.id;
    follow(call);
  }

  // An inbound call (the unit calls after its alarm): take it, then answer the gateway's offer.
  async function take(callId, alarmId) {
    if (call) return;
    call = { id: callId, alarmId, label: words("Unit") || "", pc: null, stream: null, version: 0, state: "connecting",
             remoteSet: false, inbound: true };
    voice.callId = callId;
    const incoming = $("#voice-incoming");
    if (incoming) incoming.hidden = true;
    show("connecting");
    const response = await fetch("/console/calls/" + encodeURIComponent(callId) + "/take", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    });
    if (!response.ok) { call = null; show("idle"); refresh(); return; }  // a colleague was first
    try {
      call.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (e) {
      say(words("No_microphone"), "failed");
    }
    follow(call);
  }

  async function answerOffer(current, sdp) {
    const pc = new RTCPeerConnection({ iceServers: window.respons && window.respons.iceServers || [] });
    current.pc = pc;
    if (current.stream) current.stream.getTracks().forEach((track) => pc.addTrack(track, current.stream));
    pc.ontrack = onTrack;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await fetch("/console/calls/" + encodeURIComponent(current.id) + "/answer", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ sdp: pc.localDescription.sdp }),
    });
  }

  function onTrack(event) {
    const audio = $("#voice-audio") || document.body.appendChild(Object.assign(document.createElement("audio"),
      { id: "voice-audio", autoplay: true }));
    audio.srcObject = event.streams[0] || new MediaStream([event.track]);
    voice.remoteStream = audio.srcObject;
  }

  function gathered(pc) {
    // No trickle: the SDP carries every candidate, so Respons hands the gateway one message.
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
      setTimeout(resolve, 3000);
    });
  }

  // A: take the call that rings on the open card; if the card is not open yet, take it when
  // its voice section arrives (A also answers the alarm: console.js).
  function acceptRinging(alarmId) {
    const incoming = $("#voice-incoming");
    if (incoming && !incoming.hidden && panel()) return take(incoming.dataset.callId, panel().dataset.alarmId);
    voice.pendingTake = alarmId || null;
  }

  // The voice section again (a call event on the open alarm), unless a call is on it.
  function refresh() {
    const p = panel();
    if (!p || (call && call.alarmId === p.dataset.alarmId)) return;
    htmx.ajax("GET", "/console/alarms/" + encodeURIComponent(p.dataset.alarmId) + "/voice", { target: "#voice", swap: "innerHTML" });
  }

  async function follow(current) {
    while (call === current) {
      let response;
      try {
        response = await fetch("/console/calls/" + encodeURIComponent(current.id) + "?after=" + current.version,
          { credentials: "same-origin" });
      } catch (e) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (call !== current) return;
      if (!response.ok) { finish({ state: "lost" }); return; }
      const row = await response.json();
      current.version = row.version;
      if (row.sdp && !current.remoteSet) {
        current.remoteSet = true;
        if (current.inbound) await answerOffer(current, row.sdp);
        else await current.pc.setRemoteDescription({ type: "answer", sdp: row.sdp });
      }
      if (row.state === "answered" && !current.answeredAt) {
        current.answeredAt = Date.now();
        ticker = setInterval(clock, 1000);
      }
      current.state = row.state;
      say(describe(row), row.state);
      show(row.state);
      if (row.state === "ended" || row.state === "failed" || row.state === "lost") { finish(row); return; }
    }
  }

  function finish(row) {
    if (!call) return;
    const ended = call;
    if (ended.pc) ended.pc.close();
    if (ended.stream) ended.stream.getTracks().forEach((t) => t.stop());
    clearInterval(ticker); ticker = null;
    call = null;
    voice.last = { alarmId: ended.alarmId, label: ended.label, target: ended.target, state: row.state };
    say(describe(row), row.state);
    const again = $("#voice-again");
    const mine = panel() && panel().dataset.alarmId === ended.alarmId;
    const targets = $("#voice-targets"), controls = $("#voice-controls");
    if (controls) controls.hidden = true;
    if (targets) targets.hidden = false;
    if (again) again.hidden = !(mine && (row.state === "lost" || row.state === "failed"));
  }

  async function hangUp() {
    if (!call) return;
    const current = call;
    if (current.id) {
      await fetch("/console/calls/" + encodeURIComponent(current.id) + "/hangup", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
      }).catch(() => {});
    } else {
      finish({ state: "failed", failure: "cancelled" });
    }
    // The call's state comes back through follow(): ended, or failed (cancelled) if it rang.
  }

  function toggleMute() {
    if (!call || !call.stream) return;
    const track = call.stream.getAudioTracks()[0];
    track.enabled = !track.enabled;
    voice.muted = !track.enabled;
    const button = $("#voice-mute");
    if (button) {
      button.setAttribute("aria-pressed", voice.muted ? "true" : "false");
      button.firstChild.textContent = (voice.muted ? words("Unmute") : words("Mute")) + " ";
    }
  }

  // T: call the first one listed (the alarm unit), or again after a lost or failed call.
  function callFirst() {
    if (call) return;
    const again = $("#voice-again");
    if (again && !again.hidden && voice.lastTarget) return start(voice.lastTarget.key, voice.lastTarget.label);
    const first = $("#voice-targets .voice-call:not([disabled])");
    if (first) first.click();
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
    else if (button.id === "voice-again") callFirst();
    else if (button.id === "voice-take") acceptRinging();
  });

  // The unit said it would call: when its time is up and no call came, the notice shows.
  function watchOverdue() {
    const notice = $("#voice-overdue");
    if (!notice) return;
    const wait = Number(notice.dataset.at) - Date.now();
    setTimeout(() => { if (notice.isConnected && !call) notice.hidden = false; }, Math.max(0, wait));
  }

  // A new voice section (another card, or the same one again): show the call it belongs to.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (!event.detail || !event.detail.target || event.detail.target.id !== "voice") return;
    watchOverdue();
    if (call && panel().dataset.alarmId === call.alarmId) {
      say(describe({ state: call.state === "connecting" ? "ringing" : call.state }), call.state);
      show(call.state);
      const incoming = $("#voice-incoming");
      if (incoming) incoming.hidden = true;
    } else if (voice.pendingTake && voice.pendingTake === panel().dataset.alarmId && $("#voice-incoming")) {
      voice.pendingTake = null;
      acceptRinging();
    }
  });

  const voice = { start, hangUp, toggleMute, callFirst, acceptRinging, refresh, active: () => call, remoteStream: null,
                  callId: null, muted: false, last: null, lastTarget: null, pendingTake: null };
  window.respons = window.respons || {};
  window.respons.voice = voice;
})();
