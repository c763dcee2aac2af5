// --- forms sent once -----------------------------------------------------------------------
// A form marked data-once (a synthesis to a GP…) does not leave twice on a double tap: once its
// sending button has been pressed, further submissions wait for the page. The server
// recognises the same form sent again all the same (its client id).
document.addEventListener("submit", (e) => {
  const form = e.target.closest("form[data-once]");
  if (!form || !e.submitter || e.submitter.value !== form.dataset.once) return;
  if (form.dataset.sending) { e.preventDefault(); return; }
  form.dataset.sending = "1";
  e.submitter.setAttribute("aria-disabled", "true");
});
// Back to the page from the history: it may be sent again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-once][data-sending]")) {
    delete form.dataset.sending;
    form.querySelector("[aria-disabled=true]")?.removeAttribute("aria-disabled");
  }
});
