// Chevet web client: progressive enhancement only. Every page works without this script;
// it adds the live stream, infinite scroll, sending without reload, drafts and Web Push.
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// --- offline notice and service worker -------------------------------------------------
const offline = $("#offline");
const showOffline = () => { if (offline) offline.hidden = navigator.onLine; };
addEventListener("online", showOffline);
addEventListener("offline", showOffline);
showOffline();
if ("serviceWorker" in navigator && document.body.dataset.me) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

// --- small helpers --------------------------------------------------------------------
const csrfOf = (el) => (el && $("input[name=csrf]", el)?.value) || $("input[name=csrf]")?.value || "";
async function post(url, data, csrf) {
  const body = new URLSearchParams(Array.isArray(data) ? [...data, ["csrf", csrf]] : { ...data, csrf });
  const r = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (r.redirected) { location.assign(r.url); throw new Error(r.statusText); }  // signed out meanwhile
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(json.detail || r.statusText), { status: r.status });
  return json;
}
const decodeCursors = (s) => {
  try { return JSON.parse(atob((s || "").replace(/-/g, "+").replace(/_/g, "/"))); } catch { return {}; }
};
const hhmm = (iso) => new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });

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
      if (e.code === 4401) { location.assign("/login"); return; }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  connect();
}

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

  if (!location.hash) scrollTo({ top: document.body.scrollHeight, behavior: "instant" });
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
      a.textContent = `${texts.replyTo} ${target ? $(".author", target).textContent + " : " + $(".body", target).textContent.slice(0, 80) : texts.earlier}`;
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
      const nearBottom = innerHeight + scrollY >= document.body.scrollHeight - 150;
      lastList().append(li);
      if (nearBottom || m.author_id === me) li.scrollIntoView({ block: "end" });
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
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const data = Object.fromEntries(fd);
    const ids = fd.getAll("attachment_ids");
    if (!data.body.trim() && !ids.length) return;
    const button = $("button[type=submit]", form);
    button.disabled = true;
    status.textContent = texts.sending;
    try {
      const m = await post(form.action, [...fd].filter(([k]) => k !== "csrf"), data.csrf);
      place(m);
      textarea.value = "";
      sessionStorage.removeItem(draftKey);
      form.elements.client_id.value = newClientId();
      form.elements.urgent.checked = false;
      cancelReply();
      $$(".pending li", form).forEach((li) => li.remove());
      textarea.required = true;
      status.textContent = "";
    } catch (err) {
      status.textContent = `${texts.failed} ${err.message}`;
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
    $(".replying-text", form).textContent = `${texts.replying.replace("{name}", $(".author", li).textContent)} « ${$(".body", li).textContent.slice(0, 60)} »`;
    replying.hidden = false;
    textarea.focus();
  });

  // Files: uploaded at once with a progress bar (the server cleans and seals them), then
  // sent with the message as attachment_ids.
  const attach = $(".attach", form);
  if (attach) {
    attach.hidden = false;
    const input = $("#files", attach);
    const pending = $(".pending", attach);
    input.addEventListener("change", () => {
      for (const file of input.files) {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = file.name;
        const bar = document.createElement("progress");
        bar.max = 1;
        bar.value = 0;
        bar.setAttribute("aria-label", file.name);
        li.append(name, bar);
        pending.append(li);
        if (file.size > Number(attach.dataset.max)) { bar.remove(); li.append(` ${texts.tooBig}`); continue; }
        const xhr = new XMLHttpRequest();
        xhr.open("POST", `/api/v1/conversations/${id}/attachments`);
        xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
        xhr.onload = () => {
          const r = JSON.parse(xhr.responseText || "{}");
          if (xhr.status !== 201) { bar.remove(); li.append(` ${texts.uploadFailed} ${r.detail || xhr.status}`); return; }
          bar.remove();
          const hidden = Object.assign(document.createElement("input"), { type: "hidden", name: "attachment_ids", value: r.id });
          const remove = Object.assign(document.createElement("button"), { type: "button", className: "small", textContent: texts.remove });
          remove.addEventListener("click", () => { fetch(`/api/v1/attachments/${r.id}`, { method: "DELETE" }); li.remove(); });
          li.append(hidden, remove);
          textarea.required = false;
        };
        xhr.onerror = () => { bar.remove(); li.append(` ${texts.uploadFailed}`); };
        const body = new FormData();
        body.append("file", file);
        xhr.send(body);
      }
      input.value = "";
    });
  }

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

