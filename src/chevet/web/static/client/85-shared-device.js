// --- shared devices ------------------------------------------------------------------------
// On a unit's shared tablet the page carries a « Verrouiller » form ([data-shared-lock]) with
// the establishment's idle delay. After that delay without a touch, a key or a scroll, or at a
// tap on it, this device forgets the person before the form leaves: her drafts
// (sessionStorage), her offline outbox (IndexedDB), the cached shell, her notifications. The
// server ends her session and answers Clear-Site-Data as well, and the lock screen
// ([data-shared-forget]) forgets again on arrival: nothing of hers is left for the next person.
async function sharedForget(csrf) {
  try { sessionStorage.clear(); } catch { /* private mode */ }
  try {  // her notifications stop on this device: the next person must not receive them
    const reg = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration() : null;
    const sub = reg && reg.pushManager ? await reg.pushManager.getSubscription() : null;
    if (sub) {
      if (csrf) await post("/account/push", { action: "remove", endpoint: sub.endpoint }, csrf).catch(() => {});
      await sub.unsubscribe();
    }
  } catch { /* locks all the same */ }
  await outboxClear();
  try { indexedDB.deleteDatabase("chevet-outbox"); } catch { /* nothing stored */ }
  try { if ("caches" in self) for (const k of await caches.keys()) await caches.delete(k); } catch { /* none */ }
}
const sharedLock = $("[data-shared-lock]");
if (sharedLock) {
  const idle = Math.max(60, Number(sharedLock.dataset.idleSeconds) || 180) * 1000;
  let timer = 0;
  let pinged = Date.now();
  let locking = false;
  const lockNow = async () => {
    if (locking) return;
    locking = true;
    await sharedForget(csrfOf(sharedLock));
    HTMLFormElement.prototype.submit.call(sharedLock);
  };
  const arm = () => { clearTimeout(timer); timer = setTimeout(lockNow, idle); };
  // She is still there (typing a long note): the server's idle lock moves with the page's.
  const stillHere = () => {
    if (Date.now() - pinged < 50_000) return;
    pinged = Date.now();
    fetch("/appareil/actif", { credentials: "same-origin", cache: "no-store" })
      .then((r) => { if (r.status === 401) lockNow(); }).catch(() => {});
  };
  for (const ev of ["pointerdown", "keydown", "wheel", "touchstart", "scroll"]) {
    addEventListener(ev, () => { arm(); stillHere(); }, { passive: true, capture: true });
  }
  sharedLock.addEventListener("submit", (e) => { e.preventDefault(); lockNow(); });
  arm();
}
if ($("[data-shared-forget]")) sharedForget();
