/* What the pages that set up media through Respons share (voice.js: calls; round.js: a
 * camera's picture): a POST with the page's CSRF token, and the wait for ICE gathering.
 *
 *   ResponsSignalling.post(path, body?)   -> fetch's promise (JSON body when given)
 *   ResponsSignalling.csrf()              -> the page's CSRF token ("" when it has none)
 *   ResponsSignalling.gathered(pc)        -> resolves when the SDP holds every candidate (≤ 3 s)
 */
(function () {
  "use strict";

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  function post(path, body) {
    const headers = { "X-CSRF-Token": csrf() };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(path, { method: "POST", credentials: "same-origin", headers, body: body ? JSON.stringify(body) : undefined });
  }

  function gathered(pc) {
    // No trickle: the SDP carries every candidate, so Respons hands the gateway one message.
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
      setTimeout(resolve, 3000);
    });
  }

  window.ResponsSignalling = { csrf, post, gathered };
})();
