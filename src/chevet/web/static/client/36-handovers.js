// --- handovers: « Lu, je reprends » confirms the note without leaving the page ------------
// Without this script the form posts and the page comes back; with it, the card says at once
// who took the note up. Any failure falls back to the form itself (the server answers in words).
$$("[data-page=handovers] form.confirm").forEach((form) => form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("button", form);
  if (button) button.disabled = true;
  try {
    const done = await post(form.action, {}, csrfOf(form));
    const state = document.createElement("p");
    state.className = "state";
    state.setAttribute("role", "status");
    state.textContent = done.text;
    form.replaceWith(state);
  } catch {
    form.submit();
  }
}));
