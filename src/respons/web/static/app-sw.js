/* Respons responder app service worker: makes the app installable (PWA).
 * It deliberately caches nothing: an alarm must never be shown from a stale cache, and
 * without a network the app says so instead of pretending. */
self.addEventListener("install", (event) => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", () => {});
