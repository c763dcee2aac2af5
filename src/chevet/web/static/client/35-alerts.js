// --- urgent alerts ---------------------------------------------------------------------
// « Je m'en occupe » / « Vu, pas d'action » acknowledge without leaving the page; the block is
// then drawn again by the server (the same partial as the page's), as after an alert raised
// from the composer. Without this script the buttons post the form and the page comes back.
const alertsBlock = () => $("#alerts[data-alerts]");
async function alertsRefresh(focusId = "") {
  const block = alertsBlock();
  if (!block) return;
  const r = await fetch(block.dataset.alerts, { credentials: "same-origin" }).catch(() => null);
  if (!r || !r.ok || r.redirected) return;
  const tpl = document.createElement("template");
  tpl.innerHTML = await r.text();
  const fresh = tpl.content.querySelector("#alerts");
  if (!fresh) return;
  block.replaceWith(fresh);
  if (focusId) document.getElementById(focusId)?.focus();
}
document.addEventListener("submit", async (e) => {
  const form = e.target.closest?.("form[data-alert-ack]");
  if (!form) return;
  e.preventDefault();
  const card = form.closest(".alert-card");
  const buttons = $$("button", form);
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await post(form.action, { ack: e.submitter?.value || "taken" }, csrfOf(form));
    await alertsRefresh(card?.id || "");
  } catch (err) {
    buttons.forEach((b) => { b.disabled = false; });
    if (!card) return;
    let note = $(".alert-note", card);
    if (!note) {
      note = document.createElement("p");
      note.className = "alert-note banner error";
      note.setAttribute("role", "alert");
      form.after(note);
    }
    note.textContent = err.message;
  }
});
document.addEventListener("chevet:alert-raised", () => alertsRefresh());
// Escalated or taken elsewhere (the stream, 20-conversation.js): drawn again, the focus kept.
document.addEventListener("chevet:alert-changed", () => {
  const inside = document.activeElement?.closest?.(".alert-card");
  alertsRefresh(inside?.id || "");
});
document.addEventListener("chevet:sent", (e) => { if (e.detail.item?.alert_for) alertsRefresh(); });
