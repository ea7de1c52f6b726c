/* Respons responder app service worker: makes the app installable (PWA) and shows Web Push
 * offers while the app is closed (docs/messages.md, "Web Push").
 * It deliberately caches nothing: an alarm must never be shown from a stale cache, and
 * without a network the app says so instead of pretending. */
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", () => {});

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: event.data ? event.data.text() : "" }; }
  const shown = self.registration.showNotification(data.title || "Respons", {
    body: data.body || "",
    tag: data.tag || "respons",  // one notification per alarm: a second push replaces it
    renotify: true,
    requireInteraction: true,  // stays until the worker acts: an offer must not slip away
    vibrate: [400, 150, 400, 150, 400],
    data: { url: data.url || "/app" },
  }).then(() => {
    // Shown on this phone: the message is delivered. The message's random id is the key (a
    // service worker woken by a push has no session to send).
    if (data.uid) return fetch("/app/push/" + encodeURIComponent(data.uid) + "/shown", { method: "POST", credentials: "omit" }).catch(() => {});
  });
  event.waitUntil(shown);
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/app";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    for (const client of windows) {
      if (new URL(client.url).pathname.startsWith("/app") && "focus" in client) {
        return client.focus().then((c) => (c && "navigate" in c ? c.navigate(url) : c));
      }
    }
    return self.clients.openWindow(url);
  }));
});
