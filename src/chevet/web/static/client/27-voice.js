// --- conversation screen: voice messages ----------------------------------------------
// Hold the button to record, release to send; slide away (or "Annuler") to drop it. A short
// press (or Enter/Space) starts instead, and a second one stops and sends: holding is not
// possible for everyone. Opus at 16 kbit/s mono, stopped at 2:00 (docs/web-client.md).

// The inline player of a voice attachment (also used by the live rendering of 20-conversation.js):
// nothing is downloaded until it is played.
function voicePlayer(f) {
  const texts = $("#voice")?.dataset || {};
  const s = Math.floor((f.duration_ms || 0) / 1000);
  const p = document.createElement("p");
  p.className = "voice-msg";
  const span = document.createElement("span");
  span.className = "voice-label";
  span.id = `vl-${f.id}`;
  // A file restored from an archive has no stored duration: then the label says only what it is.
  span.textContent = f.duration_ms && texts.label
    ? texts.label.replace("{duration}", `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`)
    : (texts.plain || "");
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "none";
  audio.src = `/api/v1/attachments/${f.id}`;
  audio.setAttribute("aria-labelledby", span.id);
  p.append(span, audio);
  return p;
}

if (conv) {
  const box = $("#voice");
  const form = $("#composer");
  // Chromium records Opus in WebM, Firefox in Ogg. A Safari whose MediaRecorder offers only AAC
  // in MP4 (which the server refuses) does not get the button: the hint says why.
  const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"];
  const type = window.MediaRecorder && navigator.mediaDevices?.getUserMedia
    ? TYPES.find((t) => MediaRecorder.isTypeSupported(t)) : undefined;
  if (box) {
    const t = box.dataset;
    const button = $(".voice-record", box);
    const cancelButton = $(".voice-cancel", box);
    const timer = $(".voice-timer", box);
    const time = $(".voice-time", box);
    const status = $(".voice-status", box);
    const hint = $("#voice-hint", box);
    const pending = $(".voice-pending", box);
    const MAX = Number(t.maxSeconds) * 1000;
    const HOLD = 400;  // a press shorter than this is a tap: recording goes on until the next one
    const EARLY = 250;  // ms before the limit at which a recording is stopped (see ``start``)
    let rec = null;      // { recorder, stream, chunks, started, cancelled, tap, ticker, limit }
    let pressAt = 0;

    const unavailable = (why) => {
      button.hidden = true;
      hint.textContent = why;
      box.classList.add("voice-off");
    };
    box.hidden = false;
    if (!type) unavailable(t.unsupported);
    else navigator.permissions?.query({ name: "microphone" }).then((p) => {
      const check = () => { if (p.state === "denied") unavailable(t.denied); };
      check();
      p.addEventListener("change", check);
    }).catch(() => {});

    const mmss = (ms) => { const s = Math.floor(ms / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };
    const show = (recording) => {
      button.classList.toggle("recording", recording);
      box.classList.toggle("is-recording", recording);
      $(".voice-start-text", button).hidden = recording;
      $(".voice-stop-text", button).hidden = !recording;
      timer.hidden = cancelButton.hidden = !recording;
      if (!recording) time.textContent = "0:00";
    };

    const start = async () => {
      if (rec) return;
      rec = { chunks: [], cancelled: false, tap: false, stopped: false };
      const mine = rec;
      status.textContent = "";
      show(true);
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
      } catch (err) {
        rec = null;
        show(false);
        if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) unavailable(t.denied);
        else status.textContent = t.unsupported;
        return;
      }
      if (mine.stopped) { stream.getTracks().forEach((x) => x.stop()); rec = null; show(false); return; }
      const recorder = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: 16000 });
      Object.assign(mine, { recorder, stream, started: performance.now() });
      recorder.ondataavailable = (e) => { if (e.data.size) mine.chunks.push(e.data); };
      recorder.onstop = () => finish(mine);
      recorder.start(1000);
      status.textContent = t.recording;
      mine.ticker = setInterval(() => { time.textContent = mmss(performance.now() - mine.started); }, 250);
      // At the limit (2:00) it stops and is sent. The sound runs until the stop, and a busy phone
      // fires a timer late: stopping a quarter second early keeps it within the announced limit.
      mine.limit = setTimeout(() => stop(false), MAX - EARLY);
    };

    const stop = (cancelled) => {
      const r = rec;
      if (!r || r.stopped) return;
      r.stopped = true;
      r.cancelled = cancelled;
      if (r.recorder && r.recorder.state !== "inactive") r.recorder.stop();
      else if (!r.recorder) { rec = null; show(false); }  // the microphone had not answered yet
    };

    const finish = async (r) => {
      clearInterval(r.ticker);
      clearTimeout(r.limit);
      r.stream.getTracks().forEach((x) => x.stop());
      const length = performance.now() - r.started;
      rec = null;
      show(false);
      if (r.cancelled) { status.textContent = t.cancelled; return; }
      if (length < 700 || !r.chunks.length) { status.textContent = t.tooShort; return; }
      const blob = new Blob(r.chunks, { type: type.split(";")[0] });
      await send(blob);
    };

    // Upload with the resumable protocol of 25-attachments.js (``window.chevet.upload``: a
    // recording made on a bad link resumes where it stopped), the server checks the Opus packets,
    // blanks any metadata and seals it; then send the message with it, with whatever text is in
    // the composer.
    const send = async (blob) => {
      status.textContent = t.sending;
      const name = blob.type === "audio/ogg" ? "message-vocal.ogg" : "message-vocal.webm";
      const job = {};
      try {
        if (!window.chevet?.upload) throw new Error("");
        const att = await window.chevet.upload(blob, name, (_, note) => {
          if (note !== undefined) status.textContent = note || t.sending;
        }, job);
        const li = document.createElement("li");
        li.append(Object.assign(document.createElement("input"), { type: "hidden", name: "attachment_ids", value: att.id }));
        pending.append(li);
        status.textContent = "";
        $("#body", form).required = false;
        form.requestSubmit();
      } catch (err) {
        if (err.lost) {  // offline: the recording waits in the outbox with the message
          window.chevet.defer(job, blob, name);
          status.textContent = "";
          form.requestSubmit();
          return;
        }
        status.textContent = `${t.failed} ${err.message}`;
      }
    };

    // Pointer (touch, mouse, pen): hold to record; a short press switches to tap mode.
    button.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      button.setPointerCapture(e.pointerId);  // the release reaches the button even if the layout moved
      pressAt = performance.now();
      if (rec && rec.tap) { stop(false); pressAt = 0; return; }
      start();
    });
    button.addEventListener("pointerup", () => {
      if (!pressAt || !rec) return;
      if (performance.now() - pressAt < HOLD) rec.tap = true;
      else stop(false);
      pressAt = 0;
    });
    // Sliding away from the button while holding drops the recording.
    button.addEventListener("pointermove", (e) => {
      if (!pressAt || !rec) return;
      const b = button.getBoundingClientRect();
      const far = 48;
      if (e.clientX < b.left - far || e.clientX > b.right + far || e.clientY < b.top - far || e.clientY > b.bottom + far) {
        pressAt = 0;
        stop(true);
      }
    });
    button.addEventListener("pointercancel", () => { if (pressAt) { pressAt = 0; stop(true); } });
    button.addEventListener("contextmenu", (e) => e.preventDefault());  // a long press is not a menu
    // Keyboard (Enter, Space) and assistive technologies: a click with no pointer behind it toggles.
    button.addEventListener("click", (e) => {
      if (e.detail !== 0) return;  // pointer clicks are handled above
      if (rec) stop(false);
      else { start(); if (rec) rec.tap = true; }  // ``start`` sets ``rec`` before its first wait
    });
    cancelButton.addEventListener("click", () => stop(true));
    box.addEventListener("keydown", (e) => { if (e.key === "Escape" && rec) { e.preventDefault(); stop(true); } });
  }
}
