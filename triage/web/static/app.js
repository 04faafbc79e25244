// triage serve: keyboard screening. Hand-written, no dependencies, no build step.
// Keys: i/e/m label, s skip, n note, r reason, u undo, c criteria, . reload the record.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const page = document.body.dataset.page;

  if (page === "project") {
    const frame = document.getElementById("report");
    if (frame) {
      frame.addEventListener("load", function () {
        try { frame.style.height = (frame.contentDocument.body.scrollHeight + 40) + "px"; } catch (e) { /* keep the CSS height */ }
      });
    }
    return;
  }
  if (page !== "screen") return;

  const screen = document.getElementById("screen");
  const noteBox = document.getElementById("note-box");
  const noteText = document.getElementById("note");
  const noteReady = document.getElementById("note-ready");
  const criteria = document.getElementById("criteria");
  let busy = false;
  let note = "";
  let picking = false;  // the reason list is open

  function current() { return document.getElementById("record"); }
  function reasonList() { return document.getElementById("reasons"); }

  function send(body) {
    busy = true;
    body.append("csrf", csrf);
    return fetch("/api/decide", {method: "POST", body: body, headers: {"X-CSRF-Token": csrf},
                                 credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) { screen.innerHTML = html; })
      .catch(function () { showMessage("The server did not answer; nothing new was saved. Press the key again."); })
      .finally(function () { busy = false; });
  }

  function showMessage(text) {
    const p = document.createElement("p");
    p.className = "message";
    p.textContent = text;
    screen.prepend(p);
  }

  function decide(action, reason) {
    if (busy) return;
    const id = current() && current().dataset.recordId;
    if (!id && action !== "undo") return;  // undo works even when the ranking is exhausted
    const body = new FormData();
    body.append("record_id", id || "0");
    body.append("action", action);
    if (action === "include" || action === "exclude" || action === "maybe") {
      body.append("note", note);
      body.append("reason", reason || "");
      note = "";
      noteReady.hidden = true;
    }
    send(body);
  }

  function reload() {
    if (busy) return;
    busy = true;
    fetch("/api/record", {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) { screen.innerHTML = html; }).finally(function () { busy = false; });
  }

  function openReasons() {
    const list = reasonList();
    if (!list) return false;
    list.hidden = false;
    picking = true;
    return true;
  }

  function closeReasons() {
    const list = reasonList();
    if (list) list.hidden = true;
    picking = false;
  }

  function pickReason(key) {
    const list = reasonList();
    const items = list.querySelectorAll("li:not(.none)");
    closeReasons();
    if (key === "Escape") return;
    const n = parseInt(key, 10);
    let reason = "";
    if (n >= 1 && n <= items.length) reason = items[n - 1].textContent.replace(/^\s*\d+\s*/, "").trim();
    decide("exclude", reason);
  }

  function onKey(key) {
    if (picking) { pickReason(key); return; }
    switch (key) {
      case "i": decide("include"); break;
      case "m": decide("maybe"); break;
      case "e": case "r":
        if (!openReasons()) {
          if (key === "e") decide("exclude");
          else showMessage("This project has no exclusion reasons yet (add them with `triage reasons DIR --add TEXT`).");
        }
        break;
      case "s": decide("skip"); break;
      case "u": decide("undo"); break;
      case "n": noteBox.hidden = false; noteText.value = note; noteText.focus(); break;
      case "c": criteria.hidden = !criteria.hidden; break;
      case ".": reload(); break;
      default: break;
    }
  }

  noteText.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      note = noteText.value.trim();
      noteBox.hidden = true;
      noteText.blur();
      noteReady.hidden = note === "";
    } else if (ev.key === "Escape") {
      noteBox.hidden = true;
      noteText.blur();
    }
    ev.stopPropagation();
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea") return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if ("iemsunrc.0123456789".indexOf(key) >= 0 || key === "Escape" || key === "Enter") {
      ev.preventDefault();
      onKey(key === "Enter" ? "0" : key);
    }
  });

  document.getElementById("keys").addEventListener("click", function (ev) {
    const b = ev.target.closest("button");
    if (!b) return;
    ev.preventDefault();
    b.blur();
    onKey(b.dataset.key || {include: "i", exclude: "e", maybe: "m", skip: "s", undo: "u"}[b.dataset.action]);
  });
})();
