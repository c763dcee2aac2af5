// --- new conversation: show the fields of the chosen kind, filter people ----------------
const newForm = $("form[data-new]");  // not the conversation page's template texts (data-new)
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
