/* The customers' kiosk pages. The form works without this file (a plain POST); with htmx on phones it is
   sent in place. This file adds tablet mode (?kiosk=1): the thank-you screen returns to an empty form after a
   few seconds, and a rating given while the network is down is kept in the browser (localStorage) with its
   one-time form token and sent when the network returns. The server stores one row per token, so a rating
   sent twice (a lost answer, a retry) is still one rating. No inline script: the CSP forbids it. */
(function () {
  "use strict";
  var QUEUE_KEY = "portal-kiosk-queue";
  var RETRY_MS = 30000;
  var IDLE_MS = 10000;
  var SEND_TIMEOUT_MS = 8000;
  var pristine = null;   // the empty form's HTML, to start again without the network
  var flushing = false;
  var timers = [];

  function load(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full or off: nothing to keep */ }
  }
  function main() { return document.getElementById("kiosk"); }
  function tabletForm() { return document.querySelector("form[data-tablet]"); }
  function sparesKey(url) { return "portal-kiosk-spares:" + url.split("?")[0]; }

  function clearTimers() { timers.forEach(clearTimeout); timers = []; }

  function post(entry) {
    var body = new URLSearchParams();
    entry.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
    return fetch(entry.url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (timer) { clearTimeout(timer); }
      return response.text().then(function (html) { return {status: response.status, html: html}; });
    });
  }

  function worthRetrying(status) { return status === 408 || status === 429 || status >= 500; }

  /* Send what was kept while offline, oldest first; stop at the first failure and try again later. */
  function flush() {
    if (flushing) { return; }
    var queue = load(QUEUE_KEY, []);
    if (!queue.length) { return; }
    flushing = true;
    var entry = queue[0];
    post(entry).then(function (result) {
      if (result.status === 400 && !entry.renewed) {
        // The session (and its CSRF token) may have expired while the rating waited: fetch the form again for a
        // fresh one and send once more with the same one-time form token (still one row at most).
        return renewCsrf(entry).then(function () { flushing = false; flush(); }, function () { flushing = false; });
      }
      flushing = false;
      if (worthRetrying(result.status)) { return; }
      save(QUEUE_KEY, load(QUEUE_KEY, []).filter(function (e) { return e.key !== entry.key; }));
      flush();
    }, function () { flushing = false; });
  }

  function renewCsrf(entry) {
    return fetch(entry.url, {credentials: "same-origin"}).then(function (response) { return response.text(); })
      .then(function (html) {
        var found = /name="csrf_token" value="([^"]+)"/.exec(html);
        var queue = load(QUEUE_KEY, []);
        queue.forEach(function (e) {
          if (e.key !== entry.key) { return; }
          e.renewed = true;
          if (found) {
            e.fields = e.fields.map(function (pair) { return pair[0] === "csrf_token" ? [pair[0], found[1]] : pair; });
          }
        });
        save(QUEUE_KEY, queue);
      });
  }

  function show(html) {
    var root = main();
    root.innerHTML = html;
    // htmx's out-of-band message box comes with every answer to a post; the kiosk shows no messages there.
    Array.prototype.forEach.call(root.querySelectorAll("[hx-swap-oob]"), function (el) { el.remove(); });
    if (window.htmx) { window.htmx.process(root); }
    afterSwap();
  }

  function localThanks() {
    var template = document.getElementById("offline-thanks");
    show(template ? template.innerHTML : "");
  }

  function startAgain() {
    clearTimers();
    if (flushing) {
      // A kept rating is being sent: leaving the page now would lose the answer and send it again later.
      timers.push(setTimeout(startAgain, 1000));
      return;
    }
    var thanks = document.querySelector("[data-again-url]");
    var again = thanks ? thanks.getAttribute("data-again-url") : window.location.href;
    if (navigator.onLine) {
      window.location.replace(again);
      return;
    }
    // Offline: the empty form again, with one of the spare tokens this page was given.
    var spares = load(sparesKey(again), []);
    if (!pristine || !spares.length) { window.location.replace(again); return; }
    var token = spares.shift();
    save(sparesKey(again), spares);
    show(pristine);
    var field = document.querySelector("form[data-tablet] input[name=form_token]");
    if (field) { field.value = token; }
    resetIdleForm();  // the restored form is a new element: it needs its own idle reset
  }

  function afterSwap() {
    var thanks = document.querySelector(".thanks[data-reset-seconds], .thanks[data-offline]");
    if (!thanks) { return; }
    var seconds = parseInt(thanks.getAttribute("data-reset-seconds") || "20", 10);
    clearTimers();
    timers.push(setTimeout(startAgain, seconds * 1000));
    var idle = function () {
      if (timers.length > 1) { clearTimeout(timers.pop()); }
      timers.push(setTimeout(startAgain, IDLE_MS));
    };
    idle();
    thanks.addEventListener("pointerdown", idle);
    var focus = thanks.querySelector("h1");
    if (focus) { focus.setAttribute("tabindex", "-1"); focus.focus(); }
  }

  function submitTablet(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-tablet]")) { return; }
    event.preventDefault();
    var stamp = form.querySelector("input[name=rated_at]");
    if (stamp) { stamp.value = String(Date.now()); }
    var fields = [];
    new FormData(form).forEach(function (value, name) { fields.push([name, String(value)]); });
    var token = form.querySelector("input[name=form_token]");
    var entry = {url: form.getAttribute("action"), fields: fields, key: token ? token.value : String(Date.now())};
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var keep = function () {
      if (!form.checkValidity()) {
        // Not sendable as it is (no face chosen): say so now rather than thank for a rating that will be refused.
        if (button) { button.disabled = false; }
        form.reportValidity();
        return;
      }
      var queue = load(QUEUE_KEY, []);
      if (!queue.some(function (e) { return e.key === entry.key; })) { queue.push(entry); save(QUEUE_KEY, queue); }
      localThanks();
    };
    if (!navigator.onLine) { keep(); return; }
    post(entry).then(function (result) {
      if (worthRetrying(result.status)) { keep(); return; }
      show(result.html);  // the thank-you screen, the form with its errors, or a refusal
    }, keep);
  }

  function resetIdleForm() {
    // A half-filled form left alone on a tablet starts again after a minute (the next customer's privacy).
    var form = tabletForm();
    if (!form) { return; }
    var timer = null;
    var restart = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var touched = form.querySelector("input:checked, textarea:not(:placeholder-shown)");
        if (touched && tabletForm() === form) { startAgain(); }
      }, 60000);
    };
    ["pointerdown", "keydown", "input"].forEach(function (name) { form.addEventListener(name, restart); });
  }

  function init() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-kiosk-reset]");
      if (link) { event.preventDefault(); startAgain(); }
    });
    document.body.addEventListener("htmx:sendError", function () {
      var note = document.querySelector("[data-offline-note]");
      if (note) { note.hidden = false; }
    });
    var form = tabletForm();
    if (form) {
      pristine = main().innerHTML;
      var spares = [];
      try { spares = JSON.parse(form.getAttribute("data-spare-tokens") || "[]"); } catch (e) { spares = []; }
      save(sparesKey(form.getAttribute("action")), spares);
      document.addEventListener("submit", submitTablet);
      resetIdleForm();
    }
    afterSwap();
    window.addEventListener("online", flush);
    setInterval(flush, RETRY_MS);
    flush();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
