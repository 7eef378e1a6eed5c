/* The console's few behaviours (no inline script: strict CSP). htmx does the partial updates. */
(function () {
  "use strict";
  // A button that asks before it acts: data-confirmer="question".
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirmer");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  // After htmx swaps a fragment with an error, move the focus to it (screen readers, keyboard).
  document.addEventListener("htmx:afterSwap", function (event) {
    var alert = event.target.querySelector && event.target.querySelector("[role=alert]");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  });
})();
