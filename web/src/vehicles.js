// The vehicles: tens of thousands of points on one canvas over the map.
//
// Per-vehicle SVG/DOM markers (or Leaflet circleMarkers) cost far too much at 20,000, so the
// layer keeps vehicles in typed arrays (position already projected to Web Mercator, so a
// redraw is a multiply-add per vehicle) and paints them on one canvas, batched by colour.
// At low zoom the points are clustered on a pixel grid. Updates only mark the layer dirty;
// the paint happens once per animation frame whatever the number of updates.
import L from "leaflet";

export const STATUSES = ["idle", "on_trip", "stalled", "arrived"];
export const STATUS_COLOURS = {
  idle: "#6b7785",
  on_trip: "#1f7ae0",
  stalled: "#d92d20",
  arrived: "#12a150",
};
const STATUS_INDEX = Object.fromEntries(STATUSES.map((s, i) => [s, i]));
// Cluster colour: the most urgent status present in the cell.
const URGENCY = [1, 2, 3, 0]; // by status index: stalled > on_trip > idle > arrived
const CLUSTER_BELOW_ZOOM = 11;
const CLUSTER_CELL_PX = 44;
const TRAIL_MS = 60 * 60 * 1000;
const TRAIL_MAX = 720;

const TILE = 256;
const mercX = (lon) => ((lon + 180) / 360) * TILE;
function mercY(lat) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE;
}

export class VehicleStore {
  constructor(capacity = 1024) {
    this.index = new Map(); // vehicle_id -> slot
    this.ids = [];
    this.size = 0;
    this.allocate(capacity);
    this.records = []; // slot -> the vehicle as the messages left it (for the details panel)
    this.pending = new Map(); // vehicle_id -> a status that came before any position
    this.trails = new Map(); // vehicle_id -> [t, lat, lon, t, lat, lon, …]
    this.counts = { bus: 0, truck: 0 };
  }

  allocate(capacity) {
    const grow = (Old, old) => {
      const next = new Old.constructor(capacity);
      if (old) next.set(old.subarray(0, this.size));
      return next;
    };
    this.x = grow(new Float64Array(0), this.x);
    this.y = grow(new Float64Array(0), this.y);
    this.status = grow(new Uint8Array(0), this.status);
    this.truck = grow(new Uint8Array(0), this.truck);
    this.capacity = capacity;
  }

  clear() {
    this.index.clear();
    this.ids = [];
    this.records = [];
    this.pending.clear();
    this.size = 0;
    this.trails.clear();
    this.counts = { bus: 0, truck: 0 };
  }

  /** Apply positions (Vehicle or Position); a fix older than the one held (by `at`) is
   *  ignored. The fields a message leaves out (a Position has no status) keep their value. */
  apply(vehicles) {
    for (const v of vehicles) {
      if (typeof v.lat !== "number" || typeof v.lon !== "number") {
        // No position (a vehicle known only by its status): keep what it says, never drop it.
        this.applyStatus([v].filter((x) => typeof x.status === "string"));
        continue;
      }
      let slot = this.index.get(v.vehicle_id);
      let held = null;
      if (slot === undefined) {
        if (this.size === this.capacity) this.allocate(this.capacity * 2);
        slot = this.size++;
        this.index.set(v.vehicle_id, slot);
        this.ids[slot] = v.vehicle_id;
        this.truck[slot] = v.kind === "truck" ? 1 : 0;
        this.counts[v.kind === "truck" ? "truck" : "bus"] += 1;
        held = this.pending.get(v.vehicle_id) || null;
        this.pending.delete(v.vehicle_id);
      } else {
        held = this.records[slot];
        if (held && held.at && v.at && v.at < held.at) continue;
      }
      const record = held ? { ...held, ...v } : v;
      this.records[slot] = record;
      this.x[slot] = mercX(v.lon);
      this.y[slot] = mercY(v.lat);
      this.status[slot] = STATUS_INDEX[record.status] ?? 0;
      this.remember(v);
    }
  }

