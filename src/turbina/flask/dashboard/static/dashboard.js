/* Turbina dashboard: fills each page from its JSON API and refreshes it every few seconds
 * (paused while the tab is hidden). No dependencies. Every value from the server goes into
 * the page with textContent, never innerHTML, so an endpoint or a statement holding
 * "<script>" stays text. Loaded async: it starts once the document is parsed. */
(function () {
  "use strict";

  function start() {
  var body = document.body;
  var API = body.dataset.api;
  var BASE = body.dataset.base;
  var WINDOW = body.dataset.window || "5m";
  var REFRESH_MS = Math.max(1, parseFloat(body.dataset.refreshS || "5")) * 1000;
  var page = body.dataset.page;
  var timer = null;
  var refreshes = 0;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fmt(value, unit) {
    if (value === null || value === undefined) return "–";
    if (unit === "%") return (value * 100).toFixed(1) + " %";
    if (typeof value === "number") {
      var text = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 3 : 1);
      return unit ? text + " " + unit : text;
    }
    return String(value);
  }

  function fill(tbody, rows, cells) {
    tbody.replaceChildren();
    rows.forEach(function (row) {
      var tr = el("tr");
      cells(row).forEach(function (cell) {
        var td = el("td");
        if (cell instanceof Node) td.appendChild(cell);
        else td.textContent = cell === null || cell === undefined ? "" : String(cell);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    if (!rows.length) {
      var tr = el("tr");
      var td = el("td", "nothing recorded in this window", "empty");
      td.colSpan = 20;
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }

  function link(text, href) {
    var a = el("a", text);
    a.href = href;
    return a;
  }

  function query(params) {
    var search = new URLSearchParams(params);
    search.set("window", WINDOW);
    return "?" + search.toString();
  }

  function time(at) {
    return new Date(at * 1000).toLocaleTimeString();
  }

  /* A line chart on a canvas: one or more series of {t, y} over a shared time axis. */
  function lineChart(canvas, series) {
    var ctx = canvas.getContext("2d");
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth || canvas.width;
    var height = canvas.clientHeight || canvas.height;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var pad = { left: 48, right: 10, top: 10, bottom: 22 };
    var all = [];
    series.forEach(function (s) { all = all.concat(s.points); });
    ctx.strokeStyle = "#c8ccd4";
    ctx.lineWidth = 1;
    ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
    ctx.fillStyle = "#5b6270";
    ctx.font = "11px system-ui, sans-serif";
    if (!all.length) {
      ctx.fillText("no requests in this window", pad.left + 10, height / 2);
      return;
    }
    var t0 = Math.min.apply(null, all.map(function (p) { return p.t; }));
    var t1 = Math.max.apply(null, all.map(function (p) { return p.t; }));
    var yMax = (Math.max.apply(null, all.map(function (p) { return p.y; })) || 1) * 1.1;
    if (t1 === t0) { t0 -= 60; t1 += 60; }
    var x = function (t) { return pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right); };
    var y = function (v) { return height - pad.bottom - v / yMax * (height - pad.top - pad.bottom); };
    ctx.fillText(fmt(yMax) + " ms", 4, pad.top + 8);
    ctx.fillText("0", 4, height - pad.bottom);
    ctx.fillText(time(t0), pad.left, height - 6);
    var last = time(t1);
    ctx.fillText(last, width - pad.right - ctx.measureText(last).width, height - 6);
    series.forEach(function (s) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      s.points.forEach(function (p, i) {
        if (i === 0) ctx.moveTo(x(p.t), y(p.y));
        else ctx.lineTo(x(p.t), y(p.y));
      });
      ctx.stroke();
      s.points.forEach(function (p) {
        ctx.beginPath();
        ctx.arc(x(p.t), y(p.y), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      });
    });
  }

  function points(list, key) {
    return list.map(function (p) { return { t: p.t, y: p[key] }; });
  }

  function codeBlock(text) {
    var wrap = el("div", null, "code");
    var pre = el("pre");
    var code = el("code", text);
    pre.appendChild(code);
    var copy = el("button", "Copy", "copy");
    copy.type = "button";
    copy.addEventListener("click", function () {
      var done = function () { copy.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(code); });
      } else {
        selectText(code);
      }
    });
    wrap.appendChild(pre);
    wrap.appendChild(copy);
    return wrap;
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /* One N+1 finding (or slow statement) as a clickable item that opens its fix. */
  function findingItem(f) {
    var li = el("li", null, "finding");
    li.dataset.subject = f.subject;
    var head = el("button", null, "finding-head");
    head.type = "button";
    head.setAttribute("aria-expanded", "false");
    head.appendChild(el("span", "N+1", "badge"));
    head.appendChild(el("span", " " + f.subject + " ", "subject"));
    head.appendChild(el("span", f.requests + " request(s), up to " + f.max_loads + " loads", "muted"));
    var detail = el("div", null, "finding-detail");
    detail.hidden = true;
    detail.appendChild(el("p", "The fix" + (f.loader ? " (" + f.loader + ")" : "") + ":"));
    detail.appendChild(codeBlock(f.fix));
    if (f.callsite) detail.appendChild(el("p", "Triggered at " + f.callsite, "callsite"));
    if (f.endpoint) detail.appendChild(el("p", "Endpoint " + f.endpoint, "muted"));
    head.addEventListener("click", function () {
      detail.hidden = !detail.hidden;
      head.setAttribute("aria-expanded", String(!detail.hidden));
    });
    li.appendChild(head);
    li.appendChild(detail);
    return li;
  }

  function slowItem(s) {
    var li = el("li", null, "finding");
    var head = el("button", null, "finding-head");
    head.type = "button";
    head.setAttribute("aria-expanded", "false");
    head.appendChild(el("span", "slow", "badge slow"));
    head.appendChild(el("span", " " + s.sql.slice(0, 120) + " ", "subject"));
    head.appendChild(el("span", s.calls + " logged, max " + fmt(s.max_ms, "ms"), "muted"));
    var detail = el("div", null, "finding-detail");
    detail.hidden = true;
    detail.appendChild(codeBlock(s.sql));
    if (s.callsite) detail.appendChild(el("p", "Called at " + s.callsite, "callsite"));
    head.addEventListener("click", function () {
      detail.hidden = !detail.hidden;
      head.setAttribute("aria-expanded", String(!detail.hidden));
    });
    li.appendChild(head);
    li.appendChild(detail);
    return li;
  }

  /* Keep the open details open across a refresh (items are rebuilt each time). */
  function keepOpen(list, build, items) {
    var open = {};
    list.querySelectorAll(".finding").forEach(function (li, i) {
      var d = li.querySelector(".finding-detail");
      if (d && !d.hidden) open[i] = true;
    });
    list.replaceChildren();
    items.forEach(function (item, i) {
      var li = build(item);
      if (open[i]) {
        li.querySelector(".finding-detail").hidden = false;
        li.querySelector(".finding-head").setAttribute("aria-expanded", "true");
      }
      list.appendChild(li);
    });
    if (!items.length) list.appendChild(el("li", "nothing recorded in this window", "empty"));
  }

  /* A POST form asking for a SELECT's plan, carrying the session's CSRF token. */
  function planForm(q, token) {
    if (!token || !/^\s*(select|with)\b/i.test(q.fingerprint)) return "";
    var form = el("form", null, "plan-form");
    form.method = "post";
    form.action = BASE + "queries/explain";
    [["csrf_token", token], ["engine", q.engine], ["fingerprint", q.fingerprint]].forEach(function (pair) {
      var input = el("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    var button = el("button", "Plan");
    button.type = "submit";
    form.appendChild(button);
    return form;
  }

  function ratio(value) {
    return value === null || value === undefined ? "–" : value.toFixed(2) + "×";
  }

  function side(row, key, unit) {
    return row ? fmt(row[key], unit) : "–";
  }

  var renderers = {
    overview: function (data) {
      document.querySelectorAll("[data-tile]").forEach(function (node) {
        var value = data.tiles[node.dataset.tile];
        node.textContent = fmt(value, node.dataset.unit);
        node.dataset.value = JSON.stringify(value === undefined ? null : value);
      });
      fill(document.querySelector("#health tbody"), data.health, function (h) {
        var dot = el("span", h.level, "level " + h.level);
        return [h.part, dot, h.value, h.threshold];
      });
      fill(document.querySelector("#top-endpoints tbody"), data.top_endpoints, function (r) {
        return [link(r.endpoint, BASE + "endpoint" + query({ endpoint: r.endpoint, method: r.method })), r.method, fmt(r.total_ms)];
      });
      fill(document.querySelector("#alerts tbody"), data.recent_alerts, function (a) {
        return [time(a.at), a.kind, a.method + " " + a.endpoint, fmt(a.duration_ms), fmt(a.threshold_ms)];
      });
      lineChart(document.getElementById("latency-chart"), [
        { color: "#c0392b", points: points(data.series.points, "p95_ms") },
        { color: "#2c6fbb", points: points(data.series.points, "p50_ms") },
      ]);
    },
    endpoints: function (data) {
      var table = document.getElementById("endpoints");
      var rows = data.endpoints.map(function (r) {
        var looked = r.cache_hits + r.cache_misses;
        r.cache_rate = looked ? r.cache_hits / looked : null;
        return r;
      });
      var key = table.dataset.sortKey || "calls";
      var dir = table.dataset.sortDir === "asc" ? 1 : -1;
      rows.sort(function (a, b) {
        var x = a[key], y = b[key];
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
      fill(table.querySelector("tbody"), rows, function (r) {
        return [
          link(r.endpoint, BASE + "endpoint" + query({ endpoint: r.endpoint, method: r.method })),
          r.method, r.calls, fmt(r.p50_ms), fmt(r.p95_ms), fmt(r.p99_ms), r.errors,
          fmt(r.db_share, "%"), fmt(r.queries_per_request), fmt(r.cache_rate, "%"), fmt(r.apdex),
        ];
      });
    },
    endpoint: function (data) {
      document.querySelectorAll("[data-row]").forEach(function (node) {
        node.textContent = data.row ? fmt(data.row[node.dataset.row], node.dataset.unit) : "–";
      });
      lineChart(document.getElementById("endpoint-chart"), [
        { color: "#c0392b", points: points(data.series.points, "p95_ms") },
        { color: "#2c6fbb", points: points(data.series.points, "p50_ms") },
      ]);
      var list = document.getElementById("endpoint-queries");
      var items = data.findings.map(function (f) { return { f: f }; })
        .concat(data.slow.map(function (s) { return { s: s }; }));
      keepOpen(list, function (item) { return item.f ? findingItem(item.f) : slowItem(item.s); }, items);
    },
    queries: function (data) {
      var table = document.getElementById("queries");
      var token = table.dataset.csrf;
      fill(table.querySelector("tbody"), data.queries, function (q) {
        var sql = el("code", q.fingerprint, "sql");
        return [fmt(q.share, "%"), fmt(q.total_ms), q.calls, fmt(q.mean_ms), fmt(q.p95_ms), q.engine, sql, planForm(q, token)];
      });
      keepOpen(document.getElementById("findings"), findingItem, data.findings);
      fill(document.querySelector("#slow tbody"), data.slow, function (s) {
        return [time(s.at), fmt(s.duration_ms), s.endpoint, s.callsite, el("code", s.sql, "sql")];
      });
    },
    compare: function (data) {
      document.getElementById("compare-windows").textContent =
        "before: " + new Date(data.before.since * 1000).toISOString() + " – " + new Date(data.before.until * 1000).toISOString() +
        "; after: " + new Date(data.after.since * 1000).toISOString() + " – " + new Date(data.after.until * 1000).toISOString();
      fill(document.querySelector("#compare tbody"), data.endpoints, function (r) {
        var a = r.before, b = r.after;
        return [
          r.endpoint, r.method,
          side(a, "calls"), side(b, "calls"), ratio(r.ratio.per_minute),
          side(a, "p50_ms"), side(b, "p50_ms"), ratio(r.ratio.p50_ms),
          side(a, "p95_ms"), side(b, "p95_ms"), ratio(r.ratio.p95_ms),
          side(a, "db_share", "%"), side(b, "db_share", "%"), ratio(r.ratio.db_share),
        ];
      });
    },
    cache: function (data) {
      var known = ["context", "hit_rate", "hits", "misses", "stale_prevented"];
      fill(document.querySelector("#cache tbody"), data.contexts, function (c) {
        var other = Object.keys(c).filter(function (k) { return known.indexOf(k) < 0 && c[k]; })
          .map(function (k) { return k + " " + c[k]; }).join(", ");
        var action = link("Invalidate…", BASE + "cache/invalidate" + query({ context: c.context }));
        action.className = "danger";
        return [c.context, fmt(c.hit_rate, "%"), c.hits || 0, c.misses || 0, c.stale_prevented || 0, other, action];
      });
    },
  };

  var sources = {
    overview: function () { return API + "overview" + query({}); },
    endpoints: function () { return API + "endpoints" + query({}); },
    endpoint: function () {
      var title = document.getElementById("endpoint-title");
      return API + "endpoint" + query({ endpoint: title.dataset.endpoint, method: title.dataset.method });
    },
    queries: function () {
      var pressed = document.querySelector("[data-sort][aria-pressed=true]");
      return API + "queries" + query({ sort: pressed ? pressed.dataset.sort : "total" });
    },
    cache: function () { return API + "cache" + query({}); },
    compare: function () { return API + "compare" + window.location.search; },
  };

  var status = document.getElementById("status");

  function refresh() {
    if (!sources[page]) return Promise.resolve();
    return fetch(sources[page](), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        renderers[page](data);
        refreshes += 1;
        if (refreshes === 1) body.dataset.filledMs = String(performance.now()); /* for the bench */
        body.dataset.refreshes = String(refreshes);
        status.textContent = "updated " + new Date().toLocaleTimeString();
        status.className = "";
      })
      .catch(function (error) {
        status.textContent = "could not refresh: " + error.message;
        status.className = "error";
      });
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    body.dataset.paused = String(document.hidden);
    if (document.hidden) return; /* paused while the tab is hidden: no timer at all */
    timer = setInterval(refresh, REFRESH_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
    schedule();
  });

  /* Window links keep the page's other parameters (the endpoint being shown). */
  document.querySelectorAll("[data-window-link]").forEach(function (a) {
    var search = new URLSearchParams(window.location.search);
    search.set("window", a.dataset.windowLink);
    a.href = "?" + search.toString();
  });

  document.querySelectorAll("table.sortable th[data-key]").forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () {
      var table = th.closest("table");
      var same = table.dataset.sortKey === th.dataset.key;
      table.dataset.sortKey = th.dataset.key;
      table.dataset.sortDir = same && table.dataset.sortDir === "desc" ? "asc" : "desc";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", table.dataset.sortDir === "asc" ? "ascending" : "descending");
      refresh();
    });
  });

  document.querySelectorAll("[data-sort]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll("[data-sort]").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
      button.setAttribute("aria-pressed", "true");
      refresh();
    });
  });

  refresh();
  schedule();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
