// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  // A button marked aria-disabled stays focusable (to be heard with its reason) but does nothing.
  if (event.target.closest('[aria-disabled="true"]')) { event.preventDefault(); return; }
  const dismiss = event.target.closest("[data-dismiss]");
  if (dismiss) dismiss.closest(".message").remove();

  const toggle = event.target.closest("[data-menu-toggle]");
  if (toggle) {
    const open = document.body.classList.toggle("menu-open");
    toggle.setAttribute("aria-expanded", String(open));
  }

  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    const text = source.value ?? source.textContent;
    const done = () => { copy.textContent = "Copied"; setTimeout(() => (copy.textContent = "Copy"), 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done, () => { source.select?.(); document.execCommand("copy"); done(); });
    } else { source.select?.(); document.execCommand("copy"); done(); }
  }

  const opener = event.target.closest("[data-dialog-open]");
  if (opener) document.getElementById(opener.dataset.dialogOpen).showModal();
  const closer = event.target.closest("[data-dialog-close]");
  if (closer) closer.closest("dialog").close();
});

document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("[name=csrfmiddlewaretoken]");
  if (token) event.detail.headers["X-CSRFToken"] = token.value;
});

// A table wider than its card scrolls inside it (.table-wrap). Keyboard users can scroll it
// only once it takes focus, and a screen reader then needs its name: the table's caption,
// else the card's heading. Only wraps that really scroll become tab stops, so re-checked
// when the window resizes or htmx swaps content in.
function scrollRegionsFocusable() {
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    const scrolls = wrap.scrollWidth > wrap.clientWidth;
    if (scrolls && !wrap.hasAttribute("tabindex")) {
      const heading = wrap.querySelector("caption") || wrap.closest("section, nav")?.querySelector("h2, h3");
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() : "Table") + " (scrolls sideways)");
      wrap.dataset.scrollFocus = "";
    } else if (!scrolls && "scrollFocus" in wrap.dataset) {
      for (const name of ["tabindex", "role", "aria-label", "data-scroll-focus"]) wrap.removeAttribute(name);
    }
  }
}
scrollRegionsFocusable();  // deferred: the document is parsed
let resizeTimer;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(scrollRegionsFocusable, 150); });
document.addEventListener("htmx:afterSettle", scrollRegionsFocusable);
