// Portal behaviour that htmx attributes cannot express. Loaded as a file: the CSP forbids inline script.
(function () {
  "use strict";
  // Move focus to the first invalid field after an htmx swap re-renders a form with errors.
  document.addEventListener("htmx:afterSwap", function (event) {
    var invalid = event.detail.target && event.detail.target.querySelector && event.detail.target.querySelector(".is-invalid");
    if (invalid && typeof invalid.focus === "function") { invalid.focus(); }
  });
  // A ticket opened in the queue's side panel: focus moves to its heading, so that keyboard and screen-reader
  // users go on from there (the panel's own forms swap the ticket inside it and leave focus alone).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "ticket-drawer") { return; }
    var heading = target.querySelector("h2");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
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

  // The matrix cell editor (a small dialog over its cell): focus moves into it when it opens and back to
  // the cell's button when it closes (saved or cancelled); Escape cancels.
  var closingCell = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    closingCell = target && target.classList && target.classList.contains("cell-editing") ? target.id : null;
  });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.classList || !elt.classList.contains("cell-inner")) { return; }
    if (elt.classList.contains("cell-editing")) {
      var field = elt.querySelector(".is-invalid, select, input, button");
      if (field) { field.focus(); }
    } else if (elt.id === closingCell) {
      closingCell = null;
      var button = elt.querySelector(".cell-btn");
      if (button) { button.focus(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var editor = event.target && event.target.closest ? event.target.closest(".cell-editing") : null;
    var cancel = editor && editor.querySelector("button[type=button][hx-get]");
    if (cancel) { event.preventDefault(); cancel.click(); }
  });
  // A box that scrolls sideways (a wide table on a phone) must be reachable by keyboard to scroll it.
  function focusableScrollers(root) {
    var boxes = (root.querySelectorAll ? root : document).querySelectorAll(".table-responsive, main .table, .raci-scroll");
    Array.prototype.forEach.call(boxes, function (box) {
      if (!box.hasAttribute("tabindex") && box.scrollWidth > box.clientWidth + 1) { box.setAttribute("tabindex", "0"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { focusableScrollers(document); });
  document.addEventListener("htmx:afterSettle", function (event) { focusableScrollers(document); });
})();