  /** Apply statuses (`vehicle_status`: status, next stop, ETA); the position stays. A
   *  status for a vehicle with no position yet waits for its first position. */
  applyStatus(statuses) {
    for (const s of statuses) {
      const status = { status: s.status, next_stop: s.next_stop, eta: s.eta };
      const slot = this.index.get(s.vehicle_id);
      if (slot === undefined) {
        this.pending.set(s.vehicle_id, { ...this.pending.get(s.vehicle_id), ...status });
        continue;
      }
      this.records[slot] = { ...this.records[slot], ...status };
      this.status[slot] = STATUS_INDEX[s.status] ?? 0;
    }
  }

  remember(v) {
    const t = Date.parse(v.at);
    if (Number.isNaN(t)) return;
    let trail = this.trails.get(v.vehicle_id);
    if (!trail) {
      trail = [];
      this.trails.set(v.vehicle_id, trail);
    }
    trail.push(t, v.lat, v.lon);
    // Keep the last hour of event time, and a bounded number of fixes.
    let drop = 0;
    while (drop < trail.length && (trail[drop] < t - TRAIL_MS || trail.length - drop > TRAIL_MAX * 3))
      drop += 3;
    if (drop > 0) trail.splice(0, drop);
  }

  get(vehicleId) {
    const slot = this.index.get(vehicleId);
    return slot === undefined ? null : this.records[slot];
  }

  trail(vehicleId) {
    const flat = this.trails.get(vehicleId) || [];
    const points = [];
    for (let i = 0; i < flat.length; i += 3) points.push([flat[i + 1], flat[i + 2]]);
    return points;
  }
}

