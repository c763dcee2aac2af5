// --- external exchange (MSSanté): mail, receipts and delivery states arrive live ----------
// What MSSanté says of a message (signature, state, receipt questions) is rendered by the
// server; on an event of this exchange the script fetches the messages again and swaps them in.
const exchange = $("[data-page=exchange]");
if (exchange) {
  const id = exchange.dataset.conversation;
  const log = $("#log");
  let timer = null, busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const r = await fetch(`${location.pathname}?fragment=1`, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (r.redirected) { location.assign(r.url); return; }
      if (r.ok) {
        const nearBottom = innerHeight + scrollY >= document.body.scrollHeight - 150;
        log.innerHTML = await r.text();
        if (nearBottom) $("li.msg:last-of-type", log)?.scrollIntoView({ block: "end" });
      }
    } catch { /* offline: the next event or a reload shows it */ }
    busy = false;
    if (again) { again = false; refresh(); }
  };
  stream(decodeCursors(exchange.dataset.cursors), (ev) => {
    if (ev.conversation_id !== id) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }, refresh);
}
