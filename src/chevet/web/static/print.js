// The « Imprimer » button of printable console pages (the register): a script file, as the
// Content-Security-Policy allows no inline handler.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
