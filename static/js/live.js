/*
 * Live dashboard updates over /ws/updates (protocol: docs/websocket.md).
 *
 * Loaded as an external script so a CSP without inline script works. It connects when the page
 * has a connection indicator (#live-conn), follows the symbol/portfolio of the KPI cards
 * (#kpis data-symbol / data-portfolio, which HTMX swaps when the user switches symbol), swaps in
 * the server-rendered KPI cards that each update carries (kpis_html: the same partial the HTTP
 * view renders), updates the hedge panel's live fields, and reconnects with jittered
 * exponential backoff after the server goes away.
 */
(function () {
  "use strict";

  var indicator = document.getElementById("live-conn");
  if (!indicator || !("WebSocket" in window)) {
    return;
  }
  var path = indicator.getAttribute("data-ws-path") || "/ws/updates";
  var MAX_DELAY_MS = 30000;
  var ws = null;
  var attempt = 0;
  var timer = null;
  var stopped = false;
  var following = null; // {symbol, portfolio} the socket is subscribed to

  function setState(state, text) {
    indicator.classList.toggle("live", state === "live");
    indicator.setAttribute("data-state", state);
    indicator.textContent = text;
    indicator.title = "Live updates: " + text;
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

  function text(id, value) {
    var el = document.getElementById(id);
    if (el && value !== undefined && value !== null) {
      el.textContent = value;
    }
  }

  function fmt(value, places) {
    if (typeof value !== "number" || !isFinite(value)) {
      return "\u2014";
    }
    return value.toLocaleString("en-US", {
      minimumFractionDigits: places,
      maximumFractionDigits: places
    });
  }

  function applyUpdate(msg) {
    var target = wanted();
    if (!target || msg.symbol !== target.symbol) {
      return; // an update still in flight for the symbol the page just left
    }
    var kpis = document.getElementById("kpis");
    if (msg.kpis_html && kpis) {
      var tpl = document.createElement("template");
      tpl.innerHTML = msg.kpis_html; // rendered and escaped by Django's template engine
      var fresh = tpl.content.firstElementChild;
      if (fresh && fresh.id === "kpis") {
        fresh.removeAttribute("hx-swap-oob");
        if (!fresh.getAttribute("data-portfolio")) {
          fresh.setAttribute("data-portfolio", target.portfolio);
        }
        kpis.replaceWith(fresh);
        if (window.htmx) {
          window.htmx.process(fresh);
        }
      }
    }
    var hedge = msg.hedge || {};
    if (document.getElementById("hedge-ratio")) {
      text("hedge-ratio", fmt(hedge.hedge_ratio, 2));
    }
    var warnings = document.getElementById("hedge-warnings");
    if (warnings && Array.isArray(hedge.warnings)) {
      var items = hedge.warnings.map(function (message) {
        var li = document.createElement("li");
        li.className = "warn";
        li.textContent = String(message);
        return li;
      });
      warnings.replaceChildren.apply(warnings, items);
    }
    var ts = document.getElementById("data-ts");
    if (ts && typeof msg.ts === "string") {
      ts.setAttribute("datetime", msg.ts);
      ts.textContent = msg.ts.slice(0, 19);
    }
    var badge = document.getElementById("stale-badge");
    if (badge) {
      badge.hidden = !msg.stale;
    }
    indicator.setAttribute("data-last-update", msg.ts || "");
    document.dispatchEvent(new CustomEvent("vault:update", { detail: msg }));
  }

  function onMessage(event) {
    var msg;
    try {
      msg = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    if (msg.type === "portfolio_update") {
      applyUpdate(msg);
    } else if (msg.type === "connected") {
      attempt = 0;
      setState("live", "live");
    } else if (msg.type === "error" && window.console) {
      window.console.warn("live updates:", msg.code, msg.message);
    }
  }

  function scheduleReconnect(minimumMs) {
    if (stopped || timer) {
      return;
    }
    // "Full jitter": after a server restart every open page reconnects; spreading them over
    // 0.5-2.5 s, then 0.5-4.5 s, ... (cap 30 s) keeps the herd from overrunning the server.
    var ceiling = Math.min(MAX_DELAY_MS, 2000 * Math.pow(2, attempt));
    var delay = Math.max(minimumMs || 0, 500 + Math.random() * ceiling);
    attempt += 1;
    setState("offline", "reconnecting in " + Math.ceil(delay / 1000) + " s");
    timer = window.setTimeout(function () {
      timer = null;
      connect();
    }, delay);
  }

  function connect() {
    var target = wanted();
    following = target;
    setState("connecting", "connecting");
    try {
      ws = new WebSocket(socketUrl(target));
    } catch (err) {
      scheduleReconnect();
      return;
    }
    ws.onmessage = onMessage;
    ws.onclose = function (event) {
      ws = null;
      if (event.code === 4401) {
        stopped = true; // the session ended: reconnecting cannot help until the user logs in
        setState("offline", "log in again for live updates");
        return;
      }
      scheduleReconnect(event.code === 4008 ? 10000 : 0);
    };
  }

  function resubscribe() {
    var target = wanted();
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
  window.addEventListener("online", function () {
    if (!ws && timer) {
      window.clearTimeout(timer);
      timer = null;
      attempt = 0;
      connect();
    }
  });
  connect();
})();
