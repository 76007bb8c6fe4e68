/*! turbina-lazy.js: load [data-lazy] parts of a page when they come into view. No dependencies. */
// <script src="{{ turbina_asset('turbina-lazy.js') }}" data-chart-lib="{{ turbina_asset('chart.js') }}" defer></script>
//   <div data-lazy="fragment" data-src="/part">  fetched HTML swapped in (its scripts do not run)
//   <div data-lazy="table" data-src="/rows.json">  {"columns": [...], "rows": [[...]]} as a <table>
//   <div data-lazy="chart" data-src="/chart.json">  a Chart.js config drawn with new Chart(canvas, config);
//        the library (data-chart-lib, or data-lib on the element) is loaded once, on first use
// Each element gets data-lazy-state="loading|loaded|error"; a failure is shown in the element
// itself with a retry button. Without IntersectionObserver every element loads at once.
(function () {
  "use strict";
  var script = document.currentScript;
  var option = function (name, fallback) {
    return (script && script.getAttribute(name)) || fallback;
  };
  var chartLib = option("data-chart-lib", "");
  var rootMargin = option("data-root-margin", "200px 0px");
  var libraries = {}; // url -> Promise: one <script> per library, however many elements use it

  function loadLibrary(url) {
    if (!libraries[url]) {
      libraries[url] = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = url;
        tag.onload = function () { resolve(); };
        tag.onerror = function () {
          delete libraries[url];
          reject(new Error("could not load " + url));
        };
        document.head.appendChild(tag);
      });
    }
    return libraries[url];
  }

  function fetchFrom(el, accept) {
    var url = el.getAttribute("data-src");
    if (!url) return Promise.reject(new Error("no data-src"));
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: accept, "X-Requested-With": "turbina-lazy" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status + (response.statusText ? " " + response.statusText : ""));
      }
      return response;
    });
  }

  function json(el, attribute) {
    if (el.hasAttribute(attribute)) {
      return Promise.resolve().then(function () { return JSON.parse(el.getAttribute(attribute)); });
    }
    return fetchFrom(el, "application/json").then(function (r) { return r.json(); });
  }

  function lazyMedia(root) {
    var media = root.querySelectorAll("img:not([loading]), iframe:not([loading])");
    for (var i = 0; i < media.length; i++) media[i].setAttribute("loading", "lazy");
  }

  function table(data, className) {
    var node = document.createElement("table");
    if (className) node.className = className;
    var row = node.createTHead().insertRow();
    (data.columns || []).forEach(function (name) {
      var th = document.createElement("th");
      th.textContent = name;
      row.appendChild(th);
    });
    var body = node.createTBody();
    (data.rows || []).forEach(function (values) {
      var tr = body.insertRow();
      values.forEach(function (value) {
        tr.insertCell().textContent = value === null || value === undefined ? "" : String(value);
      });
    });
    return node;
  }

  var loaders = {
    fragment: function (el) {
      return fetchFrom(el, "text/html").then(function (r) { return r.text(); }).then(function (html) {
        // Parsed in an inert <template>, so images get loading="lazy" before they can load.
        var holder = document.createElement("template");
        holder.innerHTML = html;
        lazyMedia(holder.content);
        el.replaceChildren(holder.content);
        scan(el);
      });
    },
    table: function (el) {
      return json(el, "data-table").then(function (data) {
        el.replaceChildren(table(data, el.getAttribute("data-table-class")));
      });
    },
    chart: function (el) {
      var lib = el.getAttribute("data-lib") || chartLib;
      if (!lib) return Promise.reject(new Error("no chart library (data-chart-lib)"));
      return Promise.all([loadLibrary(lib), json(el, "data-chart")]).then(function (done) {
        if (typeof window.Chart !== "function") throw new Error(lib + " did not define Chart");
        var canvas = el.tagName === "CANVAS" ? el : el.querySelector("canvas");
        if (!canvas) canvas = el.appendChild(document.createElement("canvas"));
        el.turbinaChart = new window.Chart(canvas, done[1]);
      });
    }
  };

  function emit(el, name, detail) {
    el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail || {} }));
  }

  function fail(el, error) {
    el.setAttribute("data-lazy-state", "error");
    el.removeAttribute("aria-busy");
    var box = document.createElement("div");
    box.className = "turbina-lazy-error";
    box.setAttribute("role", "alert");
    box.textContent = (el.getAttribute("data-error") || "Could not load this part of the page") +
      " (" + error.message + ") ";
    var retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Try again";
    retry.addEventListener("click", function () {
      if (el.tagName === "CANVAS") { box.remove(); el.hidden = false; }
      el.removeAttribute("data-lazy-state");
      load(el);
    });
    box.appendChild(retry);
    if (el.tagName === "CANVAS") {
      el.hidden = true;
      el.parentNode.insertBefore(box, el);
    } else {
      el.replaceChildren(box);
    }
    emit(el, "turbina:lazy-error", { error: error });
  }

  function load(el) {
    var loader = loaders[el.getAttribute("data-lazy")];
    if (!loader || el.hasAttribute("data-lazy-state")) return;
    el.setAttribute("data-lazy-state", "loading");
    el.setAttribute("aria-busy", "true");
    Promise.resolve(el).then(loader).then(function () {
      el.setAttribute("data-lazy-state", "loaded");
      el.removeAttribute("aria-busy");
      emit(el, "turbina:lazy-loaded");
    }, function (error) { fail(el, error); });
  }

  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) {
        observer.unobserve(entry.target);
        load(entry.target);
      }
    });
  }, { rootMargin: rootMargin }) : null;

  function scan(root) {
    var found = (root || document).querySelectorAll("[data-lazy]:not([data-lazy-state])");
    for (var i = 0; i < found.length; i++) {
      if (observer) observer.observe(found[i]); else load(found[i]);
    }
  }

  window.turbinaLazy = { scan: scan, load: load };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
