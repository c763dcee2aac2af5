// --- offline outbox ------------------------------------------------------------------------
// A message leaves the composer into the outbox first: it waits on this device (IndexedDB
// "chevet-outbox") until the server has it, across reloads and closed pages, and is sent once
// (the server deduplicates by client_id if a retry crosses a lost answer).
//
// For other parts (the photo and file upload too):
//   queueSend(item) -> Promise of the server's message, or null when it stays queued (no
//     network, server unavailable: it leaves by itself later). Rejects with
//     { refused: "<French sentence>" } when the server refused it for good (it is dropped).
//     item = { conversation, client_id, body, reply_to?, urgent?, attachment_ids?, uploads? } where
//     attachment_ids are already uploaded and uploads = [{ blob, name, upload? }] are files still
//     to go up (handed over when the connection was lost; upload: the server's id if created).
//   outboxFlush(person, csrf) sends every waiting item of that person, oldest first.
//   outboxClear() forgets everything queued on this device (sign-out).
// A "chevet:sent" event on document ({ item, message }) tells a page that a queued item left;
// "chevet:outbox" that the queue changed. Items are per person: each records who wrote it,
// only that person's pages show or send it, and another person's page deletes it.
// The part between the outbox-core markers is also served inside /sw.js (reply from a
// notification, background sync): it uses nothing but IndexedDB and fetch.
// <outbox-core>
const outboxDb = () => new Promise((ok, ko) => {
  const r = indexedDB.open("chevet-outbox", 1);
  r.onupgradeneeded = () => { r.result.createObjectStore("items", { keyPath: "client_id" }); r.result.createObjectStore("meta"); };
  r.onsuccess = () => ok(r.result);
  r.onerror = () => ko(r.error);
});
const outboxTx = async (store, mode, work) => {
  const db = await outboxDb();
  return new Promise((ok, ko) => {
    const tx = db.transaction(store, mode);
    const req = work(tx.objectStore(store));
    tx.oncomplete = () => { db.close(); ok(req.result); };
    tx.onerror = tx.onabort = () => { db.close(); ko(tx.error); };
  });
};
const outboxItems = () => outboxTx("items", "readonly", (s) => s.getAll());
const outboxPut = (item) => outboxTx("items", "readwrite", (s) => s.put(item));
const outboxDrop = (clientId) => outboxTx("items", "readwrite", (s) => s.delete(clientId));
// Updates an item still queued; one sent, refused or cleared (sign-out) meanwhile stays gone.
const outboxKeep = (item) => outboxTx("items", "readwrite", (s) => {
  const got = s.get(item.client_id);
  got.onsuccess = () => { if (got.result) s.put(item); };
  return got;
});
const outboxMe = () => outboxTx("meta", "readonly", (s) => s.get("me"));  // { person, csrf } of the last page
// What a refusing answer means for an item: wait (null), her session ended, or never.
const outboxVerdict = (status, r) => (status === 401 ? { signedOut: true }
  : status >= 500 || [403, 408, 409, 429].includes(status) ? null : { refused: r.detail || "" });
