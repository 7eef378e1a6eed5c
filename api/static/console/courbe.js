/* The agent's counter over time (Chart.js): a step line of the balance after each movement, the
   ceiling in force and the anticipation floor as steps, markers for acquisitions,
   regularisations, decrements and cancellations. The data is the page's own
   <script type="application/json" id="donnees-courbe"> (no inline script: strict CSP). */
(function () {
  "use strict";
  var holder = document.getElementById("donnees-courbe");
  var canvas = document.getElementById("courbe");
  if (!holder || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  var day = function (iso) { return Date.parse(iso + "T00:00:00Z"); };
  var fr = function (ms) {
    var d = new Date(ms);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(d.getUTCDate()) + "/" + two(d.getUTCMonth() + 1) + "/" + d.getUTCFullYear();
  };
  var signed = function (n) { return (n > 0 ? "+" : "") + n + " h"; };

  var points = data.points.map(function (p) { return { x: day(p.date), y: p.solde, m: p }; });
  var end = day(data.fin);
  var last = points.length ? points[points.length - 1] : { x: end, y: 0 };
  var steps = function (list) {
    return list.map(function (s) { return { x: day(s.date), y: s.valeur }; });
  };
  var marker = function (name, label, style, colour) {
    return {
      label: label,
      data: (data.marqueurs[name] || []).map(function (i) { return { x: points[i].x, y: points[i].y, m: points[i].m }; }),
      showLine: false, pointStyle: style, pointRadius: 7, pointHoverRadius: 9,
      borderColor: colour, backgroundColor: colour, order: 0
    };
  };
  var datasets = [
    { label: "Compteur", data: points, stepped: true, borderColor: "#1d4f91", backgroundColor: "#1d4f91",
      borderWidth: 2.5, pointRadius: 3, pointHoverRadius: 6, order: 1 },
    { label: "Compteur (jusqu'à la date affichée)", data: [{ x: last.x, y: last.y }, { x: Math.max(end, last.x), y: last.y }],
      borderColor: "#1d4f91", borderDash: [2, 3], borderWidth: 2, pointRadius: 0, pointStyle: "line", order: 2 },
    { label: "Plafond en vigueur", data: steps(data.plafond), stepped: true, borderColor: "#a4262c",
      borderDash: [8, 4], borderWidth: 1.5, pointRadius: 0, pointStyle: "line", order: 3 },
    { label: "Plancher d'anticipation", data: steps(data.plancher), stepped: true, borderColor: "#8a5300",
      borderDash: [3, 3], borderWidth: 1.5, pointRadius: 0, pointStyle: "line", order: 3 },
    marker("acquisitions", "Alimentations", "triangle", "#1b7a3a"),
    marker("regularisations", "Régularisations", "rectRot", "#6b2fa0"),
    marker("decrementations", "Décrémentations", "rect", "#c25400"),
    marker("annulations", "Annulations", "crossRot", "#333333")
  ];
  var firstYear = new Date(points.length ? points[0].x : end).getUTCFullYear();
  var lastYear = new Date(end).getUTCFullYear() + 1;

  var chart = new Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: true },
      scales: {
        x: {
          type: "linear",
          min: points.length ? points[0].x - 1000 * 3600 * 24 * 30 : end,
          max: end + 1000 * 3600 * 24 * 30,
          afterBuildTicks: function (axis) {
            var ticks = [];
            var every = lastYear - firstYear > 12 ? 2 : 1;
            for (var y = firstYear; y <= lastYear; y += every) {
              var v = Date.UTC(y, 0, 1);
              if (v >= axis.min && v <= axis.max) { ticks.push({ value: v }); }
            }
            axis.ticks = ticks;
          },
          ticks: { callback: function (v) { return String(new Date(v).getUTCFullYear()); } },
          title: { display: true, text: "Date d'effet" }
        },
        y: { title: { display: true, text: "Heures" } }
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true } },
        tooltip: {
          filter: function (item) { return item.datasetIndex === 0 || item.datasetIndex >= 4; },
          callbacks: {
            title: function (items) {
              var m = items[0].raw.m;
              return m ? m.libelle + " — " + fr(items[0].raw.x) : fr(items[0].raw.x);
            },
            label: function (item) {
              var m = item.raw.m;
              if (!m) { return item.dataset.label + " : " + item.raw.y + " h"; }
              var lines = ["Heures : " + signed(m.heures) + (m.reserve ? " (réserve " + signed(m.reserve) + ")" : ""),
                           "Compteur après : " + m.solde + " h"];
              if (m.detail) { lines.push(m.detail); }
              if (m.siret) { lines.push("SIRET " + m.siret); }
              if (m.canal) { lines.push("Provenance : " + m.canal); }
              return lines;
            }
          }
        }
      }
    }
  });
  canvas.dataset.pret = "oui";
  window.courbeCompteur = chart;
})();
