// --- conversation screen: files ------------------------------------------------------
if (conv) {
  const id = conv.dataset.conversation;
  const form = $("#composer");
  const textarea = $("#body", form);
  const texts = $("#tpl-text").dataset;
  const photoTexts = $("#tpl-photo")?.dataset || {};
  // Files go up with the resumable upload protocol (docs/attachments.md), in pieces of up to
  // 1 MiB: a lost connection resumes at the offset the server holds, which keeps what arrived. Photos are first shown for editing
  // (26-photo-editor.js) and sent as the edited, resized canvas. The message's Envoyer stays
  // disabled while a file is on its way; files are then sent as attachment_ids. Offline, a file
  // whose upload cannot go on is handed to the outbox with its message instead (defer below).
  const attach = $(".attach", form);
  if (attach) {
    attach.hidden = false;
    const input = $("#files", attach);
    const pending = $(".pending", attach);
    const submit = $("button[type=submit]", form);
    const accepted = input.accept.split(",").filter(Boolean);
    let busy = 0, submitWhenDone = false;
    const working = (delta) => {
      busy += delta;
      submit.disabled = busy > 0;
      if (!busy && submitWhenDone) { submitWhenDone = false; form.requestSubmit(); }
    };
    // No message leaves while a file is on its way, whatever asked for the send (a shortcut too).
    form.addEventListener("submit", (e) => { if (busy) { e.preventDefault(); e.stopImmediatePropagation(); } }, true);
    const pause = (ms) => new Promise((ok) => {
      const t = setTimeout(ok, ms);
      addEventListener("online", () => { clearTimeout(t); ok(); }, { once: true });
    });

    // One request of an upload; job.xhr lets Annuler abort it.
    const request = (job, method, url, body, headers = {}, onprogress = null) => new Promise((ok, fail) => {
      const xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("Accept", "application/json");
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (onprogress) xhr.upload.onprogress = onprogress;
      xhr.onload = () => {
        let r = {};
        try { r = JSON.parse(xhr.responseText || "{}"); } catch { /* not JSON: keep the status */ }
        ok({ status: xhr.status, r });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = () => fail(Object.assign(new Error(texts.uploadFailed), { lost: true }));
      xhr.send(body);
    });
    const failure = (r, status) => Object.assign(new Error(r.detail || String(status)), { status });

    // The resumable upload of a blob: resolves to the attachment, or rejects with the
    // server's words (or job.cancelled set).
    const upload = async (job, blob, name, progress) => {
      let { status, r } = await request(job, "POST", `/api/v1/conversations/${id}/uploads`,
        JSON.stringify({ size: blob.size, name }), { "Content-Type": "application/json" });
      if (status !== 201) throw failure(r, status);
      job.upload = r.id;
      if (job.cancelled) { withdraw(job); throw new Error("cancelled"); }  // Annuler came first
      const piece = r.piece_max_bytes;
      let offset = 0, wait = 500;
      for (;;) {
        if (job.cancelled) throw new Error("cancelled");
        try {
          const from = offset;
          ({ status, r } = await request(job, "PATCH", `/api/v1/uploads/${job.upload}`,
            blob.slice(from, Math.min(from + piece, blob.size)),
            { "Upload-Offset": String(from), "Content-Type": "application/offset+octet-stream" },
            (e) => progress((from + e.loaded) / blob.size)));
          if (status === 201) { job.attachment = r.id; job.upload = null; return r; }
          if (status === 200 && r.attachment_id) { job.attachment = r.attachment_id; job.upload = null; return { id: r.attachment_id }; }
          if (status === 200 || status === 409) { offset = r.offset; wait = 500; progress(offset / blob.size); continue; }
          if (status !== 503 && status !== 0) throw failure(r, status);
          throw Object.assign(new Error(""), { lost: true });
        } catch (err) {
          // Offline by the browser's own word: the outbox takes the file over (defer).
          if (!err.lost || job.cancelled || !navigator.onLine) throw err;
          // Connection lost: wait (or for the network to come back), then ask where it stands
          // before sending anything more.
          progress(offset / blob.size, photoTexts.resuming);
          for (let known = false; !known;) {
            await pause(wait);
            wait = Math.min(wait * 2, 8000);
            if (job.cancelled || !navigator.onLine) throw err;
            try {
              const s = await request(job, "GET", `/api/v1/uploads/${job.upload}`);
              if (s.status === 200 && s.r.attachment_id) { job.attachment = s.r.attachment_id; job.upload = null; return { id: s.r.attachment_id }; }
              if (s.status === 200) { offset = s.r.offset; known = true; }
              else if (s.status !== 503 && s.status !== 0) throw failure(s.r, s.status);
            } catch (again) { if (!again.lost) throw again; }
          }
          progress(offset / blob.size, "");
        }
      }
    };
    // The same upload for the other parts that send a file (27-voice.js): resolves to the
    // attachment ({id, …}) once the last piece is in, resuming after a lost connection;
    // ``progress(fraction, note)`` is told how far it is (``note``: the resuming sentence, then "").
    // A lost connection rejects with ``lost`` set: ``defer(job, blob, name)`` then hands the
    // file to the outbox with the message (``job`` as given to ``upload``, to resume it).
    window.chevet = Object.assign(window.chevet || {}, {
      upload: (blob, name, progress = () => {}, job = {}) => upload(job, blob, name, progress),
      defer: (job, blob, name) => defer(row(name), job, blob, name),
    });
    // Annuler: stop the transfer and remove what the server holds.
    const withdraw = (job) => {
      job.cancelled = true;
      job.xhr?.abort();
      if (job.attachment) fetch(`/api/v1/attachments/${job.attachment}`, { method: "DELETE" });
      else if (job.upload) fetch(`/api/v1/uploads/${job.upload}`, { method: "DELETE" });
    };
    // « Retirer » on a file's row: the transfer stopped, what the server holds removed, the row gone.
    const removeButton = (li, job) => {
      const b = Object.assign(document.createElement("button"), { type: "button", className: "small", textContent: texts.remove });
      b.addEventListener("click", () => { withdraw(job); li.remove(); });
      return b;
    };
    const attached = (li, job, att) => {
      const hidden = Object.assign(document.createElement("input"), { type: "hidden", name: "attachment_ids", value: att.id });
      li.append(hidden, removeButton(li, job));
      textarea.required = false;
    };
    // No network: the file (the edited, resized photo, never the original) goes with the
    // message into the outbox (15-outbox.js), which finishes its upload at the server's offset
    // once the network is back, also after this page is closed. The row carries it to the send.
    const defer = (li, job, blob, name) => {
      li.upload = { blob, name, upload: job.upload || null };
      li.append(` ${outboxTexts().pending || ""} `, removeButton(li, job));
      textarea.required = false;
    };
    const row = (name) => {
      const li = document.createElement("li");
      li.append(Object.assign(document.createElement("span"), { textContent: name }));
      pending.append(li);
      return li;
    };

    // A file sent as it is (PDF, text, or an image the browser cannot decode).
    const sendFile = (file, name = file.name) => {
      const li = row(name);
      const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0 });
      bar.setAttribute("aria-label", name);
      const job = {};
      const stop = removeButton(li, job);
      const note = document.createElement("span");
      li.append(bar, note, stop);
      working(1);
      upload(job, file, name, (f, text) => { bar.value = f; if (text !== undefined) note.textContent = text; })
        .then((att) => { bar.remove(); note.remove(); stop.remove(); attached(li, job, att); })
        .catch((err) => {
          if (job.cancelled) return;
          bar.remove(); stop.remove();
          if (err.lost) { note.remove(); defer(li, job, file, name); } else note.textContent = ` ${texts.uploadFailed} ${err.message}`;
        })
        .finally(() => working(-1));
    };

    // Photos one at a time in the editor; Envoyer uploads the edited photo, then sends the
    // message once the last one is up.
    const photos = [];
    let editing = false;
    const nextPhoto = async () => {
      if (editing || !photos.length) return;
      editing = true;
      const file = photos.shift();
      const job = {};
      let li = null;
      const done = () => { editing = false; nextPhoto(); };
      const editor = await window.chevet.editPhoto(file, {
        onCancel() { withdraw(job); done(); },  // an upload under way ends in onSend's catch
        async onSend(encoded) {
          li = row(file.name);
          working(1);
          let blob;
          try {
            blob = await encoded;
            if (job.cancelled) throw new Error("cancelled");
            const att = await upload(job, blob, file.name, (f, text) => editor.progress(f, text));
            attached(li, job, att);
            editor.close();
            if (!photos.length) submitWhenDone = true;
          } catch (err) {
            if (!job.cancelled) editor.close();
            if (!job.cancelled && err.lost) {
              defer(li, job, blob, file.name);
              if (!photos.length) submitWhenDone = true;
            } else {
              li.remove();
              if (!job.cancelled) row(file.name).append(` ${texts.uploadFailed} ${err.message}`);
            }
          } finally {
            li = null;
            working(-1);
            if (!job.cancelled) done();
          }
        },
      });
      if (!editor) { sendFile(file); done(); }
    };

    input.addEventListener("change", () => {
      for (const file of input.files) {
        if (accepted.length && file.type && !accepted.includes(file.type)) { row(file.name).append(` ${photoTexts.typeRefused}`); continue; }
        if (file.size > Number(attach.dataset.max)) { row(file.name).append(` ${texts.tooBig}`); continue; }
        if (/^image\/(jpeg|png|webp|avif)$/.test(file.type) && window.chevet?.editPhoto) photos.push(file);
        else sendFile(file);
      }
      input.value = "";
      nextPhoto();
    });
  }
}
