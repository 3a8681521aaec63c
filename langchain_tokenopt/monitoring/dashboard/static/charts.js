/* tokenopt charts: a tiny self-contained canvas chart library (MIT, part of langchain-tokenopt).
 * TokenOptCharts.line(canvas, {labels: [...], series: [{name, values, color}], yFormat})
 * TokenOptCharts.bar(canvas,  {labels: [...], series: [{name, values, color}], yFormat})
 * After drawing, canvas.dataset.drawn holds JSON {kind, points, series: {name: sum}} so
 * tests (and curious users) can check what was plotted.
 */
(function (global) {
  "use strict";
  var PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  var FONT = "12px system-ui, -apple-system, Segoe UI, sans-serif";

  function setup(canvas) {
    var ratio = global.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = FONT;
    return {ctx: ctx, w: w, h: h};
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function fmt(v, f) {
    if (f) return f(v);
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1) + "k";
    if (Math.abs(v) < 1 && v !== 0) return v.toPrecision(2);
    return String(Math.round(v * 100) / 100);
  }

  function frame(g, opts, maxY) {
    var ctx = g.ctx, pad = {l: 56, r: 12, t: 24, b: 36};
    var pw = g.w - pad.l - pad.r, ph = g.h - pad.t - pad.b;
    ctx.strokeStyle = "#e5e7eb"; ctx.fillStyle = "#6b7280"; ctx.lineWidth = 1;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (var i = 0; i <= 4; i++) {
      var y = pad.t + ph - (ph * i) / 4;
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + pw, y); ctx.stroke();
      ctx.fillText(fmt((maxY * i) / 4, opts.yFormat), pad.l - 6, y);
    }
    var labels = opts.labels || [];
    var every = Math.max(1, Math.ceil(labels.length / 8));
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    return {pad: pad, pw: pw, ph: ph, every: every, labels: labels};
  }

  function legend(g, series) {
    var ctx = g.ctx, x = 56;
    ctx.textAlign = "left"; ctx.textBaseline = "middle";
    series.forEach(function (s, i) {
      ctx.fillStyle = s.color || PALETTE[i % PALETTE.length];
      ctx.fillRect(x, 8, 10, 10);
      ctx.fillStyle = "#374151";
      ctx.fillText(s.name, x + 14, 13);
      x += 24 + ctx.measureText(s.name).width;
    });
  }

  function record(canvas, kind, opts) {
    var sums = {};
    var points = 0;
    (opts.series || []).forEach(function (s) {
      var t = 0;
      s.values.forEach(function (v) { if (v !== null && isFinite(v)) { t += v; points++; } });
      sums[s.name] = t;
    });
    canvas.dataset.drawn = JSON.stringify({kind: kind, points: points, series: sums});
  }

  function empty(g, canvas, kind, opts) {
    g.ctx.fillStyle = "#9ca3af"; g.ctx.textAlign = "center"; g.ctx.textBaseline = "middle";
    g.ctx.fillText("no data in this window", g.w / 2, g.h / 2);
    record(canvas, kind, opts);
  }

  function line(canvas, opts) {
    var g = setup(canvas), series = opts.series || [];
    var maxY = 0, n = (opts.labels || []).length;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > maxY) maxY = v; }); });
    if (!n || !series.length) return empty(g, canvas, "line", opts);
    maxY = niceMax(maxY);
    var f = frame(g, opts, maxY), ctx = g.ctx;
    var xAt = function (i) { return f.pad.l + (n === 1 ? f.pw / 2 : (f.pw * i) / (n - 1)); };
    var yAt = function (v) { return f.pad.t + f.ph - (f.ph * v) / maxY; };
    ctx.fillStyle = "#6b7280";
    f.labels.forEach(function (l, i) { if (i % f.every === 0) ctx.fillText(l, xAt(i), f.pad.t + f.ph + 6); });
    series.forEach(function (s, k) {
      var color = s.color || PALETTE[k % PALETTE.length];
      ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2;
      ctx.beginPath();
      var started = false;
      s.values.forEach(function (v, i) {
        if (v === null || !isFinite(v)) { started = false; return; }
        if (!started) { ctx.moveTo(xAt(i), yAt(v)); started = true; } else ctx.lineTo(xAt(i), yAt(v));
      });
      ctx.stroke();
      s.values.forEach(function (v, i) {
        if (v === null || !isFinite(v)) return;
        ctx.beginPath(); ctx.arc(xAt(i), yAt(v), 2.5, 0, 2 * Math.PI); ctx.fill();
      });
    });
    legend(g, series);
    record(canvas, "line", opts);
  }

  function bar(canvas, opts) {
    var g = setup(canvas), series = opts.series || [];
    var labels = opts.labels || [], n = labels.length, maxY = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > maxY) maxY = v; }); });
    if (!n || !series.length) return empty(g, canvas, "bar", opts);
    maxY = niceMax(maxY);
    var f = frame(g, opts, maxY), ctx = g.ctx;
    var slot = f.pw / n, bw = Math.max(2, (slot * 0.7) / series.length);
    f.labels.forEach(function (l, i) {
      ctx.fillStyle = "#6b7280";
      if (i % f.every === 0) ctx.fillText(String(l).slice(0, 16), f.pad.l + slot * (i + 0.5), f.pad.t + f.ph + 6);
    });
    series.forEach(function (s, k) {
      ctx.fillStyle = s.color || PALETTE[k % PALETTE.length];
      s.values.forEach(function (v, i) {
        if (!(v > 0)) return;
        var h = (f.ph * v) / maxY;
        var x = f.pad.l + slot * i + slot * 0.15 + bw * k;
        ctx.fillRect(x, f.pad.t + f.ph - h, bw - 1, h);
      });
    });
    legend(g, series);
    record(canvas, "bar", opts);
  }

  global.TokenOptCharts = {line: line, bar: bar, palette: PALETTE};
})(window);