// --- conversation list ----------------------------------------------------------------
const list = $("[data-page=list]");
if (list) {
  const ul = $("#convs");
  const kinds = $("#tpl-kinds").dataset;
  const icons = { care_case: "care", direct: "person", group: "people", team: "team" };
  const addRow = (c) => {
    const li = $("#tpl-conv").content.firstElementChild.cloneNode(true);
    li.dataset.conversation = c.id;
    $("a", li).href = `/c/${c.id}`;
    $("svg", li).setAttribute("aria-label", kinds[c.kind] || "");
    $("use", li).setAttribute("href", `${kinds.icons}#${icons[c.kind] || "chat"}`);
    $(".conv-title", li).textContent = c.title || c.care_case_ref || kinds[c.kind] || "";
    $(".conv-ref", li).textContent = c.kind === "care_case" && c.care_case_ref ? `${kinds.ref} ${c.care_case_ref}` : "";
    ul.prepend(li);
    ul.hidden = false;
    $(".empty", list)?.remove();
    return li;
  };
  stream(decodeCursors(list.dataset.cursors), (ev) => {
    let li = $(`[data-conversation="${ev.conversation_id}"]`, list);
    if (!li && ev.conversation && (ev.type === "conversation.created" || ev.type === "member.added")) {
      addRow(ev.conversation);
      return;
    }
    if (!li || ev.type !== "message" || ev.message.author_id === document.body.dataset.me) return;
    const count = $(".count", li);
    $(".n", count).textContent = String(Number($(".n", count).textContent || 0) + 1);
    count.hidden = false;
    li.classList.add("unread");
    if (ev.message.urgent && !$(".urgent-tag", li)) {
      const tag = document.createElement("span");
      tag.className = "tag urgent-tag";
      tag.textContent = $("#convs").dataset.urgent || "!";
      $(".marks", li).prepend(tag);
      li.classList.add("has-urgent");
    }
    const time = $("time", li);
    time.dateTime = ev.at;
    time.textContent = hhmm(ev.at);
    li.parentElement.prepend(li);
  });
}

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

// --- new conversation: show the fields of the chosen kind, filter people ----------------
const newForm = $("[data-new]");
if (newForm) {
  const sync = () => {
    const kind = newForm.elements.kind.value;
    $$("[data-for]", newForm).forEach((p) => { p.hidden = !p.dataset.for.split(" ").includes(kind); });
    const picker = $("[data-picker]", newForm);
    $$("input[name=members]", newForm).forEach((i) => { i.type = kind === "direct" ? "radio" : "checkbox"; });
    if (picker) picker.hidden = kind === "team";
  };
  newForm.addEventListener("change", (e) => e.target.name === "kind" && sync());
  sync();
}
for (const picker of $$("[data-picker]")) {
  const filter = $("[data-filter]", picker);
  if (!filter) continue;
  filter.parentElement.hidden = false;
  filter.addEventListener("input", () => {
    const q = filter.value.toLowerCase();
    $$(".choices li", picker).forEach((li) => { li.hidden = !li.textContent.toLowerCase().includes(q); });
  });
}

// --- confirmations, sign-out --------------------------------------------------------------
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-confirm]");
  if (b && !confirm(b.dataset.confirm)) e.preventDefault();
});
// Signing out also stops this device's notifications: the next person on a shared computer
// must not receive the previous one's.
$("[data-logout]")?.addEventListener("submit", (e) => {
  sessionStorage.clear();
  if (!("serviceWorker" in navigator)) return;
  e.preventDefault();
  const form = e.target;
  (async () => {
    try {
      const reg = await navigator.serviceWorker.getRegistration();
      const sub = reg && reg.pushManager ? await reg.pushManager.getSubscription() : null;
      if (sub) {
        await post("/account/push", { action: "remove", endpoint: sub.endpoint }, csrfOf(form)).catch(() => {});
        await sub.unsubscribe();
      }
    } catch { /* sign out all the same */ }
    form.submit();
  })();
});

// --- Web Push ----------------------------------------------------------------------------
const push = $("[data-push-key]");
if (push && push.dataset.pushKey && "serviceWorker" in navigator && "PushManager" in window) {
  $(".js-only", push).hidden = false;
  $(".no-js", push).hidden = true;
  const say = (t) => { $("[data-push-status]", push).textContent = t; };
  const key = Uint8Array.from(atob(push.dataset.pushKey.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  push.addEventListener("click", async (e) => {
    const which = e.target.dataset.push;
    if (!which) return;
    try {
      const reg = await navigator.serviceWorker.ready;
      let sub = await reg.pushManager.getSubscription();
      if (which === "on") {
        if ((await Notification.requestPermission()) !== "granted") return;
        sub = sub || await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        const r = await post("/account/push", { endpoint: sub.endpoint, p256dh: b64(sub.getKey("p256dh")), auth: b64(sub.getKey("auth")) }, push.dataset.csrf);
        say(String(r.devices));
      } else if (sub) {
        await post("/account/push", { action: "remove", endpoint: sub.endpoint }, push.dataset.csrf).catch(() => {});
        await sub.unsubscribe();
        say("0");
      }
    } catch (err) { say(err.message); }
  });
}
