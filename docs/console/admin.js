// The organization view, for admins: usage per member and per workflow, the
// largest files, and the files shared with the whole organization.

import { get, formatBytes, formatDate } from "./api.js";
import { $, row, fill } from "./dom.js";
import { barChart } from "./charts.js";

export class AdminView {
  async load() {
    const [members, workflows, largest, orgShared] = await Promise.all([
      get("/api/v1/storage/members"),
      get("/api/v1/objects/storage-usage"),
      get("/api/v1/storage/files", { scope: "organization", sort: "size", order: "desc", page_size: 10 }),
      get("/api/v1/storage/files", { scope: "organization", shared_with: "organization", page_size: 50 }),
    ]);

    const table = $("#members-table");
    fill(table, members.members.map((m) => row(table, [m.user_id, m.file_count, formatBytes(m.used_bytes), formatBytes(m.reserved_bytes)])));
    const notes = [];
    if (members.member_quota_bytes !== null && members.member_quota_bytes !== undefined) {
      notes.push("Each member may use up to " + formatBytes(members.member_quota_bytes) + ".");
    }
    if (members.truncated) notes.push("Only the 100 largest members are listed.");
    $("#members-note").textContent = notes.join(" ");
    barChart($("#members-chart"), members.members.map((m) => m.user_id.slice(0, 8)), members.members.map((m) => m.used_bytes), "Bytes");

    const wt = $("#workflows-table");
    fill(wt, workflows.breakdown.map((w) => row(wt, [w.workflowName || w.workflowId, w.fileCount, formatBytes(w.bytes)])));

    for (const [selector, answer] of [["#largest-table", largest], ["#orgshared-table", orgShared]]) {
      const t = $(selector);
      fill(t, answer.files.map((f) => row(t, [f.original_filename, f.owner_id, formatBytes(f.size), formatDate(f.uploaded_at)])));
    }
  }
}
