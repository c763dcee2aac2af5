// --- home-screen install prompt (on the conversation list) -------------------------------
// Android Chrome offers installation with ``beforeinstallprompt``: the page keeps the event
// and shows its own short invitation. iOS Safari has no such event: the invitation says how
// to do it by hand (Partager → Sur l'écran d'accueil). "Plus tard" is remembered on this
// device, and nothing shows once Chevet runs installed.
const install = $("[data-install]");
if (install) {
  const KEY = "chevet:install-dismissed";
  const standalone = matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  const ua = navigator.userAgent;
  const iosSafari = /iPhone|iPad|iPod/.test(ua) && /Safari/.test(ua) && !/CriOS|FxiOS|EdgiOS/.test(ua);
  let deferred = null;
  const dismissed = () => { try { return localStorage.getItem(KEY) === "1"; } catch { return false; } };
  const remember = () => { try { localStorage.setItem(KEY, "1"); } catch { /* private mode: ask again next time */ } };
  const show = (ios) => {
    if (standalone || dismissed()) return;
    $("[data-install-how]", install).hidden = !ios;
    $("[data-install-why]", install).hidden = ios;
    $("[data-install-go]", install).hidden = ios;
    install.hidden = false;
  };
  addEventListener("beforeinstallprompt", (e) => { e.preventDefault(); deferred = e; show(false); });
  addEventListener("appinstalled", () => { install.hidden = true; remember(); });
  if (iosSafari) show(true);
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
