// --- home-screen install prompt (on the conversation list) -------------------------------
// Android Chrome offers installation with ``beforeinstallprompt``: the page keeps the event
// and shows its own short invitation. iOS Safari has no such event: the invitation says how
// to do it by hand (Partager → Sur l'écran d'accueil). Chrome on Android sends none either
// when it judges the page not installable yet or the person refused its prompt before: after
// a moment without one, the invitation says where Chrome's menu keeps it (an event arriving
// later brings the button back). "Plus tard" is remembered on this device, and nothing shows
// once Chevet runs installed.
const install = $("[data-install]");
if (install) {
  const KEY = "chevet:install-dismissed";
  const standalone = matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  const ua = navigator.userAgent;
  const iosSafari = /iPhone|iPad|iPod/.test(ua) && /Safari/.test(ua) && !/CriOS|FxiOS|EdgiOS/.test(ua);
  const android = /Android/.test(ua);
  const WAIT = 3000;  // ms: Chrome sends its event within about a second of loading, when it does
  let deferred = null, offered = false;
  const dismissed = () => { try { return localStorage.getItem(KEY) === "1"; } catch { return false; } };
  const remember = () => { try { localStorage.setItem(KEY, "1"); } catch { /* private mode: ask again next time */ } };
  // how: "prompt" (the browser's own dialog behind the button), "ios" or "android" (written steps).
  const show = (how) => {
    if (standalone || dismissed()) return;
    for (const text of $$("[data-install-how]", install)) text.hidden = text.dataset.installHow !== how;
    $("[data-install-go]", install).hidden = how !== "prompt";
    install.hidden = false;
  };
  addEventListener("beforeinstallprompt", (e) => { e.preventDefault(); deferred = e; offered = true; show("prompt"); });
  addEventListener("appinstalled", () => { install.hidden = true; remember(); });
  if (iosSafari) show("ios");
  else if (android) setTimeout(() => { if (!offered) show("android"); }, WAIT);
  $("[data-install-go]", install).addEventListener("click", async () => {
    install.hidden = true;
    if (!deferred) return;
    const e = deferred;
    deferred = null;
    try {
      await e.prompt();
      if ((await e.userChoice)?.outcome !== "accepted") remember();
    } catch { /* the browser refused to prompt: the invitation comes back next time */ }
  });
  $("[data-install-later]", install).addEventListener("click", () => { install.hidden = true; remember(); });
}
