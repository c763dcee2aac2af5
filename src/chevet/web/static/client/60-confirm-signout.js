// --- confirmations, sign-out --------------------------------------------------------------
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-confirm]");
  if (b && !confirm(b.dataset.confirm)) e.preventDefault();
});
// Signing out also stops this device's notifications: the next person on a shared computer
// must not receive the previous one's.
$("[data-logout]")?.addEventListener("submit", (e) => {
  sessionStorage.clear();
  if (!("serviceWorker" in navigator)) return;
  e.preventDefault();
  const form = e.target;
  (async () => {
    try {
      const reg = await navigator.serviceWorker.getRegistration();
      const sub = reg && reg.pushManager ? await reg.pushManager.getSubscription() : null;
      if (sub) {
        await post("/account/push", { action: "remove", endpoint: sub.endpoint }, csrfOf(form)).catch(() => {});
        await sub.unsubscribe();
      }
    } catch { /* sign out all the same */ }
    await outboxClear();  // messages still waiting on this device are the signed-out person's
    form.submit();
  })();
});
