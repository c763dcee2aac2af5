// --- conversation screen: @mention autocomplete -------------------------------------------
// Typing "@" and the start of a member's name lists the matching members of this conversation
// (arrows, Enter or Tab to choose, Escape to close, or a tap). The choice is written as
// "@Full Name", which the server turns into a mention, exactly as when typed by hand.
if (conv) {
  const form = $("#composer");
  const textarea = $("#body", form);
  const me = document.body.dataset.me;
  const fold = (s) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const members = Object.entries(JSON.parse(conv.dataset.names || "{}"))
    .filter(([id]) => id !== me).map(([id, name]) => ({ id, name, key: fold(name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  // Role addresses (@garde, « Infirmière de garde »): chosen, they are written "@garde", which
  // the server resolves to whoever holds the role when the message is sent.
  for (const r of JSON.parse(conv.dataset.roles || "[]")) {
    members.push({ id: "", name: `${r.label} (@${r.slug})`, insert: r.slug, key: fold(`${r.slug} ${r.label}`) });
  }
  const box = document.createElement("ul");
  box.id = "mention-list";
  box.className = "mentions";
  box.setAttribute("role", "listbox");
  box.setAttribute("aria-label", form.dataset.mentionLabel || "");
  box.hidden = true;
  form.append(box);
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", box.id);
  let start = -1, active = 0, shown = [];

  // The "@…" being typed just before the caret, if any: its start and the folded query.
  const typed = () => {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const at = before.lastIndexOf("@");
    if (at < 0 || (at > 0 && !/\s/.test(before[at - 1]))) return null;
    const query = before.slice(at + 1);
    if (query.length > 40 || /\n/.test(query) || / {2}/.test(query)) return null;
    return { at, query: fold(query) };
  };
  const close = () => {
    box.hidden = true;
    shown = [];
    start = -1;
    textarea.removeAttribute("aria-activedescendant");
  };
  const highlight = (i) => {
    active = (i + shown.length) % shown.length;
    $$("li", box).forEach((li, n) => li.setAttribute("aria-selected", String(n === active)));
    const li = box.children[active];
    textarea.setAttribute("aria-activedescendant", li.id);
    li.scrollIntoView({ block: "nearest" });
  };
  const open = () => {
    const t = typed();
    const found = t ? members.filter((m) => m.key.startsWith(t.query)
      || (!t.query.includes(" ") && m.key.split(/[\s-]+/).some((w) => w.startsWith(t.query)))) : [];
    if (!t || !found.length) { close(); return; }
    start = t.at;
    shown = found.slice(0, 8);
    box.replaceChildren(...shown.map((m, n) => {
      const li = document.createElement("li");
      li.id = `mention-${n}`;
      li.setAttribute("role", "option");
      li.textContent = m.name;
      return li;
    }));
    box.hidden = false;
    highlight(0);
  };
  const choose = (i) => {
    const m = shown[i];
    if (!m || start < 0) return;
    const end = textarea.selectionStart;
    const text = `@${m.insert || m.name} `;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    const caret = start + text.length;
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));  // the draft keeps it
    close();
    textarea.focus();
  };
  textarea.addEventListener("input", open);
  textarea.addEventListener("click", open);
  textarea.addEventListener("blur", () => setTimeout(close, 150));
  textarea.addEventListener("keydown", (e) => {
    if (box.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); highlight(active + (e.key === "ArrowDown" ? 1 : -1)); }
    else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(active); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }
  });
  box.addEventListener("pointerdown", (e) => e.preventDefault());  // the textarea keeps the focus
  box.addEventListener("click", (e) => {
    const li = e.target.closest("[role=option]");
    if (li) choose([...box.children].indexOf(li));
  });
}
