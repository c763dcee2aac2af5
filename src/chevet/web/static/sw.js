// Chevet service worker. It caches the application shell only (stylesheet, script, icons and
// the offline page): never a page or a response carrying messages. Pages always come from
// the network; when it is gone, the offline page says so.
const CACHE = "chevet-shell-__VERSION__";
const SHELL = /*SHELL*/[];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== location.origin) return;
  if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(() => caches.match("/offline")));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
  }
});

// Push messages carry no care content: at most a team or group name, chosen by the server.
// A message's notification offers "Répondre" (an inline text field where the browser has one).
// An urgent alert's offers « Je m'en occupe » and « Vu, pas d'action » instead.
function showPush(data) {
  const actions = data.alert ? [{ action: "alert-taken", title: data.take }, { action: "alert-seen", title: data.seen }]
    : data.reply ? [{ action: "reply", title: data.reply, type: "text", placeholder: data.placeholder || "" }] : [];
  return self.registration.showNotification(data.title || "Chevet", {
    body: data.body || "", tag: data.tag || "chevet", renotify: !!data.urgent, actions,
    icon: SHELL.find((u) => u.endsWith("logo.svg")),
    data: { url: data.url || "/", for: data.for || "", ...(data.alert ? { alert: data.alert } : {}) },
  });
}

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = {}; }
  event.waitUntil(showPush(data));
});

// The offline outbox's core, shared with the page (client/15-outbox.js).
/*OUTBOX*/

// A reply typed in the notification joins the outbox of the person it was meant for (and of
// the person last signed in on this browser), then leaves now or with the next sync. Returns
// whether the reply was taken.
async function replyFromNotification(data, text) {
  const path = new URL(data.url || "/", location.origin).pathname;
  const conversation = (path.match(/^\/c\/([0-9a-fA-F-]{36})$/) || [])[1];
  const me = await outboxMe().catch(() => null);
  if (!conversation || !(text || "").trim() || !me || !data.for || me.person !== data.for) return false;
  const item = { person: me.person, conversation, client_id: crypto.randomUUID(), body: text, reply_to: "",
    urgent: false, attachment_ids: [], at: Date.now() };
  await outboxPut(item);
  const sent = await outboxFlush(me.person, me.csrf);
  if (!sent.some((d) => d.item.client_id === item.client_id)) {
    await self.registration.sync?.register("chevet-outbox").catch(() => {});
  }
  return true;
}

// An alert acknowledged from its notification, as the person it was meant for (and the person
// last signed in on this browser). Someone took it first: the notification says who. Returns
// whether the acknowledgement was answered; if not, the conversation opens on the alert.
async function acknowledgeFromNotification(data, ack) {
  const me = await outboxMe().catch(() => null);
  if (!/^[0-9a-fA-F-]{36}$/.test(data.alert || "") || !me || !data.for || me.person !== data.for) return false;
  const body = new URLSearchParams([["csrf", me.csrf], ["ack", ack]]);
  const r = await fetch(`/alertes/${data.alert}/prise-en-charge`, { method: "POST", body, redirect: "manual",
    headers: { Accept: "application/json" }, credentials: "same-origin" }).catch(() => null);
  if (r && r.status === 409) {
    const said = await r.json().catch(() => ({}));
    await self.registration.showNotification("Chevet", { body: said.detail || "", tag: `alert-${data.alert}-done`,
      data: { url: data.url || "/", for: data.for } });
    return true;
  }
  return !!r && r.ok;
}

// What a click on a notification (or on one of its actions) does; the listener below calls it.
async function onNotificationClick(data, action, reply) {
  if (action === "reply" && await replyFromNotification(data, reply)) return;
  if ((action || "").startsWith("alert-") && await acknowledgeFromNotification(data, action.slice(6))) return;
  const target = new URL(data.url || "/", location.origin);
  if (action === "reply") target.hash = "composer";  // no inline text here: the composer, focused
  const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = wins.find((w) => new URL(w.url).pathname === target.pathname);
  if (!open) { await self.clients.openWindow(target.href); return; }
  await open.focus();
  if (action === "reply") open.postMessage({ type: "chevet:compose" });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(onNotificationClick(event.notification.data || {}, event.action, event.reply));
});

// Back online (even with every page closed): what waits in the outbox leaves.
self.addEventListener("sync", (event) => {
  if (event.tag !== "chevet-outbox") return;
  event.waitUntil(outboxMe().then(async (me) => {
    if (!me) return;
    await outboxFlush(me.person, me.csrf);
    const left = (await outboxItems()).filter((i) => i.person === me.person);
    if (left.length) throw new Error("outbox not empty");  // the browser tries again later
  }));
});
