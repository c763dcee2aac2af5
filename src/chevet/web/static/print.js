// The « Imprimer » button of printable console pages (the register, the evidence table): shown
// only when this script runs, since without it the button could do nothing (the browser's own
// print works anyway); a script file, as the Content-Security-Policy allows no inline handler.
for (const button of document.querySelectorAll("button[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