export const VehicleLayer = L.Layer.extend({
  initialize(store) {
    this.store = store;
    this.selected = null;
    this.lastDrawMs = 0;
    this.frame = null;
    this.visible = [];
  },

  onAdd(map) {
    this.map = map;
    this.canvas = L.DomUtil.create("canvas", "vehicle-canvas");
    Object.assign(this.canvas.style, { position: "absolute", left: 0, top: 0, zIndex: 450, pointerEvents: "none" });
    map.getContainer().appendChild(this.canvas);
    this.events = { move: this.redraw, zoom: this.redraw, resize: this.redraw, viewreset: this.redraw };
    map.on(this.events, this);
    map.on("click", this.pick, this);
    this.redraw();
  },

  onRemove(map) {
    map.off(this.events, this);
    map.off("click", this.pick, this);
    this.canvas.remove();
  },

  /** Ask for a paint on the next animation frame (many updates, one paint). */
  schedule() {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  },

  redraw() {
    this.draw();
  },

  draw() {
    const t0 = performance.now();
    const map = this.map;
    if (!map) return;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    const canvas = this.canvas;
    if (canvas.width !== size.x * ratio || canvas.height !== size.y * ratio) {
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const zoom = map.getZoom();
    const scale = 2 ** zoom;
    // Pixel origin of the container's top-left corner in world pixels at this zoom.
    const origin = map.project(map.containerPointToLatLng([0, 0]), zoom);
    const { x, y, status, truck } = this.store;
    const n = this.store.size;
    const w = size.x;
    const h = size.y;
    if (zoom < CLUSTER_BELOW_ZOOM && n > 500) {
      this.drawClusters(ctx, n, x, y, status, scale, origin, w, h);
    } else {
      const r = zoom >= 14 ? 4 : 3;
      let drawn = 0;
      for (let s = 0; s < STATUSES.length; s++) {
        ctx.fillStyle = STATUS_COLOURS[STATUSES[s]];
        ctx.beginPath();
        for (let i = 0; i < n; i++) {
          if (status[i] !== s) continue;
          const px = x[i] * scale - origin.x;
          const py = y[i] * scale - origin.y;
          if (px < -r || py < -r || px > w + r || py > h + r) continue;
          drawn++;
          // Trucks are squares, buses are diamonds: both cheap path segments.
          if (truck[i]) ctx.rect(px - r, py - r, 2 * r, 2 * r);
          else {
            ctx.moveTo(px, py - r - 1);
            ctx.lineTo(px + r + 1, py);
            ctx.lineTo(px, py + r + 1);
            ctx.lineTo(px - r - 1, py);
            ctx.closePath();
          }
        }
        ctx.fill();
      }
      this.drawn = drawn;
    }
    if (this.selected) {
      const slot = this.store.index.get(this.selected);
      if (slot !== undefined) {
        const px = x[slot] * scale - origin.x;
        const py = y[slot] * scale - origin.y;
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(px, py, 9, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    this.lastDrawMs = performance.now() - t0;
  },

  drawClusters(ctx, n, x, y, status, scale, origin, w, h) {
    this.drawn = 0;
    const cols = Math.ceil(w / CLUSTER_CELL_PX) + 1;
    const rows = Math.ceil(h / CLUSTER_CELL_PX) + 1;
    const count = new Uint32Array(cols * rows);
    const sumX = new Float64Array(cols * rows);
    const sumY = new Float64Array(cols * rows);
    const worst = new Uint8Array(cols * rows);
    for (let i = 0; i < n; i++) {
      const px = x[i] * scale - origin.x;
      const py = y[i] * scale - origin.y;
      if (px < 0 || py < 0 || px >= w || py >= h) continue;
      const cell = Math.floor(py / CLUSTER_CELL_PX) * cols + Math.floor(px / CLUSTER_CELL_PX);
      count[cell]++;
      sumX[cell] += px;
      sumY[cell] += py;
      const u = URGENCY[status[i]];
      if (u > worst[cell]) worst[cell] = u;
    }
    const byUrgency = [3, 0, 1, 2]; // urgency -> status index
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let cell = 0; cell < count.length; cell++) {
      const c = count[cell];
      if (!c) continue;
      this.drawn++;
      const cx = sumX[cell] / c;
      const cy = sumY[cell] / c;
      const radius = c === 1 ? 4 : Math.min(20, 8 + Math.log2(c) * 1.6);
      ctx.fillStyle = STATUS_COLOURS[STATUSES[byUrgency[worst[cell]]]];
      ctx.globalAlpha = 0.85;
      ctx.beginPath();
      ctx.arc(cx, cy, radius, 0, 2 * Math.PI);
      ctx.fill();
      ctx.globalAlpha = 1;
      if (c > 1) {
        ctx.fillStyle = "#fff";
        ctx.fillText(c > 9999 ? `${Math.round(c / 1000)}k` : String(c), cx, cy);
      }
    }
  },

  /** A click near a vehicle selects it (the nearest within 10 px). */
  pick(event) {
    const map = this.map;
    const zoom = map.getZoom();
    if (zoom < CLUSTER_BELOW_ZOOM && this.store.size > 500) {
      map.setView(event.latlng, Math.min(zoom + 2, CLUSTER_BELOW_ZOOM));
      return;
    }
    const scale = 2 ** zoom;
    const origin = map.project(map.containerPointToLatLng([0, 0]), zoom);
    const { x, y } = this.store;
    let best = -1;
    let bestD = 100;
    for (let i = 0; i < this.store.size; i++) {
      const dx = x[i] * scale - origin.x - event.containerPoint.x;
      const dy = y[i] * scale - origin.y - event.containerPoint.y;
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    if (best >= 0) this.fire("vehicleclick", { vehicleId: this.store.ids[best] });
  },

  /** Screen position of a vehicle (container pixels), or null: used by the tests and focus. */
  pointOf(vehicleId) {
    const slot = this.store.index.get(vehicleId);
    if (slot === undefined || !this.map) return null;
    const zoom = this.map.getZoom();
    const scale = 2 ** zoom;
    const origin = this.map.project(this.map.containerPointToLatLng([0, 0]), zoom);
    return { x: this.store.x[slot] * scale - origin.x, y: this.store.y[slot] * scale - origin.y };
  },
});
