/*
 * Small page behaviours without a framework: the theme picker, timestamps in the reader's own
 * time zone (the server writes UTC), and a visible notice when an HTMX request fails (server
 * down, 5xx) instead of a click that silently does nothing.
 */
(function () {
  "use strict";

  // --- theme --------------------------------------------------------------------------------
  var KEY = "theme"; // shared with the Django admin toggle (light / dark / auto)
  var picker = document.getElementById("theme-select");
  if (picker) {
    picker.closest("label").hidden = false;
    try {
      var saved = window.localStorage.getItem(KEY);
      picker.value = saved === "light" || saved === "dark" ? saved : "";
    } catch (err) {
      picker.value = "";
    }
    picker.addEventListener("change", function () {
      var v = picker.value;
      if (v) {
        document.documentElement.setAttribute("data-theme", v);
      } else {
        document.documentElement.removeAttribute("data-theme");
      }
      try {
        window.localStorage.setItem(KEY, v || "auto");
      } catch (err) {
        /* not remembered, still applied */
      }
    });
  }

  // --- times in the reader's zone -------------------------------------------------------------
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: "h23", timeZoneName: "short"
    });
  } catch (err) {
    fmt = null;
  }

  function localTimes(root) {
    if (!fmt) {
      return;
    }
    (root || document).querySelectorAll("time.when[datetime]").forEach(function (el) {
      if (el.getAttribute("data-local")) {
        return;
      }
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) {
        return;
      }
      var p = {};
      fmt.formatToParts(d).forEach(function (part) { p[part.type] = part.value; });
      el.title = el.textContent; // the UTC original
      el.textContent = p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute +
        ":" + p.second + " " + (p.timeZoneName || "");
      el.setAttribute("data-local", "1");
    });
  }

  // --- failed requests --------------------------------------------------------------------------
  var notice = document.getElementById("notice");
  var noticeTimer = null;

  function say(text, kind) {
    if (!notice) {
      return;
    }
    notice.textContent = text;
    notice.setAttribute("data-kind", kind || "info");
    notice.hidden = false;
    window.clearTimeout(noticeTimer);
    noticeTimer = window.setTimeout(function () { notice.hidden = true; }, 12000);
  }

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.body.addEventListener("htmx:afterSettle", function () { localTimes(document); });
  document.body.addEventListener("htmx:oobAfterSwap", function () { localTimes(document); });
  document.body.addEventListener("htmx:sendError", function () {
    say("Could not reach the server. The page shows the last data it received; try again in a moment.", "error");
  });
  document.body.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail && evt.detail.xhr ? evt.detail.xhr.status : 0;
    say("The server answered " + status + "; nothing was changed on the page. Try again, or reload.", "error");
  });

  // htmx 2 does not swap 4xx/5xx answers by default. Ours carry an error panel for 4xx and
  // 503 (bad symbol, market data down): show it. A 500 keeps the page and raises the notice.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(4..|503)", swap: true, error: false },
      { code: "...", swap: false, error: true }
    ];
  }
})();
