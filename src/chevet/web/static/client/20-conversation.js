// --- conversation screen --------------------------------------------------------------
const conv = $("[data-page=conversation]");
if (conv) {
  const id = conv.dataset.conversation;
  const me = document.body.dataset.me;
  const log = $("#log");
  const form = $("#composer");
  const textarea = $("#body", form);
  const texts = $("#tpl-text").dataset;
  const names = JSON.parse(conv.dataset.names || "{}");
  const status = $("#live-status");
  const draftKey = `chevet:draft:${id}`;
  const newClientId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
  let readSeq = 0, readTimer = null;

  // Drafts stay in this tab only (sessionStorage), gone when it closes or on sign-out.
  if (!textarea.value) textarea.value = sessionStorage.getItem(draftKey) || "";
  textarea.addEventListener("input", () => sessionStorage.setItem(draftKey, textarea.value));
  textarea.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });

  const renderBody = (p, body) => {
    p.textContent = "";
    let last = 0;
    for (const m of body.matchAll(/@\[([0-9a-fA-F-]{36})\]/g)) {
      p.append(body.slice(last, m.index));
      const s = document.createElement("span");
      s.className = "mention";
      s.textContent = "@" + (names[m[1].toLowerCase()] || "?");
      p.append(s);
      last = m.index + m[0].length;
    }
    p.append(body.slice(last));
  };

  const fill = (li, m) => {
    li.id = `m-${m.seq}`;
    li.dataset.seq = m.seq;
    li.dataset.id = m.id;
    li.classList.toggle("mine", m.author_id === me);
    li.classList.toggle("urgent", !!m.urgent);
    li.classList.toggle("deleted", !!m.deleted);
    const carries = m.deleted || m.body ? "" : filesLabel(m.attachments || []);  // 23-quotes.js
    if (carries) li.dataset.files = carries; else delete li.dataset.files;
    $(".author", li).textContent = m.author_name || "?";
    const time = $("time", li);
    time.dateTime = m.created_at;
    time.textContent = hhmm(m.created_at);
    if (m.urgent && !$(".urgent-tag", li)) {
      const tag = document.createElement("span");
      tag.className = "tag urgent-tag";
      tag.textContent = texts.urgent;
      $(".msg-head", li).append(" ", tag);
    }
    const body = $(".body", li);
    if (m.deleted) {
      body.textContent = texts.deleted;
      body.classList.add("trace");
      $$(".msg-foot", li).forEach((f) => f.remove());
    } else {
      renderBody(body, m.body || "");
    }
    const files = $(".files", li);
    if (files && (m.attachments || []).length && !files.children.length) {
      for (const f of m.attachments) {
        if ((f.mime || "").startsWith("audio/")) { if (!$(`#vl-${f.id}`)) files.before(voicePlayer(f)); continue; }  // 27-voice.js
        const item = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/api/v1/attachments/${f.id}`;
        a.download = f.name;
        a.textContent = f.name;
        if (f.kind === "image" && f.thumbnail) {
          const t = document.createElement("a");
          t.href = `/api/v1/attachments/${f.id}`;
          t.className = "thumb";
          const img = document.createElement("img");
          img.src = `/api/v1/attachments/${f.id}/thumbnail`;
          img.alt = f.name;
          t.append(img);
          item.append(t);
        }
        item.append(a);
        files.append(item);
      }
      files.hidden = false;
    }
    const foot = $(".msg-foot", li);
    if (foot && m.edited && !m.deleted && !$(".edited", foot)) {
      const e = document.createElement("span");
      e.className = "trace edited";
      e.textContent = texts.edited;
      foot.prepend(e);
    }
    if (m.reply_to_seq) {
      const q = $(".quote", li);
      const a = $("a", q);
      const target = $(`#m-${m.reply_to_seq}`);
      a.href = `#m-${m.reply_to_seq}`;
      a.textContent = `${texts.replyTo} ${target ? $(".author", target).textContent + " : " + quoteOf(target, 80) : texts.earlier}`;
      q.hidden = false;
    }
    const reply = $("[data-reply]", li);
    if (reply) { reply.dataset.reply = m.id; reply.href = `/c/${id}?reply=${m.id}#composer`; }
  };

  const lastList = () => {
    const today = texts.today;
    let day = $$(".day", log).pop();
    if (!day || day.dataset.day !== today) {
      day = document.createElement("section");
      day.className = "day";
      day.dataset.day = today;
      day.innerHTML = '<h2 class="day-label"><span></span></h2><ol class="messages"></ol>';
      $("span", day).textContent = today;
      $(".empty-log", log)?.remove();
      log.append(day);
    }
    return $(".messages", day);
  };

  const place = (m) => {
    let li = $(`#m-${m.seq}`);
    if (!li) {
      li = $("#tpl-msg").content.firstElementChild.cloneNode(true);
      fill(li, m);
      lastList().append(li);
      follow.placed(li, m.author_id === me);  // 21-screen.js: in view above the composer, or the pill
      if (m.author_id !== me) status.textContent = texts.new.replace("{name}", m.author_name || "?");
    } else {
      fill(li, m);
    }
    return li;
  };

  const markRead = (seq) => {
    readSeq = Math.max(readSeq, seq);
    if (document.visibilityState !== "visible") return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => post(`/c/${id}/read`, { seq: readSeq }, csrfOf(form)).catch(() => {}), 800);
  };
  document.addEventListener("visibilitychange", () => readSeq && markRead(readSeq));

  stream(decodeCursors(conv.dataset.cursors), (ev) => {
    if (ev.conversation_id !== id) return;
    if (ev.message) { place(ev.message); if (ev.type === "message") markRead(ev.seq); }
    else if (ev.type === "member.added" || ev.type === "member.removed") {
      const li = document.createElement("li");
      li.className = "event";
      li.textContent = (ev.type === "member.added" ? texts.added : texts.removed).replace("{name}", ev.person_name || "?");
      lastList().append(li);
    } else if (ev.type === "care.alert.changed") document.dispatchEvent(new CustomEvent("chevet:alert-changed"));
  });

  // Sending goes through the outbox (15-outbox.js): kept on this device until the server has it.
  document.addEventListener("chevet:sent", (e) => { if (e.detail.item.conversation === id) place(e.detail.message); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const data = Object.fromEntries(fd);
    const ids = fd.getAll("attachment_ids");
    const uploads = $$(".pending li", form).map((li) => li.upload).filter(Boolean);  // offline files (25-attachments.js)
    if (!data.body.trim() && !ids.length && !uploads.length) return;
    const button = $("button[type=submit]", form);
    button.disabled = true;
    status.textContent = texts.sending;
    status.classList.remove("banner", "error", "offline");
    status.classList.add("sr");
    try {
      const m = await queueSend({ conversation: id, client_id: data.client_id, body: data.body,
        reply_to: data.reply_to || "", urgent: data.urgent === "1", alert_for: data.alert_for || "",
        attachment_ids: ids, uploads });
      if (m) place(m);
      if (m && data.alert_for) document.dispatchEvent(new CustomEvent("chevet:alert-raised"));  // 35-alerts.js
      else follow.placed(null, true);  // her own message, waiting on the device: followed into view
      textarea.value = "";
      sessionStorage.removeItem(draftKey);
      form.elements.client_id.value = newClientId();
      form.elements.urgent.checked = false;
      if (form.elements.alert_for) form.elements.alert_for.value = "";
      cancelReply();
      $$(".pending li", form).forEach((li) => li.remove());
      textarea.required = true;
      status.textContent = m ? "" : $("#tpl-outbox").dataset.queued;
      if (!m) { status.classList.remove("sr"); status.classList.add("banner", "offline"); }
    } catch (err) {
      if (err.signedOut) { signInAgain(); return; }
      status.textContent = `${texts.failed} ${err.refused ?? ""}`;
      status.classList.remove("sr");
      status.classList.add("banner", "error");
    } finally {
      button.disabled = false;
      textarea.focus();
    }
  });

  const replying = $(".replying", form);
  const cancelReply = () => { replying.hidden = true; form.elements.reply_to.value = ""; };
  $("[data-cancel-reply]", form).addEventListener("click", (e) => { e.preventDefault(); cancelReply(); });
  log.addEventListener("click", (e) => {
    const a = e.target.closest("[data-reply]");
    if (!a) return;
    e.preventDefault();
    const li = a.closest(".msg");
    form.elements.reply_to.value = a.dataset.reply;
    $(".replying-text", form).textContent = `${texts.replying.replace("{name}", $(".author", li).textContent)} « ${quoteOf(li, 60)} »`;
    replying.hidden = false;
    textarea.focus();
  });

  // Infinite scroll: older pages arrive as server-rendered fragments.
  const older = () => $("[data-older]", log);
  const observer = new IntersectionObserver(async (entries) => {
    const link = older();
    if (!link || !entries.some((x) => x.isIntersecting) || link.dataset.loading) return;
    link.dataset.loading = "1";
    const r = await fetch(`/c/${id}?before=${link.dataset.older}&fragment=1`, { credentials: "same-origin" });
    if (!r.ok) return;
    const tpl = document.createElement("template");
    tpl.innerHTML = await r.text();
    const height = document.body.scrollHeight;
    link.parentElement.remove();
    const firstDay = $(".day", log);
    const lastNew = $$(".day", tpl.content).pop();
    if (firstDay && lastNew && lastNew.dataset.day === firstDay.dataset.day) {
      $(".messages", firstDay).prepend(...$(".messages", lastNew).children);
      lastNew.remove();
    }
    log.prepend(tpl.content);
    scrollBy(0, document.body.scrollHeight - height);
    if (older()) observer.observe(older());
  }, { rootMargin: "200px" });
  if (older()) observer.observe(older());
}