// One file of an item up with the resumable protocol (docs/attachments.md), resuming at the
// offset the server holds: { id } of the attachment, or the answer that stopped it. The upload
// id is kept in the item as soon as it exists, so that a reload or the service worker resumes
// it; an upload created twice (its answer lost before it was kept) is only an orphan, which
// the server's upload expiry removes, never a second file in the conversation.
async function outboxUpload(item, u) {
  const call = (method, url, body, headers = {}) => fetch(url, { method, body, credentials: "same-origin",
    headers: { Accept: "application/json", ...headers } }).then(async (r) => ({ status: r.status, r: await r.json().catch(() => ({})) }));
  let s = u.upload ? await call("GET", `/api/v1/uploads/${u.upload}`) : { status: 404 };
  for (;;) {
    if (s.status === 404 || s.status === 410) {  // not created yet, or forgotten by the server: from zero
      const made = await call("POST", `/api/v1/conversations/${item.conversation}/uploads`,
        JSON.stringify({ size: u.blob.size, name: u.name }), { "Content-Type": "application/json" });
      if (made.status !== 201) return made;
      u.upload = made.r.id;
      await outboxKeep(item).catch(() => {});
      s = { status: 200, r: made.r };
    }
    if (s.status === 201 || s.r.attachment_id) return { id: s.r.attachment_id || s.r.id };  // complete
    if (s.status !== 200 && s.status !== 409) return s;
    const at = s.r.offset;
    u.piece = s.r.piece_max_bytes || u.piece || 1 << 20;
    s = await call("PATCH", `/api/v1/uploads/${u.upload}`, u.blob.slice(at, at + u.piece),
      { "Upload-Offset": String(at), "Content-Type": "application/offset+octet-stream" });
  }
}
// One attempt. { message } once the server has it, { refused: detail } when it never will,
// null when it must wait: no network, signed out meanwhile, an expired form, server trouble.
// Files still to upload go first; each attachment is recorded in the item (and its blob
// dropped) before the next, so a retry never uploads a file again, and the message names them
// all. The server deduplicates the message by client_id: a retry never makes a second one.
async function outboxDeliver(item, csrf) {
  let r;
  try {
    while (item.uploads?.length) {
      const s = await outboxUpload(item, item.uploads[0]);
      if (!s.id) return outboxVerdict(s.status, s.r);
      item.attachment_ids = [...(item.attachment_ids || []), s.id];
      item.uploads = item.uploads.slice(1);
      await outboxKeep(item).catch(() => {});
    }
    const body = new URLSearchParams([["csrf", csrf], ["client_id", item.client_id], ["body", item.body || ""],
      ["reply_to", item.reply_to || ""], ...(item.urgent ? [["urgent", "1"]] : []),
      ...(item.alert_for ? [["alert_for", item.alert_for]] : []),  // who must act (35-alerts.js)
      ...(item.attachment_ids || []).map((a) => ["attachment_ids", a])]);
    r = await fetch(`/c/${item.conversation}/send`, { method: "POST", body, redirect: "manual",
      headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch { return null; }
  if (r.ok) return { message: await r.json().catch(() => null) };
  if (r.type === "opaqueredirect") return { signedOut: true };
  return outboxVerdict(r.status, await r.json().catch(() => ({})));
}
let outboxBusy = null;
// Sends what waits for `person`, in order; stops at the first item that must wait.
function outboxFlush(person, csrf) {
  outboxBusy = (outboxBusy || Promise.resolve()).then(async () => {
    const done = [];
    const mine = (await outboxItems()).filter((i) => i.person === person).sort((a, b) => a.at - b.at);
    for (const item of mine) {
      const res = await outboxDeliver(item, csrf);
      if (res?.signedOut) { done.signedOut = true; break; }  // waits for her next sign-in
      if (!res) break;
      await outboxDrop(item.client_id);
      done.push({ item, ...res });
    }
    return done;
  }).catch(() => []);
  return outboxBusy;
}
// </outbox-core>

const outboxClear = () => outboxTx("items", "readwrite", (s) => s.clear())
  .then(() => outboxTx("meta", "readwrite", (s) => s.clear())).catch(() => {});

const outboxPerson = document.body.dataset.me || "";
const outboxTexts = () => $("#tpl-outbox")?.dataset || {};
const outboxChanged = () => document.dispatchEvent(new CustomEvent("chevet:outbox"));

// What left (or was refused) while draining the queue, told to the page; `mine` is left out
// (the composer that queued it reports it itself).
const outboxReport = (done, mine = null) => {
  const status = $("#live-status");
  for (const d of done.filter((x) => x.item.client_id !== mine)) {
    if (d.message) document.dispatchEvent(new CustomEvent("chevet:sent", { detail: d }));
    if (d.refused !== undefined && status) {  // dropped: say so where the composer speaks
      status.textContent = `${$("#tpl-text")?.dataset.failed || ""} ${d.refused || outboxTexts().refusedUnknown || ""}`;
      status.classList.remove("sr", "offline");
      status.classList.add("banner", "error");
    } else if (d.message && status?.classList.contains("offline")) {  // "not sent yet" no longer holds
      status.textContent = "";
      status.classList.remove("banner", "offline");
      status.classList.add("sr");
    }
  }
  outboxChanged();
};

async function queueSend(item) {
  const queued = { ...item, person: outboxPerson, at: Date.now(), attachment_ids: item.attachment_ids || [] };
  let res;
  if (await outboxPut(queued).then(() => true, () => false)) {
    // Behind whatever already waits, so that messages arrive in the order they were written.
    const done = await outboxFlush(outboxPerson, csrfOf());
    outboxReport(done, queued.client_id);
    res = done.find((d) => d.item.client_id === queued.client_id);
    if (!res && done.signedOut) {  // not offline: her session ended. The text stays a draft,
      await outboxDrop(queued.client_id).catch(() => {});  // never sent behind her back
      throw { signedOut: true };
    }
    if (!res) {  // shown as waiting only once it could not leave
      navigator.serviceWorker?.ready.then((reg) => reg.sync?.register("chevet-outbox")).catch(() => {});
      return null;
    }
  } else {  // no IndexedDB (some private modes): sent now or not at all
    res = await outboxDeliver(queued, csrfOf());
    if (res?.signedOut) throw { signedOut: true };
    if (!res) throw { refused: outboxTexts().offline || "" };
  }
  if (res.refused !== undefined) throw { refused: res.refused || outboxTexts().refusedUnknown || "" };
  return res.message;
}

const outboxSendWaiting = async () => {
  if (outboxPerson && navigator.onLine) outboxReport(await outboxFlush(outboxPerson, csrfOf()));
};

// What waits in this conversation, shown after its messages as "en attente".
const outboxShow = async () => {
  const page = $("[data-page=conversation]"), log = $("#log");
  if (!page || !log) return;
  const waiting = (await outboxItems().catch(() => []))
    .filter((i) => i.person === outboxPerson && i.conversation === page.dataset.conversation)
    .sort((a, b) => a.at - b.at);
  let list = $("ol.outbox", log);
  if (!waiting.length) { list?.remove(); return; }
  if (!list) {
    list = document.createElement("ol");
    list.className = "messages outbox";
    list.setAttribute("aria-label", outboxTexts().list || "");
  }
  log.append(list);  // always after the messages already there
  list.replaceChildren(...waiting.map((i) => {
    const li = document.createElement("li");
    li.className = "msg mine waiting";
    li.dataset.clientId = i.client_id;
    const head = document.createElement("p");
    head.className = "msg-head";
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = outboxTexts().pending || "";
    head.append(tag);
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = i.body;
    li.append(head, body, ...(i.uploads || []).map(outboxFile));
    return li;
  }));
};

// A file waiting with its message: its name, and for a photo a small preview drawn from the
// stored blob (on a canvas: the pages' CSP takes no blob: image).
const outboxFile = (u) => {
  const p = document.createElement("p");
  p.className = "file-waiting";
  if (u.blob.type.startsWith("image/")) {
    const c = document.createElement("canvas");
    c.setAttribute("aria-hidden", "true");  // the name says it
    createImageBitmap(u.blob, { resizeHeight: 96, resizeQuality: "medium" }).then((b) => {
      Object.assign(c, { width: b.width, height: b.height }).getContext("2d").drawImage(b, 0, 0);
      b.close();
    }, () => c.remove());
    p.append(c, " ");
  }
  p.append(u.name);
  return p;
};

if (outboxPerson && "indexedDB" in window) {
  let showing = Promise.resolve();  // one rendering at a time, each from the queue as it is then
  document.addEventListener("chevet:outbox", () => { showing = showing.then(outboxShow, outboxShow); });
  (async () => {
    // Another person's waiting messages never stay on a page of this one.
    const items = await outboxItems().catch(() => []);
    await Promise.all(items.filter((i) => i.person !== outboxPerson).map((i) => outboxDrop(i.client_id).catch(() => {})));
    // A page without a form (the conversation list) keeps the token an earlier page of hers left.
    const before = await outboxMe().catch(() => null);
    const csrf = csrfOf() || (before?.person === outboxPerson ? before.csrf : "");
    await outboxTx("meta", "readwrite", (s) => s.put({ person: outboxPerson, csrf }, "me")).catch(() => {});
    outboxChanged();
    await outboxSendWaiting();
  })();
  addEventListener("online", outboxSendWaiting);
} else if (!outboxPerson && new URLSearchParams(location.search).get("notice") === "signed_out" && "indexedDB" in window) {
  outboxClear();
}

// The offline page (a reload without network): how many messages still wait, never their text.
const outboxCount = $("[data-outbox-count]");
if (outboxCount && "indexedDB" in window) {
  Promise.all([outboxMe(), outboxItems()]).then(([me, items]) => {
    const n = items.filter((i) => me && i.person === me.person).length;
    if (!n) return;
    outboxCount.textContent = n === 1 ? outboxCount.dataset.outboxOne : outboxCount.dataset.outboxCount.replace("{n}", n);
    outboxCount.hidden = false;
  }).catch(() => {});
}

// "Répondre" on a notification of a browser without inline replies: the composer, focused.
const outboxCompose = () => { const t = $("#composer textarea"); if (t) t.focus(); };
// (after the load: Chromium's scroll to the #composer fragment takes the focus away)
if (location.hash === "#composer") addEventListener("load", () => setTimeout(outboxCompose, 0));
navigator.serviceWorker?.addEventListener("message", (e) => { if (e.data?.type === "chevet:compose") outboxCompose(); });
