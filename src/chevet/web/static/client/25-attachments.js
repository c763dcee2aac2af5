// --- conversation screen: files ------------------------------------------------------
if (conv) {
  const id = conv.dataset.conversation;
  const form = $("#composer");
  const textarea = $("#body", form);
  const texts = $("#tpl-text").dataset;
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
}
