"use strict";
// The kcp dashboard: reads /api/v1 every 2 s; actions ask for confirmation first.
(function () {
  let token = sessionStorage.getItem("kcp-token") || "";
  let tokenRequired = false;
  const $ = (id) => document.getElementById(id);

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function button(td, label, question, action) {
    const b = document.createElement("button");
    b.textContent = label;
    b.dataset.action = label.toLowerCase();
    b.addEventListener("click", async () => {
      if (!window.confirm(question)) return;
      b.disabled = true;
      try { await action(); } finally { b.disabled = false; refresh(); }
    });
    td.appendChild(b);
  }

  async function api(method, path, json) {
    const headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, cache: "no-store", body: json === undefined ? undefined : JSON.stringify(json) });
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

  function renderRoutes(listing) {
    const body = $("routes").tBodies[0];
    body.replaceChildren();
    for (const r of listing.routes) {
      const row = body.insertRow();
      row.dataset.route = r.route;
      cell(row, r.route);
      const breaker = r.breaker && r.breaker.state !== "closed" ? ", breaker " + r.breaker.state + " since " + r.breaker.since + " (" + r.breaker.probes + " probes)" : "";
      cell(row, r.state + breaker + (r.waiting_for_budget ? ", " + r.waiting_for_budget.description + " since " + r.waiting_for_budget.since : ""), "state state-" + r.state + (breaker ? " breaker-open" : ""));
      cell(row, r.topic);
      cell(row, r.group);
      cell(row, r.delivered_per_second);
      cell(row, r.total_lag, "lag");
      cell(row, r.in_flight);
      cell(row, r.blocked);
      cell(row, r.last_error);
      const td = cell(row, "");
      const name = encodeURIComponent(r.route);
      for (const a of ["Pause", "Resume", "Restart"]) {
        button(td, a, a + " route " + r.route + "?", () => act("POST", "/api/v1/routes/" + name + "/" + a.toLowerCase()));
      }
      const rb = document.createElement("button");
      rb.textContent = "Replay\u2026";
      rb.dataset.action = "replay";
      rb.addEventListener("click", () => openReplay(r.route));
      td.appendChild(rb);
    }
    const last = listing.last_reload;
    $("reload").textContent = last
      ? "Last reload " + last.at + " (" + last.trigger + "): " + (last.accepted ? "accepted" : "rejected: " + last.errors.join("; "))
        + ((last.in_progress || []).length ? "; in progress: " + last.in_progress.join("; ") : "")
      : "No reload since kcp started.";
  }

  function renderPartitions(details) {
    const body = $("partitions").tBodies[0];
    body.replaceChildren();
    for (const r of details) {
      for (const p of r.partitions || []) {
        const row = body.insertRow();
        row.dataset.route = r.route;
        row.dataset.partition = p.partition;
        row.dataset.instance = p.instance || "";
        cell(row, r.route);
        cell(row, p.partition);
        cell(row, (p.instance || "") + (p.instance && p.instance === r.instance ? " (this kcp)" : ""), "owner");
        cell(row, p.member);
        cell(row, p.next_offset);
        cell(row, p.committed_offset + (p.waiting_for_commit ? " (waiting for commit: " + p.uncommitted + " uncommitted)" : ""));
        cell(row, p.high_watermark);
        cell(row, p.lag, "lag");
        cell(row, p.in_flight);
        const f = p.failing;
        const info = cell(row, "", f ? "failing" : "");
        const td = cell(row, "");
        if (!f) continue;
        row.classList.add("failing");
        const pre = document.createElement("pre");
        pre.textContent = (f.offsets && f.offsets.length > 1 ? "offsets " + f.offsets.join(", ") : "offset " + f.offset) + (f.key !== null ? ", key " + f.key : "") + ", " + f.attempts + " attempts since " + f.failing_since +
          "\nlast: " + f.last_outcome + (f.last_status ? " (HTTP " + f.last_status + ")" : "") +
          (f.last_body ? "\nbody: " + f.last_body : "");
        info.appendChild(pre);
        const base = "/api/v1/routes/" + encodeURIComponent(r.route) + "/partitions/" + p.partition + "/";
        const covered = f.offsets && f.offsets.length > 1 ? "offsets " + f.offsets.join(", ") + " (one batch)" : "offset " + f.offset;
        button(td, "Skip", "Skip " + covered + " of " + r.route + " partition " + p.partition + "? " + (f.offsets && f.offsets.length > 1 ? "They" : "It") + " will not be delivered.",
          () => act("POST", base + "skip?offset=" + f.offset));
        button(td, "Retry now", "Retry offset " + f.offset + " of " + r.route + " partition " + p.partition + " now?",
          () => act("POST", base + "retry?offset=" + f.offset));
      }
    }
  }

  function renderSkipped(records) {
    const body = $("skipped").tBodies[0];
    body.replaceChildren();
    for (const s of records.slice().reverse()) {
      const row = body.insertRow();
      row.dataset.route = s.route;
      row.dataset.offset = s.offset;
      cell(row, s.time); cell(row, s.route); cell(row, s.partition); cell(row, s.offset);
      cell(row, s.attempts); cell(row, s.manual ? "yes" : "no"); cell(row, s.by || ""); cell(row, s.last_failure);
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
      renderRoutes(listing);
      const details = await Promise.all(listing.routes.map((r) => api("GET", "/api/v1/routes/" + encodeURIComponent(r.route))));
      renderPartitions(details);
      const unavailable = listing.fleet_unavailable || details.map((d) => d.fleet_unavailable).find((u) => u);
      $("fleet").textContent = unavailable ? "fleet view unavailable: " + unavailable + " (only this kcp's partitions are shown)" : "";
      renderSkipped(await api("GET", "/api/v1/skipped?limit=20"));
      $("error").textContent = "";
      $("updated").textContent = "Updated " + new Date().toISOString();
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
