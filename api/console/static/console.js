// Candor console: keyboard shortcuts for the approval inbox, and live template preview.
// Plain JavaScript, no dependencies; every page also works without it.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }

  function setupInbox() {
    var drafts = Array.prototype.slice.call(document.querySelectorAll("li.draft"));
    if (!drafts.length) return;
    var current = 0;
    function focus(i) {
      drafts[current].classList.remove("current");
      current = Math.max(0, Math.min(drafts.length - 1, i));
      drafts[current].classList.add("current");
      drafts[current].focus();
      drafts[current].scrollIntoView({ block: "nearest" });
    }
    focus(0);
    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      var draft = drafts[current];
      switch (event.key) {
        case "j": focus(current + 1); break;
        case "k": focus(current - 1); break;
        case "x": var box = draft.querySelector("input[type=checkbox]"); if (box) { box.checked = !box.checked; } break;
        case "a": draft.querySelector("button.approve").closest("form").submit(); break;
        case "e": window.location = draft.querySelector("a.edit").href; break;
        case "r": draft.querySelector("form.reject input[name=reason]").focus(); event.preventDefault(); break;
        case "A": document.getElementById("bulk").submit(); break;
        default: return;
      }
    });
  }

  function setupTemplateEditor() {
    var form = document.querySelector("form.editor");
    if (!form) return;
    var target = document.getElementById("preview");
    var timer = null;
    function refresh() {
      var data = new FormData(form);
      fetch(form.dataset.preview, {
        method: "POST",
        body: data,
        headers: { "X-Fragment": "1", "X-CSRF-Token": data.get("csrf_token") },
        credentials: "same-origin",
      }).then(function (response) { return response.text(); })
        .then(function (html) { target.innerHTML = html; });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
  }

  // A type-to-filter box above each long <select data-filterable> (the KPI filters): typing
  // narrows the options to those whose name contains the text; the chosen ones always stay.
  // Without JavaScript the plain <select> with every name still works.
  function setupFilterableSelects() {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-filterable]"), function (select) {
      var all = Array.prototype.slice.call(select.options);
      var box = document.createElement("input");
      box.type = "search";
      box.className = "filter-search";
      box.placeholder = select.dataset.filterLabel || "";
      box.setAttribute("aria-label", (select.dataset.filterLabel || "") + ": " + (select.name || ""));
      box.setAttribute("autocomplete", "off");
      box.addEventListener("input", function () {
        var needle = box.value.trim().toLowerCase();
        all.forEach(function (option) {
          var keep = !needle || option.value === "" || option.selected ||
            option.text.toLowerCase().indexOf(needle) !== -1;
          if (keep && option.parentNode !== select) select.appendChild(option);
          if (!keep && option.parentNode === select) select.removeChild(option);
        });
        // Keep the original order after re-adding options.
        all.forEach(function (option) { if (option.parentNode === select) select.appendChild(option); });
      });
      select.parentNode.insertBefore(box, select);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupFilterableSelects();
    setupInbox();
    setupTemplateEditor();
  });
})();
