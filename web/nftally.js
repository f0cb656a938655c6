// SPDX-License-Identifier: GPL-2.0-or-later
/* nftally serve's charts: the page's numbers come from the server (the
 * HTML and the JSON API named in <body data-api>); this only draws them
 * with dygraphs, the system's copy served at /static/dygraph.min.js.
 * Every chart is kept in window.nftallyCharts (id -> Dygraph) and every
 * failure in window.nftallyErrors, for the browser test. */
'use strict';
(function () {
	var charts = {};
	var errors = [];

	window.nftallyCharts = charts;
	window.nftallyErrors = errors;
	window.nftallyReady = false;

	function fail(msg) {
		var p = document.createElement('p');

		p.className = 'error';
		p.textContent = msg;
		document.body.insertBefore(p, document.body.firstChild);
		errors.push(msg);
	}

	/* dygraphs writes series names into its legend as HTML */
	function esc(s) {
		return String(s).replace(/[&<>"']/g, function (c) {
			return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
		});
	}

	function table(t, cols) {
		return t.map(function (x, i) {
			return [new Date(x * 1000)].concat(cols.map(function (c) { return c[i]; }));
		});
	}

	function draw(el, t, names, cols, opts) {
		var o = {
			labels: ['time'].concat(names.map(esc)),
			ylabel: 'bit/s',
			labelsKMB: true,
			legend: 'always',
			includeZero: true,
			fillGraph: false,
			height: 240
		};
		var k;

		for (k in opts || {})
			o[k] = opts[k];
		charts[el.id] = new Dygraph(el, table(t, cols), o);
	}

	function constant(n, v) {
		var a = [];

		for (var i = 0; i < n; i++)
			a.push(v);
		return a;
	}

	/* one chart of a group list (addresses or classes): in and out of each */
	function groups(el, tier, list, key) {
		var names = [], cols = [];

		if (!list.length) {
			el.textContent = key === 'class' ? 'no network classes' : 'no addresses';
			el.className += ' empty';
			return;
		}
		list.forEach(function (g) {
			names.push(g[key] + ' in', g[key] + ' out');
			cols.push(g.in_bps, g.out_bps);
		});
		draw(el, tier.t, names, cols);
	}

	function overview(data) {
		var start = data.spark_start, step = data.spark_step;

		data.labels.forEach(function (l, i) {
			var el = document.querySelector('.spark[data-i="' + i + '"]');
			var t = l.spark_in_bps.map(function (_, k) { return start + k * step; });

			if (!el)
				return;
			el.id = 'spark-' + i;
			draw(el, t, ['in', 'out'], [l.spark_in_bps, l.spark_out_bps], {
				height: 32, width: 180, legend: 'never', drawGrid: false, ylabel: '',
				axes: { x: { drawAxis: false }, y: { drawAxis: false } },
				showLabelsOnHighlight: false, strokeWidth: 1
			});
		});
	}

	function label(data) {
		var s = data.series, m = s['5min'], c = data.cycles[0];
		var el = function (id) { return document.getElementById(id); };

		draw(el('chart-5min'), m.t, ['in', 'out', 'in p95', 'out p95'],
		     [m.in_bps, m.out_bps, constant(m.t.length, c.in_p95_bps),
		      constant(m.t.length, c.out_p95_bps)],
		     { series: { 'in p95': { strokePattern: [6, 3] },
				 'out p95': { strokePattern: [6, 3] } } });
		draw(el('chart-hour'), s.hour.t, ['in', 'out'], [s.hour.in_bps, s.hour.out_bps]);
		draw(el('chart-day'), s.day.t, ['in', 'out'], [s.day.in_bps, s.day.out_bps]);
		groups(el('chart-addr'), m, m.addr, 'addr');
		groups(el('chart-class'), m, m['class'], 'class');
		if (data.quota && data.quota.usage && el('chart-quota'))
			quota(el('chart-quota'), data.quota);
	}

	/* the cycle's billed bytes as they grew (a step at the end of each
	 * 5-minute slot with traffic, computed by serve), against the limit */
	function quota(elq, q) {
		var u = q.usage;

		draw(elq, u.t, ['used', 'limit'], [u.used_bytes, constant(u.t.length, q.limit_bytes)], {
			ylabel: 'bytes (' + q.bill + ')', stepPlot: true,
			series: { limit: { strokePattern: [6, 3], stepPlot: false } }
		});
	}

	function start() {
		var api = document.body.getAttribute('data-api');
		var page = document.body.getAttribute('data-page');

		if (!api)
			return;
		if (typeof Dygraph === 'undefined') {
			fail('the charting library is missing (/static/dygraph.min.js: install libjs-dygraphs)');
			window.nftallyReady = true;
			return;
		}
		fetch(api, { credentials: 'same-origin' }).then(function (r) {
			if (!r.ok)
				throw new Error(api + ': HTTP ' + r.status);
			return r.json();
		}).then(function (data) {
			if (page === 'overview')
				overview(data);
			else
				label(data);
		}).catch(function (e) {
			fail('cannot draw the charts: ' + e.message);
		}).then(function () {
			window.nftallyReady = true;
		});
	}

	document.addEventListener('DOMContentLoaded', start);
})();
