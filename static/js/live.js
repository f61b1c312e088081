/*
 * Live dashboard updates over /ws/updates (protocol: docs/websocket.md).
 *
 * Each `portfolio_update` is a signal that new data exists for the symbol the page shows. The
 * page then asks the server for every market-dependent panel at once (#dashboard-body
 * data-live-url, `panel=live`): KPIs, hedge, positions, scenarios and the data stamp come back
 * from ONE valuation as out-of-band swaps, so no two numbers on the page can disagree.
 * Values that changed flash briefly. When the socket drops, the page says so with a real
 * countdown to the next attempt and the data's age, marks the values stale, and reconnects with
 * jittered exponential backoff (socket.js); links and forms keep working over plain HTTP
 * meanwhile.
 */
(function () {
  "use strict";

  var indicator = document.getElementById("live-conn");
  if (!indicator || !("WebSocket" in window) || !window.vaultSocket) {
    return;
  }
  var path = indicator.getAttribute("data-ws-path") || "/ws/updates";
  var retryAt = 0; // when the next connection attempt is due (0: not waiting)
  var following = null; // {symbol, portfolio} the socket is subscribed to
  var inflight = false;
  var pending = false;
  var lastTs = null;

  function setState(state, text) {
    indicator.classList.toggle("live", state === "live");
    indicator.setAttribute("data-state", state);
    indicator.textContent = text;
    indicator.title = "Live updates: " + text;
    // Values are marked stale once the connection is lost, not while it is being set up.
    if (state !== "connecting") {
      document.body.classList.toggle("is-stale", state !== "live");
    }
  }

  function wanted() {
    var kpis = document.getElementById("kpis");
    if (!kpis || !kpis.getAttribute("data-symbol")) {
      return null;
    }
    return {
      symbol: kpis.getAttribute("data-symbol"),
      portfolio: kpis.getAttribute("data-portfolio") || ""
    };
  }

  function socketUrl(target) {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var query = "";
    if (target) {
      query = "?symbol=" + encodeURIComponent(target.symbol);
      if (target.portfolio) {
        query += "&portfolio=" + encodeURIComponent(target.portfolio);
      }
    }
    return proto + "//" + window.location.host + path + query;
  }

  // --- one refresh of every live panel --------------------------------------------------

  function snapshotValues() {
    var out = {};
    document.querySelectorAll("[data-live]").forEach(function (el) {
      out[el.getAttribute("data-live")] = el.textContent;
    });
    return out;
  }

  function markChanged(before) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var key = el.getAttribute("data-live");
      if (key in before && before[key] !== el.textContent) {
        el.classList.remove("changed");
        void el.offsetWidth; // restart the animation
        el.classList.add("changed");
      }
    });
  }

  function refreshPanels() {
    var body = document.getElementById("dashboard-body");
    var url = body && body.getAttribute("data-live-url");
    if (!url || !window.htmx) {
      return;
    }
    if (inflight) {
      pending = true; // one more after this one: never a queue of stale requests
      return;
    }
    inflight = true;
    var before = snapshotValues();
    window.htmx.ajax("GET", url, { source: body, target: body, swap: "none" }).then(
      function () {
        markChanged(before);
        done();
      },
      done
    );
  }

  function done() {
    inflight = false;
    if (pending) {
      pending = false;
      refreshPanels();
    }
  }

  function applyUpdate(msg) {
    var target = wanted();
    if (!target || msg.symbol !== target.symbol) {
      return; // an update still in flight for the symbol the page just left
    }
    lastTs = msg.ts || lastTs;
    indicator.setAttribute("data-last-update", msg.ts || "");
    refreshPanels();
    document.dispatchEvent(new CustomEvent("vault:update", { detail: msg }));
  }

  function onMessage(msg) {
    if (msg.type === "portfolio_update") {
      applyUpdate(msg);
    } else if (msg.type === "connected") {
      setState("live", "live");
    } else if (msg.type === "alerts_unread") {
      document.dispatchEvent(new CustomEvent("vault:alerts", { detail: msg })); // bell.js
    } else if (msg.type === "error" && window.console) {
      window.console.warn("live updates:", msg.code, msg.message);
    }
  }

  // --- lost connection: countdown, data age, stale marks ------------------------------------

  function dataAgeText() {
    var el = document.getElementById("data-age");
    var iso = (el && el.getAttribute("data-ts")) || lastTs;
    var t = iso ? Date.parse(iso) : NaN;
    if (isNaN(t)) {
      return "";
    }
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    return s < 90 ? s + " s" : s < 5400 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
  }

  function tick() {
    var age = dataAgeText();
    var ageEl = document.getElementById("data-age");
    if (ageEl) {
      ageEl.textContent = age ? age + " old" : "";
    }
    if (retryAt) {
      var left = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setState("offline", "offline · data " + age + " old · reconnecting in " + left + " s");
    }
  }

  var sock = window.vaultSocket({
    url: function () {
      following = wanted();
      return socketUrl(following);
    },
    onMessage: onMessage,
    onConnecting: function () {
      retryAt = 0;
      setState("connecting", "connecting");
    },
    onWait: function (at) {
      retryAt = at;
      tick();
    },
    onSessionEnded: function () {
      setState("offline", "log in again for live updates");
    }
  });

  function resubscribe() {
    var target = wanted();
    var ws = sock.current();
    if (!ws || ws.readyState !== WebSocket.OPEN || !target) {
      return;
    }
    if (following && following.symbol === target.symbol &&
        following.portfolio === target.portfolio) {
      return;
    }
    ws.send(JSON.stringify({ action: "unsubscribe" }));
    var sub = { action: "subscribe", symbol: target.symbol };
    if (target.portfolio) {
      sub.portfolio = target.portfolio;
    }
    ws.send(JSON.stringify(sub));
    following = target;
  }

  // The symbol switcher swaps #dashboard-body (and with it #kpis) through HTMX.
  document.body.addEventListener("htmx:afterSettle", resubscribe);
  window.setInterval(tick, 1000);
  sock.start();
})();
