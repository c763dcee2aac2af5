// The print button of printable console pages (the evidence table): shown only when this
// script runs, since without it the button could do nothing; the browser's own print works anyway.
for (const button of document.querySelectorAll("button[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
