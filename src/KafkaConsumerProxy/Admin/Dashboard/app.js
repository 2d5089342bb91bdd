"use strict";
// The kcp dashboard: reads /api/v1 every 2 s (each route's history every 10 s); actions ask for confirmation first.
// Everything the API says is written with textContent or as SVG attributes, never as HTML.
(function () {
  let token = sessionStorage.getItem("kcp-token") || "";
  let tokenRequired = false;
  // The server's clock minus the browser's, so that ages are the server's: 0 while the answers' Date headers (whole
  // seconds) allow it, else the nearest value they allow, narrowed with every answer (restarted if the clocks move).
  let skew = 0, lower = -Infinity, upper = Infinity;
  function clock(date, before, after) {
    const low = date - after, high = date + 1000 - before;
    lower = Math.max(lower, low);
    upper = Math.min(upper, high);
    if (lower > upper) { lower = low; upper = high; }
    skew = Math.min(Math.max(0, lower), upper);
  }
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const HISTORY_EVERY_MS = 10000;
  const history = new Map();

  const now = () => Date.now() + skew;

  // As kcp status writes ages: the two largest parts, "45s", "2m 10s", "3h 5m", "2d 4h".
  function age(ms) {
    let s = Math.max(0, Math.floor(ms / 1000));
    const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]];
    const first = parts.findIndex((p) => p[0] > 0);
    if (first < 0) return "0s";
    return parts.slice(first, first + 2).filter((p, i) => i === 0 || p[0] > 0).map((p) => p[0] + p[1]).join(" ");
  }
  const since = (iso) => age(now() - Date.parse(iso));
  const number = (n) => (n === null || n === undefined || n < 0 ? "-" : String(n));
  // BadStatus -> bad_status, as the metrics label outcomes.
  const outcome = (o) => String(o).replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  const label = (health) => health.replace(/_/g, " ");

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function span(parent, text, cls) {
    const s = document.createElement("span");
    s.textContent = text;
    if (cls) s.className = cls;
    parent.appendChild(s);
    return s;
  }

  function button(td, text, action, question, run) {
    const b = document.createElement("button");
    b.textContent = text;
    b.dataset.action = action;
    b.addEventListener("click", async () => {
      if (!window.confirm(question)) return;
      b.disabled = true;
      try { await run(); } finally { b.disabled = false; refresh(); }
    });
    td.appendChild(b);
    return b;
  }

  async function api(method, path, json) {
    const headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const before = Date.now();
    const response = await fetch(path, { method, headers, cache: "no-store", body: json === undefined ? undefined : JSON.stringify(json) });
    const date = Date.parse(response.headers.get("Date") || "");
    if (!Number.isNaN(date)) clock(date, before, Date.now());
    if (response.status === 401) {
      $("token").style.display = "block";
      throw new Error("the admin token is required or wrong");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.error) || (method + " " + path + ": HTTP " + response.status));
    return body;
  }

  async function act(method, path) {
    try { await api(method, path); $("error").textContent = ""; }
    catch (e) { $("error").textContent = e.message; }
  }

  // A sparkline of one series of a route's history over the whole window (a young history fills its right end).
  function sparkline(h, key, series, what) {
    const width = 120, height = 24;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark spark-" + series);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.dataset.series = series;
    const points = h ? h.points : [];
    svg.dataset.points = points.length;
    const base = document.createElementNS(SVG, "line");
    base.setAttribute("x1", 0); base.setAttribute("x2", width); base.setAttribute("y1", height - 1); base.setAttribute("y2", height - 1);
    svg.appendChild(base);
    const title = document.createElementNS(SVG, "title");
    svg.appendChild(title);
    if (points.length === 0) { title.textContent = what + ": no history yet"; return svg; }
    const values = points.map((p) => p[key]);
    const top = Math.max(...values);
    const end = Date.parse(points[points.length - 1].at);
    const start = end - h.window_seconds * 1000;
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map((p, i) => {
      const x = Math.max(0, (Date.parse(p.at) - start) / (end - start)) * (width - 2) + 1;
      const y = top > 0 ? height - 2 - (values[i] / top) * (height - 4) : height - 2;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
    svg.appendChild(line);
    const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
    title.textContent = what + " over the last " + age(Math.min(h.window_seconds * 1000, end - Date.parse(points[0].at))) + ": now " + fmt(values[values.length - 1]) + ", highest " + fmt(top);
    return svg;
  }

  function metric(row, text, h, key, series, what) {
    const td = cell(row, "", "metric");
    span(td, text, "value");
    td.appendChild(sparkline(h, key, series, what));
    return td;
  }

  function healthText(r) {
    const parts = [];
    if (["failed", "stopped", "paused", "starting", "restarting", "running"].includes(r.health)) {
      parts.push(label(r.health) + " for " + since(r.since));
    } else {
      parts.push(label(r.health));
    }
    const detail = [];
    if (r.breaker && r.breaker.state !== "closed") detail.push("breaker " + r.breaker.state + " for " + since(r.breaker.since) + " (" + r.breaker.probes + " probes)");
    if (r.health_detail) detail.push(...r.health_detail.split(", ").filter((d) => !d.startsWith("breaker ")));
    if (r.health === "failed") detail.push(r.cause + (r.next_restart ? "; restart in " + age(Date.parse(r.next_restart) - now()) : ""));
    if (r.waiting_for_budget) detail.push(r.waiting_for_budget.description + " for " + since(r.waiting_for_budget.since));
    return [parts.join(""), detail.join("; ")];
  }

  // The route's operations that make sense in its state: Pause or Resume, Stop or Start, Restart.
  function routeButtons(td, r) {
    const name = encodeURIComponent(r.route);
    const op = (a) => () => act("POST", "/api/v1/routes/" + name + "/" + a);
    const stopped = r.state === "stopped" || r.operator_stopped;
    const paused = r.state === "paused" || r.operator_paused;
    if (stopped) {
      button(td, "Start", "start", "Start route " + r.route + "? Its members join its group again and " + (paused ? "stay paused until resumed." : "deliver."), op("start"));
    } else {
      if (paused) button(td, "Resume", "resume", "Resume route " + r.route + "? Its members fetch and deliver again.", op("resume"));
      else button(td, "Pause", "pause", "Pause route " + r.route + "? Its members stay in group " + r.group + " but fetch and deliver nothing until resumed.", op("pause"));
      button(td, "Stop", "stop", "Stop route " + r.route + "? Its members leave group " + r.group + " (its partitions go to other members, if any) until it is started again.", op("stop"));
      button(td, "Restart", "restart", "Restart route " + r.route + "? Its members leave group " + r.group + " and join it again.", op("restart"));
    }
    const rb = document.createElement("button");
    rb.textContent = "Replay\u2026";
    rb.dataset.action = "replay";
    rb.addEventListener("click", () => openReplay(r.route));
    td.appendChild(rb);
  }

  function renderRoutes(listing) {
    const body = $("routes").tBodies[0];
    body.replaceChildren();
    for (const r of listing.routes) {
      const row = body.insertRow();
      row.dataset.route = r.route;
      row.dataset.health = r.health;
      cell(row, r.route);
      const [text, detail] = healthText(r);
      const breakerOpen = r.breaker && r.breaker.state !== "closed";
      const health = cell(row, "", "state health health-" + r.health + (breakerOpen ? " breaker-open" : ""));
      span(health, text, "word");
      if (detail) span(health, detail, "detail");
      cell(row, r.topic);
      cell(row, r.group);
      const h = history.get(r.route);
      const last = h && h.points.length ? h.points[h.points.length - 1] : null;
      metric(row, String(r.delivered_per_second), h, "delivered_per_second", "delivered", "delivered/s");
      metric(row, last ? String(last.failed_per_second) : "0", h, "failed_per_second", "failed", "failed attempts/s");
      metric(row, number(r.total_lag), h, "lag", "lag", "lag").classList.add("lag");
      cell(row, r.unfinished);
      cell(row, r.blocked);
      cell(row, r.last_error ? (r.last_error_at ? since(r.last_error_at) + " ago: " : "") + r.last_error : "");
      routeButtons(cell(row, ""), r);
    }
    const last = listing.last_reload;
    $("reload").textContent = last
      ? "Last reload " + since(last.at) + " ago (" + last.trigger + "): " + (last.accepted ? "accepted" : "rejected: " + last.errors.join("; "))
        + ((last.in_progress || []).length ? "; in progress: " + last.in_progress.join("; ") : "")
      : "No reload since kcp started.";
    applyFilter();
  }

  function renderAbout(listing) {
    $("version").textContent = listing.version ? "version " + listing.version : "";
    const instance = listing.instance ? "instance " + listing.instance : (listing.host_name ? "instance " + listing.host_name + " (pid " + listing.pid + ")" : "");
    $("instance").textContent = instance;
    $("instance").title = listing.service_instance_id ? "service.instance.id " + listing.service_instance_id : "";
    document.title = "kcp" + (listing.instance || listing.host_name ? " \u2014 " + (listing.instance || listing.host_name) : "");
  }

  // Why the message failed, for every outcome: the reason kcp wrote (status, timeout, connection error, rejected body,
  // endpoint action...), the body excerpt when there was one, its age, attempts and when the next attempt is due.
  function failingText(f, p, breakerOpen) {
    const covered = f.offsets && f.offsets.length > 1 ? "offsets " + f.offsets.join(", ") + " (one batch)" : "offset " + f.offset;
    const lines = [covered + (f.key !== null && f.key !== undefined ? ", key " + f.key : "") + ": " + (p.health === "blocked" ? "blocked" : "failing") + " for " + since(f.failing_since) + ", " + f.attempts + " attempt" + (f.attempts === 1 ? "" : "s")];
    // A reason that starts with the outcome's word (most do: "rejected_body from ...") is shown as it is.
    const label = outcome(f.last_outcome), reason = String(f.last_reason ?? "");
    lines.push("last: " + (reason.startsWith(label + " ") || reason.startsWith(label + ",") ? reason : label + " \u2014 " + reason));
    if (f.last_body) lines.push("body: " + f.last_body);
    if (breakerOpen) lines.push("next attempt: when the circuit breaker lets a probe through");
    else if (f.next_attempt_at) {
      const wait = Date.parse(f.next_attempt_at) - now();
      lines.push(wait > 500 ? "next attempt in " + age(wait + 999) : "next attempt: now");
    } else lines.push("next attempt: being made now");
    return lines.join("\n");
  }

  function renderPartitions(details) {
    const body = $("partitions").tBodies[0];
    body.replaceChildren();
    for (const r of details) {
      const breakerOpen = r.breaker && r.breaker.state !== "closed";
      for (const p of r.partitions || []) {
        const row = body.insertRow();
        row.dataset.route = r.route;
        row.dataset.partition = p.partition;
        row.dataset.instance = p.instance || "";
        row.dataset.health = p.health;
        row.dataset.key = r.route + "/" + p.partition + " " + p.topic + "/" + p.partition;
        cell(row, r.route);
        cell(row, p.partition);
        cell(row, (p.instance || "") + (p.instance && p.instance === r.instance ? " (this kcp)" : ""), "owner");
        cell(row, p.member);
        cell(row, number(p.next_offset));
        cell(row, number(p.committed_offset) + (p.waiting_for_commit ? " (waiting for commit: " + p.uncommitted + " uncommitted)" : ""));
        cell(row, number(p.high_watermark));
        cell(row, number(p.lag), "lag");
        cell(row, p.unfinished);
        cell(row, p.oldest_unfinished_offset >= 0 && p.oldest_unfinished_since ? "offset " + p.oldest_unfinished_offset + " for " + since(p.oldest_unfinished_since) : "-", "oldest");
        const f = p.failing;
        const info = cell(row, "", f ? "failing partition-health-" + p.health : "");
        const td = cell(row, "");
        if (!f) continue;
        row.classList.add("failing");
        if (p.health === "blocked") row.classList.add("blocked");
        const pre = document.createElement("pre");
        pre.textContent = failingText(f, p, breakerOpen);
        info.appendChild(pre);
        const base = "/api/v1/routes/" + encodeURIComponent(r.route) + "/partitions/" + p.partition + "/";
        const batch = f.offsets && f.offsets.length > 1;
        const covered = batch ? "offsets " + f.offsets.join(", ") + " (one batch)" : "offset " + f.offset;
        button(td, "Skip", "skip", "Skip " + covered + " of " + r.route + " partition " + p.partition + "? " + (batch ? "They" : "It") + " will not be delivered.",
          () => act("POST", base + "skip?offset=" + f.offset));
        button(td, "Retry now", "retry now", "Retry offset " + f.offset + " of " + r.route + " partition " + p.partition + " now?",
          () => act("POST", base + "retry?offset=" + f.offset));
      }
    }
    applyFilter();
  }

  function renderSettings(details) {
    const body = $("settings").tBodies[0];
    body.replaceChildren();
    for (const r of details) {
      const s = r.settings;
      if (!s) continue;
      const row = body.insertRow();
      row.dataset.route = r.route;
      cell(row, r.route);
      cell(row, s.endpoint.join(", ") + " (response_check: " + s.response_check + ")", "endpoint");
      cell(row, s.mode + " (" + s.mode_name + ")", "mode");
      cell(row, s.delivery);
      cell(row, s.concurrency, "concurrency");
      cell(row, s.skip_policy, "skip-policy");
      cell(row, s.dead_letter_topic || "none", "dead-letter");
      cell(row, s.retry + "; timeouts: connect " + s.conn_timeout_ms + " ms, answer " + s.exec_timeout_ms + " ms");
      cell(row, s.breaker);
      cell(row, (s.auth || "none") + (s.headers.length ? "; headers " + s.headers.join(", ") : ""), "auth");
      cell(row, s.source_file);
    }
    applyFilter();
  }

  function renderSkipped(records) {
    const body = $("skipped").tBodies[0];
    body.replaceChildren();
    for (const s of records.slice().reverse()) {
      const row = body.insertRow();
      row.dataset.route = s.route;
      row.dataset.offset = s.offset;
      cell(row, since(s.time) + " ago").title = s.time;
      cell(row, s.route); cell(row, s.partition); cell(row, s.offset);
      cell(row, s.attempts); cell(row, s.manual ? "yes" : "no"); cell(row, s.by || ""); cell(row, s.last_failure);
    }
    applyFilter();
  }

  // Hides the rows of every table that do not hold each word of the filter: a route, topic, group, health word, owner,
  // text of a failure, or a partition as route/partition or topic/partition ("orders/3").
  function applyFilter() {
    const words = $("filter").value.trim().toLowerCase().split(/\s+/).filter((w) => w);
    let shown = 0, all = 0;
    for (const id of ["routes", "partitions", "settings", "skipped"]) {
      for (const row of $(id).tBodies[0].rows) {
        const text = (row.textContent + " " + (row.dataset.health || "") + " " + (row.dataset.key || "")).toLowerCase();
        const match = words.every((w) => text.includes(w));
        row.classList.toggle("filtered", !match);
        if (id === "routes" || id === "partitions") { all++; if (match) shown++; }
      }
    }
    $("filter-count").textContent = words.length ? "showing " + shown + " of " + all + " routes and partitions" : "";
  }
  $("filter").addEventListener("input", applyFilter);

  async function loadHistory(routes) {
    await Promise.all(routes.map(async (r) => {
      const h = history.get(r.route);
      if (h && Date.now() - h.fetched < HISTORY_EVERY_MS) return;
      try {
        const answer = await api("GET", "/api/v1/routes/" + encodeURIComponent(r.route) + "/history");
        answer.fetched = Date.now();
        history.set(r.route, answer);
      } catch (e) {
        // Shown without sparklines: a kcp without the history answers 404.
      }
    }));
    for (const name of [...history.keys()]) {
      if (!routes.some((r) => r.route === name)) history.delete(name);
    }
  }

  // The "Replay…" dialog: POST /api/v1/routes/{route}/replays, then its status every second until it ends.
  let replay = null;
  function openReplay(route) {
    replay = { route, id: null };
    $("replay-route").textContent = route;
    $("replay-message").textContent = "";
    $("replay-progress").textContent = "";
    $("replay-start").disabled = false;
    $("replay-cancel").disabled = true;
    $("replay-dialog").showModal();
  }

  function replayBody() {
    const value = (id) => $(id).value.trim();
    const number = (id) => value(id) === "" ? undefined : Number(value(id));
    const body = { dry_run: $("replay-dry-run").checked };
    const partitions = value("replay-partitions");
    if (partitions) body.partitions = partitions.split(",").map((p) => Number(p.trim()));
    if (value("replay-from-offset")) body.from_offset = number("replay-from-offset");
    if (value("replay-from-time")) body.from_time = value("replay-from-time");
    if (value("replay-to-offset")) body.to_offset = number("replay-to-offset");
    if (value("replay-to-time")) body.to_time = value("replay-to-time");
    if (value("replay-endpoint")) body.endpoint = value("replay-endpoint");
    if (value("replay-rate")) body.rate = number("replay-rate");
    return body;
  }

  function showReplay(s) {
    const done = s.partitions.reduce((n, p) => n + (p.next - p.start), 0);
    $("replay-progress").textContent = "replay " + s.id + " " + s.state + ": " + done + "/" + s.total + " offsets, " + s.sent + " sent, " + s.accepted + " accepted, "
      + s.failed + " failed, " + s.skipped + " skipped" + (s.error ? "; " + s.error : "")
      + (s.state === "cancelled" ? "; resume at " + s.partitions.filter((p) => p.next < p.end).map((p) => "partition " + p.partition + " offset " + p.next).join(", ") : "");
    $("replay-progress").dataset.state = s.state;
    $("replay-cancel").disabled = s.state !== "running";
  }

  async function watchReplay() {
    while (replay && replay.id) {
      const current = replay;
      try {
        const s = await api("GET", "/api/v1/routes/" + encodeURIComponent(current.route) + "/replays/" + current.id);
        showReplay(s);
        if (s.state !== "running") return;
      } catch (e) { $("replay-message").textContent = e.message; return; }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  $("replay-start").addEventListener("click", async () => {
    $("replay-start").disabled = true;
    try {
      const s = await api("POST", "/api/v1/routes/" + encodeURIComponent(replay.route) + "/replays", replayBody());
      replay.id = s.id;
      $("replay-message").textContent = "";
      showReplay(s);
      watchReplay();
    } catch (e) {
      $("replay-message").textContent = e.message;
      $("replay-start").disabled = false;
    }
  });
  $("replay-cancel").addEventListener("click", async () => {
    if (!replay || !replay.id) return;
    try { showReplay(await api("DELETE", "/api/v1/routes/" + encodeURIComponent(replay.route) + "/replays/" + replay.id)); }
    catch (e) { $("replay-message").textContent = e.message; }
  });
  $("replay-close").addEventListener("click", () => { replay = null; $("replay-dialog").close(); });

  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      if (tokenRequired && !token) { $("token").style.display = "block"; return; }
      const listing = await api("GET", "/api/v1/routes");
      renderAbout(listing);
      await loadHistory(listing.routes);
      renderRoutes(listing);
      const details = await Promise.all(listing.routes.map((r) => api("GET", "/api/v1/routes/" + encodeURIComponent(r.route))));
      renderPartitions(details);
      renderSettings(details);
      const unavailable = listing.fleet_unavailable || details.map((d) => d.fleet_unavailable).find((u) => u);
      $("fleet").textContent = unavailable ? "fleet view unavailable: " + unavailable + " (only this kcp's partitions are shown)" : "";
      renderSkipped(await api("GET", "/api/v1/skipped?limit=20"));
      $("error").textContent = "";
      $("updated").textContent = "Updated " + new Date(now()).toISOString().replace(/\.\d+Z$/, "Z");
      document.body.dataset.loaded = "true";
    } catch (e) {
      $("error").textContent = e.message;
    } finally {
      busy = false;
    }
  }

  $("token-save").addEventListener("click", () => {
    token = $("token-input").value.trim();
    sessionStorage.setItem("kcp-token", token);
    $("token").style.display = "none";
    refresh();
  });

  fetch("/dashboard/config.json").then((r) => r.json()).then((c) => { tokenRequired = c.token_required; }).catch(() => {}).finally(() => {
    refresh();
    setInterval(refresh, 2000);
  });
})();
