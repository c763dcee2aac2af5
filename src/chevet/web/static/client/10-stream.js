// --- the realtime stream --------------------------------------------------------------
// Resumes from the cursors the page was rendered with, so nothing between the render and the
// connection is lost; each conversation's seq arrives once and in order.
// ``onReady`` runs on every (re)connection, once the catch-up is sent: events without a seq
// (delivery states) published before it are not replayed, so a page that shows them reloads them.
function stream(cursors, onEvent, onReady = null) {
  let delay = 1000, ws = null, pinger = null;
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/api/v1/stream`);
    ws.onmessage = (e) => {
      const ev = JSON.parse(e.data);
      if (ev.type === "hello") { ws.send(JSON.stringify({ type: "resume", cursors })); return; }
      if (ev.type === "ready") { delay = 1000; if (onReady) onReady(); return; }
      if (ev.type === "resync") { location.reload(); return; }
      if (ev.conversation_id && typeof ev.seq === "number") {
        if (ev.seq <= (cursors[ev.conversation_id] ?? -1)) return;
        cursors[ev.conversation_id] = ev.seq;
      }
      onEvent(ev);
    };
    ws.onopen = () => { pinger = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000); };
    ws.onclose = (e) => {
      clearInterval(pinger);
      if (e.code === 4401) {  // the session ended: back here after signing in, the draft kept
        signInAgain();
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  connect();
}
