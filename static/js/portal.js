// Portal behaviour that htmx attributes cannot express. Loaded as a file: the CSP forbids inline script.
(function () {
  "use strict";
  // Move focus to the first invalid field after an htmx swap re-renders a form with errors.
  document.addEventListener("htmx:afterSwap", function (event) {
    var invalid = event.detail.target && event.detail.target.querySelector && event.detail.target.querySelector(".is-invalid");
    if (invalid && typeof invalid.focus === "function") { invalid.focus(); }
  });
})();
