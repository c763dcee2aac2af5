// Invitation: copy the link the administrator hands over (clipboard, or select-and-copy
// where the Clipboard API is missing, as on plain http).
{
  const input = $("[data-invite-link]");
  const button = $("[data-copy-invite]");
  if (input && button) {
    const said = $("[data-copy-status]");
    button.hidden = false;
    button.addEventListener("click", async () => {
      let done = false;
      try {
        if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(input.value); done = true; }
      } catch { done = false; }
      if (!done) {
        input.focus();
        input.select();
        try { done = document.execCommand("copy"); } catch { done = false; }
      }
      if (said) said.textContent = done ? button.dataset.done : "";
    });
  }
}
