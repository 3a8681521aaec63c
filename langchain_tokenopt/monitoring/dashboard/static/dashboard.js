/* tokenopt dashboard page: fetches the JSON API and draws the charts (no external code). */
(function () {
  "use strict";
  var match = /token=([^&]+)/.exec(window.location.hash || "");
  var token = match ? decodeURIComponent(match[1]) : null;
  var C = window.TokenOptCharts;
  var STEPS = ["cache", "tool_selection", "compression", "context"];
  var SAVINGS = ["response_cache", "tool_selection", "compression", "context", "prompt_cache"];

  function get(path) {
    var headers = token ? {Authorization: "Bearer " + token} : {};
    return fetch(path, {headers: headers}).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function usd(v) { return v === null || v === undefined ? "n/a" : "$" + v.toFixed(v < 1 ? 4 : 2); }
  function ms(v) { return v === null || v === undefined ? "–" : v.toFixed(1) + " ms"; }
  function hhmm(t) { var d = new Date(t * 1000); return d.toISOString().slice(11, 16); }
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
      set("kpi-saved", usd(s.cost.savings_usd));
      set("kpi-cost", usd(s.cost.actual_usd));
      set("kpi-p95", ms(s.latency.p95));
      set("kpi-overhead", ms(s.optimizer_latency.p50));
      set("kpi-coverage", pct(s.cost.pricing_coverage));
      var labels = pts.map(function (p) { return hhmm(p.start); });
      function col(k) { return pts.map(function (p) { return p[k]; }); }
      C.line(document.getElementById("chart-tokens"), {labels: labels, series: [
        {name: "actual", values: col("tokens_actual")},
        {name: "without optimization", values: col("tokens_counterfactual")}]});
      C.line(document.getElementById("chart-cost"), {labels: labels, yFormat: function (v) { return "$" + v.toPrecision(2); }, series: [
        {name: "actual", values: col("cost_actual_usd")},
        {name: "without optimization", values: col("cost_counterfactual_usd")}]});
      C.line(document.getElementById("chart-hits"), {labels: labels, yFormat: function (v) { return Math.round(v * 100) + "%"; }, series: [
        {name: "hit rate", values: col("hit_rate")}]});
      C.line(document.getElementById("chart-latency"), {labels: labels, series: [
        {name: "p50", values: col("latency_p50_ms")},
        {name: "p95", values: col("latency_p95_ms")},
        {name: "p99", values: col("latency_p99_ms")}]});
      C.bar(document.getElementById("chart-steps"), {labels: STEPS, series: [
        {name: "tokens saved", values: STEPS.map(function (k) { return s.tokens_saved_by_step[k] || 0; })}]});
      C.bar(document.getElementById("chart-savings"), {labels: SAVINGS, series: [
        {name: "USD saved", values: SAVINGS.map(function (k) { return s.cost.savings_by_step[k] || 0; })}]});
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
