// --- Web Push ----------------------------------------------------------------------------
// Every sentence shown comes from the page (the catalogs), never from the browser's errors.
const push = $("[data-push-key]");
if (push && push.dataset.pushKey && "serviceWorker" in navigator && "PushManager" in window) {
  $(".js-only", push).hidden = false;
  $(".no-js", push).hidden = true;
  const say = (t) => { $("[data-push-status]", push).textContent = t; };
  const devices = (n) => { $("[data-push-devices]", push).textContent = push.dataset.devices.replace("{n}", n); };
  const key = Uint8Array.from(atob(push.dataset.pushKey.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  push.addEventListener("click", async (e) => {
    const which = e.target.dataset.push;
    if (!which) return;
    try {
      const reg = await navigator.serviceWorker.ready;
      let sub = await reg.pushManager.getSubscription();
      if (which === "on") {
        if ((await Notification.requestPermission()) !== "granted") { say(push.dataset.denied); return; }
        sub = sub || await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        const r = await post("/account/push", { endpoint: sub.endpoint, p256dh: b64(sub.getKey("p256dh")), auth: b64(sub.getKey("auth")) }, push.dataset.csrf);
        devices(r.devices);
        say(push.dataset.enabled);
      } else {
        if (sub) {
          const r = await post("/account/push", { action: "remove", endpoint: sub.endpoint }, push.dataset.csrf).catch(() => null);
          if (r) devices(r.devices);
          await sub.unsubscribe();
        }
        say(push.dataset.stopped);
      }
    } catch (err) {
      say(err.status === 422 ? err.message : push.dataset.failed);  // 422: the server's own sentence
    }
  });
}
