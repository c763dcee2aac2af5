// --- conversation screen: reply quotes ------------------------------------------------
// What a message without text carries, as app/messaging/previews.py ``files_label`` says it:
// "voice" (a recording among its files), "photo" (only images), "file" (anything else), or ""
// when it has no file at all. Also used by the list's live previews (30-list.js).
function filesLabel(files) {
  if (files.some((f) => (f.mime || "").startsWith("audio/"))) return "voice";
  if (files.length && files.every((f) => f.kind === "image")) return "photo";
  return files.length ? "file" : "";
}

// The words that stand for a message of the page (its <li>) in a reply's quote and in the
// composer's "Réponse à" line, as templates/_quote.html writes them: that it was deleted, the
// start of its text, or what it carries ("Photo", "Message vocal", "Fichier"), never "deleted"
// for a message that only has no text.
function quoteOf(li, n) {
  const texts = $("#tpl-text").dataset;
  if (li.classList.contains("deleted")) return texts.deleted;
  const body = $(".body", li).textContent.trim();
  if (body) return body.slice(0, n);
  const what = li.dataset.files;
  return what === "photo" || what === "voice" || what === "file" ? texts[what] : "";
}
