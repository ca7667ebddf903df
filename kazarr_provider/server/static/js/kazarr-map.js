/* kazarr_provider: draws CoverageJSON and GeoJSON on a Leaflet map without any tile server.
 *
 * The map is in plate carrée (L.CRS.EPSG4326), so a regular longitude/latitude grid is one image
 * stretched over its bounds; grids in a projected CRS come with the longitude/latitude of their cell
 * corners (computed by the server with PROJ) and are painted cell by cell; points are circle markers.
 * Nothing is fetched from outside this server: a graticule stands in for a base map.
 *
 * After drawing, window.kazarrMap says what was drawn ({cells, markers, features, painted}) and the
 * map element gets data-drawn="yes" (or data-drawn="error" with data-error).
 */
(function () {
  'use strict';

  // viridis, 9 stops
  var STOPS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
               [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];

  function colour(t) {
    if (!(t >= 0)) { t = 0; }
    if (t > 1) { t = 1; }
    var x = t * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
    var a = STOPS[i], b = STOPS[i + 1];
    return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f),
            Math.round(a[2] + (b[2] - a[2]) * f)];
  }

  function css(rgb) { return 'rgb(' + rgb[0] + ',' + rgb[1] + ',' + rgb[2] + ')'; }

  function gradient() {
    return 'linear-gradient(to right,' + STOPS.map(css).join(',') + ')';
  }

  function text(value) {
    if (value === null || value === undefined) { return ''; }
    if (typeof value === 'number') {
      if (!isFinite(value)) { return String(value); }
      var a = Math.abs(value);
      return (a !== 0 && (a < 1e-3 || a >= 1e9)) ? value.toExponential(4) : String(Math.round(value * 1e6) / 1e6);
    }
    if (Array.isArray(value)) { return value.map(text).join(' '); }
    return String(value);
  }

  function label(value) {
    if (value === null || value === undefined) { return ''; }
    if (typeof value === 'string') { return value; }
    return value.en || value[Object.keys(value)[0]] || '';
  }

  // ---- the map --------------------------------------------------------------------------------------

  function makeMap(element) {
    var map = L.map(element, {crs: L.CRS.EPSG4326, preferCanvas: true, attributionControl: false,
                              zoomSnap: 0.25, minZoom: -1, maxZoom: 16, worldCopyJump: false});
    map.setView([0, 0], 0);
    L.control.scale({imperial: false}).addTo(map);
    // lines that are not data (graticule, extent) are SVG: the canvas holds the data alone
    map.kazarrLines = L.svg({padding: 0.5});
    drawGraticule(map, 30);
    return map;
  }

  function drawGraticule(map, step) {
    var style = {color: '#c8c8c8', weight: 1, interactive: false, renderer: map.kazarrLines};
    var group = L.layerGroup().addTo(map);
    for (var lat = -90; lat <= 90; lat += step) {
      L.polyline([[lat, -180], [lat, 360]], style).addTo(group);
    }
    for (var lon = -180; lon <= 360; lon += step) {
      L.polyline([[-90, lon], [90, lon]], style).addTo(group);
    }
    L.rectangle([[-90, -180], [90, 180]], {color: '#999', weight: 1, fill: false, interactive: false,
                                           renderer: map.kazarrLines}).addTo(group);
    return group;
  }

  function drawBBox(map, bbox, options) {
    var west = bbox[0], south = bbox[1], east = bbox[2], north = bbox[3];
    if (east < west) { east += 360; }
    var layer = L.rectangle([[south, west], [north, east]],
                            Object.assign({color: '#d9534f', weight: 2, fill: false, dashArray: '6 4',
                                           interactive: false, renderer: map.kazarrLines}, options || {})).addTo(map);
    return layer;
  }

  function fit(map, bounds) {
    if (!bounds || !bounds.isValid()) { return; }
    var centre = bounds.getCenter(), half = 2.5;
    if (bounds.getEast() - bounds.getWest() < 0.01 && bounds.getNorth() - bounds.getSouth() < 0.01) {
      // one point: show 5 degrees around it
      bounds = L.latLngBounds([[centre.lat - half, centre.lng - half], [centre.lat + half, centre.lng + half]]);
    }
    map.fitBounds(bounds.pad(0.05), {maxZoom: 12, animate: false});
  }

  // ---- CoverageJSON ---------------------------------------------------------------------------------

  function coverages(document) {
    var list = document.type === 'CoverageCollection' ? (document.coverages || []) : [document];
    return list.map(function (coverage, index) {
      var domain = coverage.domain || {};
      return {
        index: index,
        coverage: coverage,
        domainType: domain.domainType || document.domainType,
        axes: domain.axes || {},
        referencing: domain.referencing || document.referencing || [],
        parameters: Object.assign({}, document.parameters || {}, coverage.parameters || {}),
        dimensions: coverage['kazarr:dimensions'] || null
      };
    });
  }

  function axisValues(axis) {
    if (!axis) { return []; }
    if (axis.values) { return axis.values; }
    if ('num' in axis) {
      var out = [], n = axis.num;
      for (var i = 0; i < n; i++) { out.push(n === 1 ? axis.start : axis.start + (axis.stop - axis.start) * i / (n - 1)); }
      return out;
    }
    return [];
  }

  /* Every (coverage, parameter) pair that can be drawn, with its label. */
  function layers(document) {
    var out = [];
    var all = coverages(document);
    var counts = {};
    all.forEach(function (c) { Object.keys(c.coverage.ranges || {}).forEach(function (k) { counts[k] = (counts[k] || 0) + 1; }); });
    all.forEach(function (c) {
      Object.keys(c.coverage.ranges || {}).forEach(function (key) {
        var parameter = c.parameters[key] || {};
        var unit = parameter.unit ? (label(parameter.unit.symbol) || label(parameter.unit.label)) : '';
        var name = label((parameter.observedProperty || {}).label) || label(parameter.description) || key;
        var title = key + (name && name !== key ? ' — ' + name : '') + (unit ? ' [' + unit + ']' : '');
        if (counts[key] > 1) {
          title += c.dimensions ? ' (' + Object.keys(c.dimensions).map(function (d) { return d + ' ' + c.dimensions[d]; }).join(', ') + ')'
                                : ' (' + c.domainType + ' #' + (c.index + 1) + ')';
        }
        out.push({id: c.index + ':' + key, key: key, cov: c, unit: unit, title: title});
      });
    });
    return out;
  }

  /* The axes of a range other than the spatial ones: the ones a person picks one value of. */
  function sliceAxes(layer) {
    var range = layer.cov.coverage.ranges[layer.key];
    var names = range.axisNames || [];
    return names.filter(function (n) { return n !== 'x' && n !== 'y' && n !== 'composite'; }).map(function (n) {
      return {name: n, values: axisValues(layer.cov.axes[n])};
    }).filter(function (a) { return a.values.length > 0; });
  }

  function strides(range) {
    var shape = range.shape || [], out = {}, s = 1;
    for (var i = shape.length - 1; i >= 0; i--) { out[range.axisNames[i]] = s; s *= shape[i]; }
    return out;
  }

  function compositeIndex(composite, name) {
    return (composite && composite.coordinates) ? composite.coordinates.indexOf(name) : -1;
  }

  /* {kind, lonlat positions or grid, values} of one layer at the chosen slice. */
  function extract(layer, chosen, geo) {
    var c = layer.cov, range = c.coverage.ranges[layer.key];
    var st = strides(range), base = 0;
    Object.keys(chosen || {}).forEach(function (n) { if (n in st) { base += st[n] * chosen[n]; } });
    var values = range.values || [];
    var helper = geo ? geo[String(c.index)] : null;
    if (helper && helper.error) { throw new Error(helper.error); }
    if (c.axes.composite) {
      var composite = c.axes.composite, ix = compositeIndex(composite, 'x'), iy = compositeIndex(composite, 'y');
      var tuples = composite.values || [], points = [], vals = [];
      for (var p = 0; p < tuples.length; p++) {
        var position = helper && helper.points ? helper.points[p] : [tuples[p][ix], tuples[p][iy]];
        points.push(position);
        vals.push(values[base + p * (st.composite || 1)]);
      }
      return {kind: 'points', points: points, values: vals, line: c.domainType === 'Trajectory'};
    }
    var xs = axisValues(c.axes.x), ys = axisValues(c.axes.y);
    if (c.domainType === 'Grid' && (xs.length > 1 || ys.length > 1 || helper)) {
      var grid = [], sx = st.x || 0, sy = st.y || 0;
      for (var j = 0; j < ys.length; j++) {
        for (var i = 0; i < xs.length; i++) { grid.push(values[base + j * sy + i * sx]); }
      }
      return {kind: 'grid', xs: xs, ys: ys, values: grid, corners: helper ? helper.corners : null};
    }
    var pts = [], pv = [];
    for (var b = 0; b < ys.length; b++) {
      for (var a = 0; a < xs.length; a++) {
        pts.push(helper && helper.points ? helper.points[b * xs.length + a] : [xs[a], ys[b]]);
        pv.push(values[base + b * (st.y || 0) + a * (st.x || 0)]);
      }
    }
    return {kind: 'points', points: pts, values: pv, line: false};
  }

  function scale(values) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v !== null && v !== undefined && isFinite(v)) { if (v < lo) { lo = v; } if (v > hi) { hi = v; } }
    }
    if (lo === Infinity) { return null; }
    if (hi === lo) { hi = lo + 1; lo = lo - 1; }
    return {min: lo, max: hi};
  }

  function isNumber(v) { return v !== null && v !== undefined && typeof v === 'number' && isFinite(v); }

  function countPainted(canvas) {
    var data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, n = 0;
    for (var i = 3; i < data.length; i += 4) { if (data[i] > 0) { n++; } }
    return n;
  }

  function paintRegular(part, range) {
    var nx = part.xs.length, ny = part.ys.length;
    var canvas = document.createElement('canvas');
    canvas.width = nx; canvas.height = ny;
    var ctx = canvas.getContext('2d'), image = ctx.createImageData(nx, ny);
    var yUp = ny > 1 && part.ys[1] > part.ys[0], xDown = nx > 1 && part.xs[1] < part.xs[0];
    for (var j = 0; j < ny; j++) {
      var row = yUp ? ny - 1 - j : j;
      for (var i = 0; i < nx; i++) {
        var v = part.values[j * nx + i];
        if (!isNumber(v)) { continue; }
        var rgb = colour((v - range.min) / (range.max - range.min));
        var o = 4 * (row * nx + (xDown ? nx - 1 - i : i));
        image.data[o] = rgb[0]; image.data[o + 1] = rgb[1]; image.data[o + 2] = rgb[2]; image.data[o + 3] = 220;
      }
    }
    ctx.putImageData(image, 0, 0);
    var dx = nx > 1 ? Math.abs(part.xs[1] - part.xs[0]) : 1, dy = ny > 1 ? Math.abs(part.ys[1] - part.ys[0]) : 1;
    var west = Math.min(part.xs[0], part.xs[nx - 1]) - dx / 2, east = Math.max(part.xs[0], part.xs[nx - 1]) + dx / 2;
    var south = Math.min(part.ys[0], part.ys[ny - 1]) - dy / 2, north = Math.max(part.ys[0], part.ys[ny - 1]) + dy / 2;
    return {canvas: canvas, bounds: L.latLngBounds([[south, west], [north, east]])};
  }

  function paintCorners(part, range) {
    var c = part.corners, nx = c.nx - 1, ny = c.ny - 1;
    var west = Infinity, east = -Infinity, south = Infinity, north = -Infinity;
    for (var k = 0; k < c.lon.length; k++) {
      if (c.lon[k] === null || c.lat[k] === null) { continue; }
      west = Math.min(west, c.lon[k]); east = Math.max(east, c.lon[k]);
      south = Math.min(south, c.lat[k]); north = Math.max(north, c.lat[k]);
    }
    var width = Math.min(2048, Math.max(256, nx * 3));
    var height = Math.min(2048, Math.max(64, Math.round(width * (north - south) / Math.max(east - west, 1e-9))));
    var canvas = document.createElement('canvas');
    canvas.width = width; canvas.height = height;
    var ctx = canvas.getContext('2d');
    function px(k) { return [(c.lon[k] - west) / (east - west) * width, (north - c.lat[k]) / (north - south) * height]; }
    for (var j = 0; j < ny; j++) {
      for (var i = 0; i < nx; i++) {
        var v = part.values[j * nx + i];
        if (!isNumber(v)) { continue; }
        var corners = [j * c.nx + i, j * c.nx + i + 1, (j + 1) * c.nx + i + 1, (j + 1) * c.nx + i];
        if (corners.some(function (q) { return c.lon[q] === null || c.lat[q] === null; })) { continue; }
        var fill = css(colour((v - range.min) / (range.max - range.min)));
        ctx.fillStyle = fill; ctx.strokeStyle = fill; ctx.lineWidth = 0.6;
        ctx.beginPath();
        corners.forEach(function (q, n) { var p = px(q); if (n === 0) { ctx.moveTo(p[0], p[1]); } else { ctx.lineTo(p[0], p[1]); } });
        ctx.closePath(); ctx.fill(); ctx.stroke();
      }
    }
    return {canvas: canvas, bounds: L.latLngBounds([[south, west], [north, east]])};
  }

  /* Draws `part` (from extract) on `map` inside `group`; returns what was drawn. */
  function drawPart(map, group, part, range, unit) {
    var drawn = {cells: 0, markers: 0, painted: 0, bounds: null};
    if (!range) { return drawn; }
    if (part.kind === 'grid') {
      var painted = part.corners ? paintCorners(part, range) : paintRegular(part, range);
      drawn.painted = countPainted(painted.canvas);
      drawn.cells = part.values.filter(isNumber).length;
      drawn.bounds = painted.bounds;
      var overlay = L.imageOverlay(painted.canvas.toDataURL('image/png'), painted.bounds,
                                   {className: 'kazarr-grid', interactive: false, opacity: 0.9});
      overlay.addTo(group);
      return drawn;
    }
    var bounds = L.latLngBounds([]), line = [];
    part.points.forEach(function (position, n) {
      if (!position || position[0] === null || position[1] === null) { return; }
      var v = part.values[n], latlng = L.latLng(position[1], position[0]);
      bounds.extend(latlng); line.push(latlng);
      var count = part.points.length;
      var marker = L.circleMarker(latlng, {radius: count > 2000 ? 3 : (count > 200 ? 4 : 6), weight: 1, color: '#333',
                                          fillColor: isNumber(v) ? css(colour((v - range.min) / (range.max - range.min))) : '#fff',
                                          fillOpacity: 0.9});
      marker.bindTooltip(text(v) + (unit ? ' ' + unit : '') + ' at ' + text(position[0]) + ', ' + text(position[1]));
      marker.addTo(group);
      drawn.markers++;
    });
    if (part.line && line.length > 1) { L.polyline(line, {color: '#555', weight: 2, interactive: false}).addTo(group); }
    drawn.bounds = bounds;
    return drawn;
  }

  function legend(element, range, unit) {
    if (!element) { return; }
    element.innerHTML = '';
    if (!range) { element.textContent = 'no values to draw'; return; }
    var bar = document.createElement('div');
    bar.className = 'kazarr-legend-bar';
    bar.style.background = gradient();
    var low = document.createElement('span'), high = document.createElement('span');
    low.textContent = text(range.min); high.textContent = text(range.max) + (unit ? ' ' + unit : '');
    element.appendChild(low); element.appendChild(bar); element.appendChild(high);
  }

  function report(element, drawn) {
    window.kazarrMap = drawn;
    if (element) { element.setAttribute('data-drawn', 'yes'); }
  }

  function fail(element, error) {
    window.kazarrMap = {error: String(error && error.message || error)};
    if (element) {
      element.setAttribute('data-drawn', 'error');
      element.setAttribute('data-error', window.kazarrMap.error);
    }
    var box = document.getElementById('map-message');
    if (box) { box.textContent = window.kazarrMap.error; box.classList.remove('d-none'); }
  }

  /* A viewer for one CoverageJSON document: a layer select, one select per other axis, a legend, a table. */
  function CoverageViewer(map, controls, options) {
    this.map = map;
    this.controls = controls;            // element for the selects
    this.options = options || {};
    this.group = L.layerGroup().addTo(map);
    this.fitted = false;
  }

  CoverageViewer.prototype.show = function (document, geo) {
    this.document = document;
    this.geo = geo || {};
    this.layers = layers(document);
    this.chosen = {};
    // the first field shown: the first of options.order (parameter ids, preferred first) that the answer has
    var order = this.options.order || [], ranked = this.layers.slice();
    ranked.sort(function (a, b) {
      var ia = order.indexOf(a.key), ib = order.indexOf(b.key);
      return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
    });
    this.current = ranked.length ? ranked[0] : null;
    this.buildControls();
    this.draw();
  };

  CoverageViewer.prototype.buildControls = function () {
    var self = this, box = this.controls;
    if (!box) { return; }
    box.innerHTML = '';
    if (this.layers.length > 1) {
      box.appendChild(select('Field', this.layers.map(function (l) { return [l.id, l.title]; }), this.current.id,
        function (value) {
          self.current = self.layers.filter(function (l) { return l.id === value; })[0];
          self.buildControls(); self.draw();
        }));
    } else if (this.current) {
      var only = document.createElement('span');
      only.className = 'me-3'; only.textContent = this.current.title;
      box.appendChild(only);
    }
    if (!this.current) { return; }
    sliceAxes(this.current).forEach(function (axis) {
      if (!(axis.name in self.chosen) || self.chosen[axis.name] >= axis.values.length) { self.chosen[axis.name] = 0; }
      if (axis.values.length < 2) { return; }
      box.appendChild(select(axis.name, axis.values.map(function (v, i) { return [String(i), text(v)]; }),
        String(self.chosen[axis.name]), function (value) { self.chosen[axis.name] = Number(value); self.draw(); }));
    });
  };

  function select(name, choices, value, change) {
    var wrap = document.createElement('label');
    wrap.className = 'me-3 mb-2';
    wrap.appendChild(document.createTextNode(name + ' '));
    var s = document.createElement('select');
    s.className = 'form-select form-select-sm d-inline-block w-auto';
    s.name = name;
    choices.forEach(function (choice) {
      var o = document.createElement('option');
      o.value = choice[0]; o.textContent = choice[1];
      if (choice[0] === value) { o.selected = true; }
      s.appendChild(o);
    });
    s.addEventListener('change', function () { change(s.value); });
    wrap.appendChild(s);
    return wrap;
  }

  CoverageViewer.prototype.draw = function () {
    var element = this.map.getContainer();
    try {
      this.group.clearLayers();
      if (!this.current) { report(element, {cells: 0, markers: 0, painted: 0}); legend(this.options.legend, null); return; }
      var part = extract(this.current, this.chosen, this.geo);
      var range = scale(part.values);
      var drawn = drawPart(this.map, this.group, part, range, this.current.unit);
      legend(this.options.legend, range, this.current.unit);
      if (!this.fitted && drawn.bounds) { fit(this.map, drawn.bounds); this.fitted = true; }
      if (this.options.table) { this.table(part); }
      report(element, {cells: drawn.cells, markers: drawn.markers, painted: drawn.painted, features: 0,
                       layer: this.current.id});
    } catch (error) {
      fail(element, error);
    }
  };

  /* The values of the chosen field: every index of its range (first rows only for big ones). */
  CoverageViewer.prototype.table = function () {
    var table = this.options.table, limit = this.options.rows || 500;
    var layer = this.current, c = layer.cov, range = c.coverage.ranges[layer.key];
    var names = range.axisNames || [], shape = range.shape || [], values = range.values || [];
    var columns = [];
    names.forEach(function (n) {
      if (n === 'composite') {
        (c.axes.composite.coordinates || []).forEach(function (k, i) { columns.push({axis: 'composite', name: k, part: i}); });
      } else { columns.push({axis: n, name: n}); }
    });
    var head = '<thead><tr>' + columns.map(function (col) { return '<th>' + escape(col.name) + '</th>'; }).join('') +
               '<th>' + escape(layer.key) + (layer.unit ? ' [' + escape(layer.unit) + ']' : '') + '</th></tr></thead>';
    var rows = [], total = values.length, n = Math.min(total, limit);
    var axisCache = {};
    names.forEach(function (name) { axisCache[name] = name === 'composite' ? c.axes.composite.values : axisValues(c.axes[name]); });
    for (var flat = 0; flat < n; flat++) {
      var rest = flat, index = {};
      for (var a = names.length - 1; a >= 0; a--) { index[names[a]] = rest % shape[a]; rest = Math.floor(rest / shape[a]); }
      var cells = columns.map(function (col) {
        var v = axisCache[col.axis][index[col.axis]];
        return '<td>' + escape(text(col.axis === 'composite' ? v[col.part] : v)) + '</td>';
      });
      rows.push('<tr>' + cells.join('') + '<td>' + escape(text(values[flat])) + '</td></tr>');
    }
    table.innerHTML = head + '<tbody>' + rows.join('') + '</tbody>';
    var note = this.options.tableNote;
    if (note) {
      var system = c.referencing.filter(function (r) { return (r.coordinates || []).indexOf('x') >= 0; })[0];
      var crs = system && system.system && system.system.id ? ', x/y in ' + system.system.id : '';
      note.textContent = (total > n ? 'first ' + n + ' of ' + total + ' values' : total + ' values') + crs;
    }
  };

  function escape(s) {
    return String(s).replace(/[&<>"]/g, function (ch) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[ch]; });
  }

  // ---- GeoJSON -------------------------------------------------------------------------------------

  function drawGeoJSON(map, geojson) {
    var numbers = [];
    (geojson.features || []).forEach(function (f) {
      var p = f.properties || {};
      var v = 'level' in p ? p.level : ('lower' in p ? p.lower : null);
      if (isNumber(v)) { numbers.push(v); }
    });
    var range = scale(numbers);
    var features = 0;
    var layer = L.geoJSON(geojson, {
      style: function (f) {
        var p = f.properties || {}, v = 'level' in p ? p.level : p.lower;
        var rgb = range && isNumber(v) ? css(colour((v - range.min) / (range.max - range.min))) : '#3366cc';
        return {color: rgb, weight: 2, fillColor: rgb, fillOpacity: 0.5};
      },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 4}); },
      onEachFeature: function (f, l) {
        features++;
        var p = f.properties || {};
        l.bindTooltip(Object.keys(p).map(function (k) { return k + ': ' + text(p[k]); }).join(', '));
      }
    }).addTo(map);
    fit(map, layer.getBounds());
    return {features: features, range: range};
  }

  function fetchJSON(url) {
    return fetch(url, {headers: {'Accept': 'application/json'}}).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (body) {
          var reason = body;
          try { reason = JSON.parse(body).description || JSON.parse(body).detail || body; } catch (e) { /* text */ }
          throw new Error(response.status + ': ' + reason);
        });
      }
      return response.json();
    });
  }

  window.Kazarr = {
    makeMap: makeMap, drawBBox: drawBBox, CoverageViewer: CoverageViewer, drawGeoJSON: drawGeoJSON,
    fetchJSON: fetchJSON, report: report, fail: fail, legend: legend, colour: colour, text: text
  };
}());
