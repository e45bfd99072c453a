// Portal behaviour that htmx attributes cannot express. Loaded as a file: the CSP forbids inline script.
(function () {
  "use strict";
  // Move focus to the first invalid field after an htmx swap re-renders a form with errors.
  document.addEventListener("htmx:afterSwap", function (event) {
    var invalid = event.detail.target && event.detail.target.querySelector && event.detail.target.querySelector(".is-invalid");
    if (invalid && typeof invalid.focus === "function") { invalid.focus(); }
  });
  // Polling elements (data-poll="visible-only") do not poll while the tab is hidden, and refresh at once
  // when it is shown again (they listen for portal:visible).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.hidden && elt && elt.getAttribute && elt.getAttribute("data-poll") === "visible-only") {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { document.dispatchEvent(new CustomEvent("portal:visible")); }
  });
})();
