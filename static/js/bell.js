/*
 * The header's alert bell (templates/alerts/_bell.html): the unread count, kept live by the
 * `alerts_unread` message of /ws/updates (docs/websocket.md, docs/alerts.md).
 *
 * On the dashboard, live.js already holds the socket and re-dispatches the message as a
 * `vault:alerts` event. Elsewhere the bell opens a socket of its own, drops the default symbol
 * subscription at once (it only wants its alerts), and reconnects with jittered backoff.
 */
(function () {
  "use strict";

  var bell = document.getElementById("alert-bell");
  if (!bell) {
    return;
  }
  var count = bell.querySelector(".bell-count");
  var status = document.getElementById("alert-bell-status");

  function label(unread) {
    return unread > 0 ? "Alerts: " + unread + " unread" : "Alerts: none unread";
  }

  function show(msg) {
    var unread = parseInt(msg.unread, 10);
    if (isNaN(unread) || unread < 0) {
      return;
    }
    var before = parseInt(bell.getAttribute("data-unread"), 10) || 0;
    bell.setAttribute("data-unread", String(unread));
    bell.setAttribute("aria-label", label(unread));
    bell.title = label(unread);
    bell.classList.toggle("has-unread", unread > 0);
    if (count) {
      count.textContent = unread > 99 ? "99+" : String(unread);
      count.hidden = unread === 0;
    }
    if (status && unread > before) {
      var latest = msg.latest && msg.latest.message ? ": " + msg.latest.message : "";
      status.textContent = "New alert" + latest + " (" + unread + " unread)";
    }
  }

  document.addEventListener("vault:alerts", function (event) {
    show(event.detail || {});
  });

  // The dashboard's live.js owns the socket there.
  if (document.getElementById("live-conn") || !("WebSocket" in window)) {
    return;
  }

  var path = bell.getAttribute("data-ws-path") || "/ws/updates";
  var attempt = 0;

  function connect() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(proto + "//" + window.location.host + path);
    } catch (err) {
      retry(0);
      return;
    }
    ws.onmessage = function (event) {
      var msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (msg.type === "connected") {
        attempt = 0;
        if (msg.symbol) {
          ws.send(JSON.stringify({ action: "unsubscribe" })); // no market updates wanted here
        }
      } else if (msg.type === "alerts_unread") {
        show(msg);
      }
    };
    ws.onclose = function (event) {
      if (event.code === 4401) {
        return; // the session ended: nothing to count until the user logs in again
      }
      retry(event.code === 4008 ? 10000 : 0);
    };
  }

  function retry(minimumMs) {
    var ceiling = Math.min(30000, 2000 * Math.pow(2, attempt));
    attempt += 1;
    window.setTimeout(connect, Math.max(minimumMs, 500 + Math.random() * ceiling));
  }

  connect();
})();
