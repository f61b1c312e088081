/*
 * One WebSocket to /ws/updates that comes back after a drop (protocol: docs/websocket.md),
 * shared by live.js (the dashboard) and bell.js (every other page).
 *
 * Reconnection uses "full jitter" exponential backoff: after a server restart every open page
 * reconnects, and spreading them over 0.5-2.5 s, then 0.5-4.5 s, ... (cap 30 s) keeps the herd
 * from overrunning the server. After a 4008 (too many bad messages) it waits at least 10 s;
 * after a 4401 (the session ended) it stops, since only a new login can help. Coming back
 * online (the browser's "online" event) tries at once.
 *
 *   var sock = window.vaultSocket({
 *     url: function () { return "wss://..."; },   // asked before each attempt
 *     onMessage: function (msg, ws) {},           // each JSON message (others are dropped)
 *     onConnecting: function () {},               // optional: an attempt starts
 *     onWait: function (retryAt) {},              // optional: next attempt at retryAt (ms)
 *     onSessionEnded: function () {}              // optional: closed with 4401
 *   });
 *   sock.start(); sock.current();   // the socket now (null between attempts)
 */
(function () {
  "use strict";

  var MAX_DELAY_MS = 30000;

  window.vaultSocket = function (opts) {
    var ws = null;
    var attempt = 0;
    var timer = null;
    var stopped = false;

    function call(name, arg) {
      if (opts[name]) {
        opts[name](arg);
      }
    }

    function connect() {
      timer = null;
      call("onConnecting");
      try {
        ws = new WebSocket(opts.url());
      } catch (err) {
        ws = null;
        schedule(0);
        return;
      }
      var socket = ws;
      socket.onmessage = function (event) {
        var msg;
        try {
          msg = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        if (msg.type === "connected") {
          attempt = 0;
        }
        opts.onMessage(msg, socket);
      };
      socket.onclose = function (event) {
        ws = null;
        if (event.code === 4401) {
          stopped = true;
          call("onSessionEnded");
          return;
        }
        schedule(event.code === 4008 ? 10000 : 0);
      };
    }

    function schedule(minimumMs) {
      if (stopped || timer) {
        return;
      }
      var ceiling = Math.min(MAX_DELAY_MS, 2000 * Math.pow(2, attempt));
      var delay = Math.max(minimumMs, 500 + Math.random() * ceiling);
      attempt += 1;
      timer = window.setTimeout(connect, delay);
      call("onWait", Date.now() + delay);
    }

    // Back online: try at once instead of waiting out the backoff.
    window.addEventListener("online", function () {
      if (!ws && timer) {
        window.clearTimeout(timer);
        attempt = 0;
        connect();
      }
    });

    return {
      start: connect,
      current: function () {
        return ws;
      }
    };
  };
})();
