// --- conversation screen: new messages are never hidden by the composer -------------------
// While the reader is at the bottom, the page follows the newest message, also when it grows
// later (a thumbnail loading, the composer opening, the phone's keyboard). Scrolled up, a new
// message from someone else brings the "Nouveaux messages ↓" pill (in a status region, so it
// is announced); the pill scrolls to it and goes away. ``follow.placed`` is called by
// 20-conversation.js for every message it adds.
const follow = (() => {
  if (!conv) return { placed() {} };
  const log = $("#log");
  const form = $("#composer");
  const pill = $("#new-pill");
  let unseen = null;
  const root = document.documentElement;
  const atBottom = () => root.scrollHeight - (scrollY + innerHeight) < 80;
  const toBottom = () => scrollTo({ top: root.scrollHeight, behavior: "instant" });
  // Seen: below the conversation's header and above the composer.
  const seen = (li) => {
    const r = li.getBoundingClientRect();
    return r.bottom <= form.getBoundingClientRect().top + 1 && r.top >= 0;
  };
  const hidePill = () => { pill.hidden = true; unseen = null; };
  let stuck = !location.hash;
  if (stuck) toBottom();
  // Only a scroll up lets go of the bottom: the page growing under a scroll event (a banner, the
  // composer opening, a waiting message drawn) must not, or the newest line ends under the composer.
  let lastY = scrollY;
  addEventListener("scroll", () => {
    if (atBottom()) stuck = true;
    else if (scrollY < lastY) stuck = false;
    lastY = scrollY;
    if (stuck || (unseen && seen(unseen))) hidePill();
  }, { passive: true });
  const keep = () => { if (stuck) toBottom(); };
  const grows = new ResizeObserver(keep);
  grows.observe(log);
  grows.observe(form);
  addEventListener("resize", keep);
  // A tap must not move the focus (the composer would open under the finger and the tap miss).
  pill.addEventListener("pointerdown", (e) => e.preventDefault());
  // Nor may a tap on the composer's own controls (Joindre, the microphone, Envoyer, Urgent)
  // while she types: the composer would close under the finger, the tap land where the control
  // was, and the phone's keyboard drop.
  form.addEventListener("pointerdown", (e) => {
    if (e.target.closest("label, button") && form.contains(document.activeElement)) e.preventDefault();
  });
  pill.addEventListener("click", () => {
    const first = unseen;
    hidePill();
    stuck = true;
    toBottom();
    if (first) { first.tabIndex = -1; first.focus({ preventScroll: true }); }
  });
  return {
    placed(li, mine) {
      if (mine || stuck) { stuck = true; toBottom(); return; }
      if (!seen(li)) { unseen = unseen || li; pill.hidden = false; }
    },
  };
})();

// The care case's title stays on one line on a phone; a tap shows it whole (screen readers
// always read it whole).
if (conv) {
  const title = $("[data-full-title]", conv);
  title?.addEventListener("click", () => title.classList.toggle("full"));
}
