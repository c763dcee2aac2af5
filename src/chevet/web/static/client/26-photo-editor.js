// --- conversation screen: photo preview and editor ---------------------------------------
// A chosen photo is drawn on a canvas at most 2048 px long (the browser's decoder applies the
// EXIF orientation; the canvas keeps pixels only, so EXIF and GPS are dropped), shown with
// "Envoyer / Annuler", and can be annotated: arrows, circles, and a blur brush for faces and
// names. What is sent is the canvas, never the chosen file: a blurred area is blurred in the
// uploaded pixels. Pointer events (finger, stylus, mouse); on the keyboard, the arrow keys move
// a cursor over the photo and Enter starts then ends a stroke; Escape cancels.
if (conv) {
  const MAX_SIDE = 2048;
  const TARGET = 300 * 1000;  // bytes: the server's own budget for a stored photo (it re-encodes anyway)
  const texts = $("#tpl-photo")?.dataset;
  const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);

  // A canvas as WebP (JPEG where the browser cannot encode WebP) of at most TARGET bytes:
  // a lower quality first, then fewer pixels, in proportion to the excess.
  const encode = async (canvas) => {
    const as = async (c, q) => {
      const blob = await new Promise((ok) => c.toBlob(ok, "image/webp", q));
      return blob && blob.type === "image/webp" ? blob : new Promise((ok) => c.toBlob(ok, "image/jpeg", q));
    };
    let c = canvas, blob = await as(c, 0.8);
    if (blob.size > TARGET) blob = await as(c, 0.6);
    while (blob.size > TARGET && Math.max(c.width, c.height) > 800) {
      const k = Math.max(0.5, Math.sqrt(TARGET / blob.size) * 0.95);
      const smaller = make("canvas", { width: Math.round(c.width * k), height: Math.round(c.height * k) });
      const sctx = smaller.getContext("2d");
      sctx.imageSmoothingQuality = "high";
      sctx.drawImage(c, 0, 0, smaller.width, smaller.height);
      c = smaller;
      blob = await as(c, 0.6);
    }
    return blob;
  };

  // opts: { onSend(blobPromise), onCancel() }. Returns { progress(fraction, note), close() }, or null
  // when the browser cannot decode the file (it is then uploaded as it is).
  window.chevet = Object.assign(window.chevet || {}, { async editPhoto(file, opts) {
    let bitmap;
    try { bitmap = await createImageBitmap(file, { imageOrientation: "from-image" }); } catch { return null; }
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const base = make("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    const bctx = base.getContext("2d");
    bctx.imageSmoothingQuality = "high";
    bctx.drawImage(bitmap, 0, 0, base.width, base.height);
    bitmap.close?.();
    const W = base.width, H = base.height, unit = Math.max(W, H) / 100;

    const panel = make("div", { className: "photo-panel", role: "dialog" });
    panel.setAttribute("aria-modal", "true");
    panel.setAttribute("aria-label", texts.dialog);
    const canvas = make("canvas", { width: W, height: H, tabIndex: 0, className: "photo-canvas" });
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", texts.canvas);
    const hint = make("p", { className: "hint", textContent: texts.hint });
    const tools = make("div", { className: "photo-tools", role: "toolbar" });
    tools.setAttribute("aria-label", texts.tools);
    let tool = "arrow";
    const toolButtons = ["arrow", "circle", "blur"].map((name) => {
      const b = make("button", { type: "button", className: "small", textContent: texts[name] });
      b.dataset.tool = name;
      b.setAttribute("aria-pressed", String(name === tool));
      b.addEventListener("click", () => {
        tool = name;
        toolButtons.forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
      });
      return b;
    });
    const undo = make("button", { type: "button", className: "small", textContent: texts.undo, disabled: true });
    tools.append(...toolButtons, undo);
    const bar = make("progress", { max: 1, value: 0, hidden: true });
    bar.setAttribute("aria-label", texts.uploading);
    const note = make("p", { className: "photo-note", role: "status" });
    const cancel = make("button", { type: "button", textContent: texts.cancel });
    const send = make("button", { type: "button", className: "primary", textContent: texts.send });
    const actions = make("div", { className: "photo-actions" });
    actions.append(cancel, send);
    panel.append(canvas, hint, tools, bar, note, actions);

    // --- drawing: a list of strokes replayed over the photo -------------------------------
    const ops = [];
    let current = null;
    const ctx = canvas.getContext("2d");
    const blurInto = (pts) => {
      // Halved five times (each pixel the mean of the four below it), then stretched back:
      // the detail is gone from the pixels, not hidden.
      let small = canvas;
      for (let i = 0; i < 5; i++) {
        const half = make("canvas", { width: Math.max(1, Math.round(small.width / 2)), height: Math.max(1, Math.round(small.height / 2)) });
        half.getContext("2d").drawImage(small, 0, 0, half.width, half.height);
        small = half;
      }
      ctx.save();
      ctx.beginPath();
      const r = unit * 5;
      for (let i = 0; i < pts.length; i++) {
        const [ax, ay] = pts[Math.max(0, i - 1)], [bx, by] = pts[i];
        const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / (r / 2)));
        for (let s = 1; s <= steps; s++) {
          const x = ax + ((bx - ax) * s) / steps, y = ay + ((by - ay) * s) / steps;
          ctx.moveTo(x + r, y);
          ctx.arc(x, y, r, 0, Math.PI * 2);
        }
      }
      ctx.clip();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(small, 0, 0, W, H);
      ctx.restore();
    };
    const drawShape = (op) => {
      const [x0, y0] = op.pts[0], [x1, y1] = op.pts[op.pts.length - 1];
      ctx.save();
      ctx.lineWidth = unit * 0.8;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.strokeStyle = "#ffd400";
      ctx.shadowColor = "#000";
      ctx.shadowBlur = unit * 0.6;
      ctx.beginPath();
      if (op.tool === "circle") {
        ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2 + unit, Math.abs(y1 - y0) / 2 + unit, 0, 0, Math.PI * 2);
      } else {
        const a = Math.atan2(y1 - y0, x1 - x0), head = unit * 4;
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
        ctx.moveTo(x1 - head * Math.cos(a - 0.5), y1 - head * Math.sin(a - 0.5));
        ctx.lineTo(x1, y1);
        ctx.lineTo(x1 - head * Math.cos(a + 0.5), y1 - head * Math.sin(a + 0.5));
      }
      ctx.stroke();
      ctx.restore();
    };
    let cursor = null, locked = false;
    const render = () => {
      ctx.drawImage(base, 0, 0);
      for (const op of current ? [...ops, current] : ops) (op.tool === "blur" ? blurInto(op.pts) : drawShape(op));
      undo.disabled = !ops.length;
      if (cursor && document.activeElement === canvas) {  // the keyboard cursor, not part of the photo
        ctx.save();
        ctx.strokeStyle = "#fff";
        ctx.lineWidth = unit * 0.4;
        ctx.strokeRect(cursor[0] - unit * 2, cursor[1] - unit * 2, unit * 4, unit * 4);
        ctx.restore();
      }
    };
    let frame = 0;
    const later = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); }); };
    const at = (e) => {
      const box = canvas.getBoundingClientRect();
      return [((e.clientX - box.left) / box.width) * W, ((e.clientY - box.top) / box.height) * H];
    };
    canvas.addEventListener("pointerdown", (e) => {
      if (locked) return;
      canvas.setPointerCapture(e.pointerId);
      current = { tool, pts: [at(e)] };
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!current) return;
      const p = at(e);
      if (current.tool === "blur") current.pts.push(p); else current.pts[1] = p;
      later();
    });
    const finish = () => {
      if (current && current.pts.length > 1) ops.push(current);
      current = null;
      render();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", () => { current = null; render(); });
    canvas.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? unit * 10 : unit * 2;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      cursor = cursor || [W / 2, H / 2];
      if (moves[e.key]) {
        cursor = [Math.min(W, Math.max(0, cursor[0] + moves[e.key][0])), Math.min(H, Math.max(0, cursor[1] + moves[e.key][1]))];
        if (current) { if (current.tool === "blur") current.pts.push(cursor); else current.pts[1] = cursor; }
      } else if ((e.key === "Enter" || e.key === " ") && !locked) {
        if (current) finish(); else current = { tool, pts: [cursor] };
      } else return;
      e.preventDefault();
      render();
    });
    canvas.addEventListener("focus", render);
    canvas.addEventListener("blur", render);
    undo.addEventListener("click", () => { ops.pop(); render(); });

    // --- Envoyer / Annuler ----------------------------------------------------------------
    const opener = document.activeElement;
    const close = () => {
      panel.remove();
      document.removeEventListener("keydown", onKey, true);
      opener?.focus?.();
    };
    const onKey = (e) => {
      if (e.key === "Escape") { e.preventDefault(); cancel.click(); }
      else if (e.key === "Tab") {  // focus stays in the dialog
        const all = $$("button:not(:disabled), canvas", panel);
        const i = all.indexOf(document.activeElement);
        if (e.shiftKey && i <= 0) { e.preventDefault(); all[all.length - 1].focus(); }
        else if (!e.shiftKey && i === all.length - 1) { e.preventDefault(); all[0].focus(); }
      }
    };
    document.addEventListener("keydown", onKey, true);
    cancel.addEventListener("click", () => { close(); opts.onCancel(); });
    send.addEventListener("click", () => {
      locked = true;
      send.disabled = true;
      tools.hidden = hint.hidden = true;
      cursor = null;
      current = null;
      render();
      opts.onSend(ops.length ? encode(canvas) : unedited);
    });
    render();
    const unedited = encode(base);  // ready by the time Envoyer is pressed, unless edited
    document.body.append(panel);
    toolButtons[0].focus();
    return {
      progress(fraction, text = "") { bar.hidden = false; bar.value = fraction; note.textContent = text; },
      close,
    };
  } });
}
