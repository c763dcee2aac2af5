// The console's operations page: while an operation is queued or running, ask for the list
// every 2 s and update the bars, states, sizes and download links in place (no reload).
const list = document.querySelector(".ops-list[data-poll]");
const busy = (state) => state === "queued" || state === "running";

function show(item, row) {
  item.dataset.state = row.state;
  const bar = item.querySelector("progress");
  bar.value = row.percent;
  bar.textContent = row.percent_text;
  item.querySelector(".ops-state").textContent = `${row.state_text} — ${row.percent_text}`;
  for (const [cls, value] of [["ops-size", row.size], ["ops-expires", row.expires]]) {
    const p = item.querySelector(`.${cls}`);
    p.hidden = !value;
    p.querySelector("span").textContent = value;
  }
  const link = item.querySelector(".ops-download");
  link.hidden = !row.download;
  if (row.download) link.querySelector("a").href = row.download;
}

async function poll() {
  try {
    const answer = await fetch(list.dataset.poll, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    if (!answer.ok) return;
    const {operations} = await answer.json();
    for (const row of operations) {
      const item = list.querySelector(`[data-id="${row.id}"]`);
      if (item) show(item, row);
    }
  } catch {
    // offline for a moment: the next tick tries again
  }
  if ([...list.querySelectorAll("[data-state]")].some((li) => busy(li.dataset.state))) setTimeout(poll, 2000);
}

if (list && [...list.querySelectorAll("[data-state]")].some((li) => busy(li.dataset.state))) setTimeout(poll, 2000);
