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
  // The last message's preview, as the server writes it (only when the organisation shows previews).
  const setPreview = (li, m) => {
    const texts = ul.dataset;
    if (!texts.preview || m.deleted) return;
    const files = m.attachments || [];
    const body = (m.body || "").replace(/@\[[0-9a-fA-F-]{36}\]/g, "@…").replace(/\s+/g, " ").trim();
    const what = body ? (body.length > 90 ? body.slice(0, 90) + "…" : body) : texts[filesLabel(files)] || "";  // 23-quotes.js
    if (!what) return;
    const who = m.author_id === document.body.dataset.me ? texts.you : (m.author_name || "?").split(" ")[0];
    let span = $(".conv-preview", li);
    if (!span) {
      span = document.createElement("span");
      span.className = "conv-preview";
      $(".conv-main", li).append(span);
    }
    span.textContent = texts.preview.replace("{name}", who) + what;
  };
  stream(decodeCursors(list.dataset.cursors), (ev) => {
    let li = $(`[data-conversation="${ev.conversation_id}"]`, list);
    if (!li && ev.conversation && (ev.type === "conversation.created" || ev.type === "member.added")) {
      addRow(ev.conversation);
      return;
    }
    if (li && ev.type === "message") setPreview(li, ev.message);
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
