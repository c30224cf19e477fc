// The links view (the caller's unexpired download links, revocable) and the
// usage view (a gauge against the quota with its 80/95/100 % thresholds, and
// storage by category).

import { get, del, segment, formatBytes, formatDate } from "./api.js";
import { $, el, row, fill, notify, reportError } from "./dom.js";
import { doughnutChart } from "./charts.js";

export class LinksView {
  constructor() {
    this.table = $("#links-table");
  }

  async load() {
    const { links } = await get("/api/v1/storage/links");
    // A link names its file by key; show the name the user gave the file.
    // Four at a time: a user may hold hundreds of links, and the API
    // workers serve everyone else too.
    const keys = [...new Set(links.map((l) => l.object_key))];
    const names = new Map();
    const lookUp = async () => {
      for (let key = keys.pop(); key !== undefined; key = keys.pop()) {
        try {
          names.set(key, (await get(`/api/v1/storage/objects/${segment(key)}/metadata`)).original_filename);
        } catch {
          names.set(key, key.split("/").pop());
        }
      }
    };
    await Promise.all([lookUp(), lookUp(), lookUp(), lookUp()]);
    fill(this.table, links.map((link) => {
      const name = names.get(link.object_key);
      return row(this.table, [
        name,
        link.type,
        formatDate(link.created_at),
        formatDate(link.expires_at),
        el("button", { type: "button", class: "danger", "aria-label": "Revoke link to " + name, onclick: () => this.revoke(link) }, "Revoke"),
      ]);
    }), $("#links-empty"));
  }

  async revoke(link) {
    try {
      await del(`/api/v1/storage/links/${segment(link.id)}`);
      await this.load();
      notify("Link revoked: it no longer works.");
    } catch (e) {
      reportError(e);
    }
  }
}

const CATEGORY_NAMES = { general: "General", data_source: "Data source", profile_image: "Profile image" };

export class UsageView {
  async load() {
    const [usage, quota] = await Promise.all([get("/api/v1/storage/usage"), get("/api/v1/storage/quota")]);
    const percent = Number(usage.percent_used) || 0;
    const meter = $("#usage-meter");
    meter.value = Math.min(100, percent);
    meter.textContent = percent.toFixed(1) + " %";
    $("#usage-label").textContent = `Storage used: ${percent.toFixed(1)} % of ${formatBytes(usage.quota_bytes)}`;
    for (const li of document.querySelectorAll(".thresholds li")) {
      const crossed = percent >= Number(li.dataset.threshold);
      li.classList.toggle("crossed", crossed);
      li.setAttribute("aria-label", `${li.dataset.threshold} %: ${crossed ? "reached" : "not reached"}`);
    }

    const figures = [
      ["Plan", quota.plan],
      ["Organization used", formatBytes(usage.used_bytes)],
      ["Uploads in progress", formatBytes(usage.reserved_bytes)],
      ["Available", formatBytes(usage.available_bytes)],
      ["Files", usage.file_count],
      ["Yours", `${formatBytes(usage.user_used_bytes)} in ${usage.user_file_count} files`],
      ["Largest file allowed", formatBytes(quota.max_file_size_bytes)],
    ];
    if (quota.member_quota_bytes !== undefined && quota.member_quota_bytes !== null) {
      figures.push(["Your quota in the organization", formatBytes(quota.member_quota_bytes)]);
    }
    $("#usage-figures").replaceChildren(...figures.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

    const table = $("#category-table");
    const categories = Object.entries(usage.by_category || {});
    fill(table, categories.map(([name, c]) => row(table, [CATEGORY_NAMES[name] || name, c.files, formatBytes(c.bytes)])));
    try {
      doughnutChart($("#category-chart"), categories.map(([n]) => CATEGORY_NAMES[n] || n), categories.map(([, c]) => c.bytes), "Bytes");
    } catch (e) {
      reportError(e);
    }
  }
}
