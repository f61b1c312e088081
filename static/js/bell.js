/*
 * The header's alert bell (templates/alerts/_bell.html): the unread count, kept live by the
 * `alerts_unread` message of /ws/updates (docs/websocket.md, docs/alerts.md).
 *
 * On the dashboard, live.js already holds the socket and re-dispatches the message as a
 * `vault:alerts` event. Elsewhere the bell opens a socket of its own, drops the default symbol
 * subscription at once (it only wants its alerts), and reconnects with jittered backoff
 * (socket.js); after the session ends it stays quiet until the next login.
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
  if (document.getElementById("live-conn") || !("WebSocket" in window) || !window.vaultSocket) {
    return;
  }

  var path = bell.getAttribute("data-ws-path") || "/ws/updates";
  var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  window.vaultSocket({
    url: function () {
      return proto + "//" + window.location.host + path;
    },
    onMessage: function (msg, ws) {
      if (msg.type === "connected" && msg.symbol) {
        ws.send(JSON.stringify({ action: "unsubscribe" })); // no market updates wanted here
      } else if (msg.type === "alerts_unread") {
        show(msg);
      }
    }
  }).start();
})();
