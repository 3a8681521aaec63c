/* tokenopt dashboard page: fetches the JSON API and draws the charts (no external code). */
(function () {
  "use strict";
  var match = /token=([^&]+)/.exec(window.location.hash || "");
  var token = match ? decodeURIComponent(match[1]) : null;
  var C = window.TokenOptCharts;
  var STEPS = ["cache", "tool_selection", "compression", "context"];
  // One name per step: the graph's step names; the cost's "response_cache" key is the cache step.
  var SAVINGS = ["cache", "tool_selection", "compression", "context", "prompt_cache"];
  var SAVINGS_KEY = {cache: "response_cache"};

  function get(path) {
    var headers = token ? {Authorization: "Bearer " + token} : {};
    return fetch(path, {headers: headers}).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function usd(v) {
    if (v === null || v === undefined) return "n/a";
    var a = Math.abs(v);
    return (v < 0 ? "-$" : "$") + a.toFixed(a < 1 ? 4 : 2);
  }
  function ms(v) { return v === null || v === undefined ? "–" : v.toFixed(1) + " ms"; }
  // Bucket labels: hh:mm, with seconds when the run spans under an hour, with the date past a day.
  function stamp(t, span) {
    var iso = new Date(t * 1000).toISOString();
    if (span < 3600) return iso.slice(11, 19);
    if (span <= 86400) return iso.slice(11, 16);
    return iso.slice(5, 10) + " " + iso.slice(11, 16);
  }
  function int(v) { return v === null || v === undefined ? "–" : v.toLocaleString("en-US"); }
  function set(id, text) { document.getElementById(id).textContent = text; }

  function load() {
    var w = document.getElementById("window").value;
    set("status", "loading…");
    Promise.all([
      get("api/summary?window=" + w),
      get("api/timeseries?window=" + w + "&buckets=24"),
      get("api/top?by=tenant&window=" + w),
      get("api/top?by=model&window=" + w)
    ]).then(function (res) {
      var s = res[0], pts = res[1].points, tenants = res[2].groups, models = res[3].groups;
      set("kpi-requests", String(s.requests));
      set("kpi-hit", pct(s.request_cache_hit_rate));
      set("kpi-reduction", pct(s.token_reduction));
      set("kpi-no-usage", String(s.usage_unavailable));
      set("kpi-saved", usd(s.cost.savings_usd));
      set("kpi-saved-cached", usd(s.cost.savings_vs_cached_usd));
      set("kpi-cost", usd(s.cost.actual_usd));
      set("kpi-priced-as", s.cost.priced_as.length ? "(priced as " + s.cost.priced_as.join(", ") + ")" : "");
      set("kpi-cache-read", int(s.tokens.cache_read));
      set("kpi-cache-write", int(s.tokens.cache_creation));
      set("kpi-p95", ms(s.latency.p95));
      set("kpi-overhead", ms(s.optimizer_latency.p50));
      set("kpi-coverage", pct(s.cost.pricing_coverage));
      var span = pts.length ? pts[pts.length - 1].end - pts[0].start : 0;
      var labels = pts.map(function (p) { return stamp(p.start, span); });
      function col(k) { return pts.map(function (p) { return p[k]; }); }
      C.line(document.getElementById("chart-tokens"), {labels: labels, series: [
        {name: "actual", values: col("tokens_actual")},
        {name: "without optimization", values: col("tokens_counterfactual")}]});
      C.line(document.getElementById("chart-cost"), {labels: labels, yFormat: function (v) { return "$" + v.toPrecision(2); }, series: [
        {name: "actual", values: col("cost_actual_usd")},
        {name: "without optimization", values: col("cost_counterfactual_usd")},
        {name: "without optimization, provider caching", values: col("cost_counterfactual_cached_usd")}]});
      C.line(document.getElementById("chart-prompt-cache"), {labels: labels, series: [
        {name: "cache reads", values: col("cache_read_tokens")},
        {name: "cache writes", values: col("cache_creation_tokens")}]});
      C.line(document.getElementById("chart-hits"), {labels: labels, yFormat: function (v) { return Math.round(v * 100) + "%"; }, series: [
        {name: "hit rate", values: col("hit_rate")}]});
      C.line(document.getElementById("chart-latency"), {labels: labels, series: [
        {name: "p50", values: col("latency_p50_ms")},
        {name: "p95", values: col("latency_p95_ms")},
        {name: "p99", values: col("latency_p99_ms")}]});
      C.bar(document.getElementById("chart-steps"), {labels: STEPS, series: [
        {name: "tokens saved", values: STEPS.map(function (k) { return s.tokens_saved_by_step[k] || 0; })}]});
      C.bar(document.getElementById("chart-savings"), {labels: SAVINGS, series: [
        {name: "vs no caching", values: SAVINGS.map(function (k) { return s.cost.savings_by_step[SAVINGS_KEY[k] || k] || 0; })},
        {name: "net of lost cache reads", values: SAVINGS.map(function (k) { return s.cost.net_savings_by_step[SAVINGS_KEY[k] || k] || 0; })}]});
      var body = document.querySelector("#table-savings tbody");
      body.textContent = "";
      SAVINGS.forEach(function (k) {
        var key = SAVINGS_KEY[k] || k, tr = document.createElement("tr");
        var net = k === "prompt_cache" ? null : s.cost.net_savings_by_step[key];
        [k, usd(s.cost.savings_by_step[key]), k === "prompt_cache" ? "–" : usd(net)].forEach(function (t) {
          var td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
        });
        tr.dataset.step = k;
        body.appendChild(tr);
      });
      C.bar(document.getElementById("chart-tenants"), {labels: tenants.map(function (g) { return g.key || "(none)"; }), series: [
        {name: "requests", values: tenants.map(function (g) { return g.requests; })},
        {name: "cache hits", values: tenants.map(function (g) { return g.cache_hits; })}]});
      C.bar(document.getElementById("chart-models"), {labels: models.map(function (g) { return g.key || "(none)"; }), series: [
        {name: "requests", values: models.map(function (g) { return g.requests; })}]});
      set("status", "updated " + new Date().toLocaleTimeString());
      document.body.dataset.loaded = "1";
    }).catch(function (e) {
      set("status", String(e));
      document.body.dataset.loaded = "error";
    });
  }
  document.getElementById("window").addEventListener("change", load);
  load();
  setInterval(load, 30000);
})();
