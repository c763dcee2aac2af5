// Chevet web client: progressive enhancement only. Every page works without this script;
// it adds the live stream, infinite scroll, sending without reload, drafts and Web Push.
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// --- offline notice and service worker -------------------------------------------------
const offline = $("#offline");
const showOffline = () => { if (offline) offline.hidden = navigator.onLine; };
addEventListener("online", showOffline);
addEventListener("offline", showOffline);
showOffline();
if ("serviceWorker" in navigator && document.body.dataset.me) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

// --- small helpers --------------------------------------------------------------------
const csrfOf = (el) => (el && $("input[name=csrf]", el)?.value) || $("input[name=csrf]")?.value || "";
async function post(url, data, csrf) {
  const body = new URLSearchParams(Array.isArray(data) ? [...data, ["csrf", csrf]] : { ...data, csrf });
  const r = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (r.redirected) { location.assign(r.url); throw new Error(r.statusText); }  // signed out meanwhile
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(json.detail || r.statusText), { status: r.status });
  return json;
}
const decodeCursors = (s) => {
  try { return JSON.parse(atob((s || "").replace(/-/g, "+").replace(/_/g, "/"))); } catch { return {}; }
};
// The establishment's time, as the server renders it, whatever the device's clock is set to.
const hhmm = (iso) => new Date(iso).toLocaleTimeString(document.documentElement.lang,
  { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Paris" });
// The session ended: sign in again and come back here, where the draft waits (sessionStorage).
const signInAgain = () => location.assign(`/login?${new URLSearchParams({ next: location.pathname + location.search, notice: "session_expired" })}`);
