// ekakte web app: improvements only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The case number is checked against the configured pattern as one types (the server checks again).
  const number = document.getElementById("nummer");
  const error = document.getElementById("nummer-fehler");
  if (number && error && number.dataset.pattern) {
    const pattern = new RegExp("^(?:" + number.dataset.pattern + ")$");
    const check = () => {
      const value = number.value.trim();
      const wrong = value !== "" && !pattern.test(value);
      error.hidden = !wrong;
      if (wrong) { number.setAttribute("aria-invalid", "true"); } else { number.removeAttribute("aria-invalid"); }
      return !wrong;
    };
    number.addEventListener("input", check);
    number.form.addEventListener("submit", (event) => { if (!check()) { event.preventDefault(); number.focus(); } });
  }
  // Pages turn with the arrow keys (not while typing in a field).
  const previous = document.getElementById("vorige");
  const next = document.getElementById("naechste");
  if (previous || next) {
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) { return; }
      if (event.altKey || event.ctrlKey || event.metaKey) { return; }
      if (event.key === "ArrowLeft" && previous) { previous.click(); }
      if (event.key === "ArrowRight" && next) { next.click(); }
    });
  }
});
