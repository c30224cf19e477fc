// The files view: a page of the caller's files (or those shared with them, or
// the organization's for admins) with search, filters, sorting and the
// actions each file allows its viewer: download, share, link, delete.

import { get, del, post, request, segment, claims, formatBytes, formatDate } from "./api.js";
import { $, el, row, fill, notify, reportError } from "./dom.js";

const PAGE_SIZE = 20;
// Larger files download through a short-lived signed link, so the browser
// streams them to disk instead of holding them in memory.
const BLOB_DOWNLOAD_LIMIT = 200 * 1024 * 1024;

export class FilesView {
  constructor() {
    this.page = 1;
    // Counts loads: an answer is shown only if no later load started.
    this.loads = 0;
    this.table = $("#files-table");
    this.form = $("#file-filters");
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.page = 1;
      this.load().catch(reportError);
    });
    for (const select of this.form.querySelectorAll("select")) {
      select.addEventListener("change", () => {
        this.page = 1;
        this.load().catch(reportError);
      });
    }
    $("#files-prev").addEventListener("click", () => this.turn(-1));
    $("#files-next").addEventListener("click", () => this.turn(1));
    this.shareDialog = new ShareDialog();
    this.linkDialog = new LinkDialog();
  }

  turn(step) {
    this.page = Math.max(1, this.page + step);
    this.load().catch(reportError);
  }

  reload() {
    return this.load().catch(reportError);
  }

  async load() {
    // Two quick changes (sort, then order) send two requests whose answers
    // may come back in either order: only the latest one is shown.
    const ticket = ++this.loads;
    const filters = Object.fromEntries(new FormData(this.form));
    const answer = await get("/api/v1/storage/files", { ...filters, page: this.page, page_size: PAGE_SIZE });
    if (ticket !== this.loads) return;
    const me = (claims() || {}).sub;
    fill(this.table, answer.files.map((file) => this.fileRow(file, file.owner_id === me)), $("#files-empty"));
    const { page, total_pages: pages, total } = answer.pagination;
    $("#files-page").textContent = `Page ${page} of ${Math.max(1, pages)} (${total} files)`;
    $("#files-prev").disabled = page <= 1;
    $("#files-next").disabled = page >= pages;
  }

  fileRow(file, own) {
    const name = el("span", { class: "name" }, file.original_filename);
    const badges = [];
    if (file.shared) badges.push(el("span", { class: "badge" }, own ? "shared" : "shared with you"));
    if (file.expires_at) badges.push(el("span", { class: "badge", title: "Deleted automatically" }, "expires " + formatDate(file.expires_at)));
    const label = file.original_filename;
    const actions = [el("button", { type: "button", "aria-label": "Download " + label, onclick: () => this.download(file, own) }, "Download")];
    if (own || this.isAdmin()) {
      actions.push(el("button", { type: "button", "aria-label": "Share " + label, onclick: () => this.shareDialog.open(file, own) }, "Share"));
    }
    if (own) {
      actions.push(el("button", { type: "button", "aria-label": "Link to " + label, onclick: () => this.linkDialog.open(file) }, "Link"));
      actions.push(el("button", { type: "button", class: "danger", "aria-label": "Delete " + label, onclick: () => this.remove(file) }, "Delete"));
    }
    return row(this.table, [
      [name, ...badges],
      formatBytes(file.size),
      file.category,
      formatDate(file.uploaded_at),
      el("div", { class: "actions" }, actions),
    ]);
  }

  isAdmin() {
    return (claims() || {}).role === "admin";
  }

  async download(file, own) {
    try {
      if (own && file.size > BLOB_DOWNLOAD_LIMIT) {
        const link = await get(`/api/v1/storage/objects/${segment(file.object_name)}/presigned-url`, { expires_in: 60 });
        el("a", { href: link.url, download: file.original_filename, rel: "noreferrer" }).click();
        return;
      }
      const response = await request("GET", "/api/v1/objects/download", { query: { objectKey: file.object_key }, raw: true });
      const url = URL.createObjectURL(await response.blob());
      el("a", { href: url, download: file.original_filename, rel: "noreferrer" }).click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      reportError(e);
    }
  }

  async remove(file) {
    if (!confirm(`Delete ${file.original_filename}? This cannot be undone.`)) return;
    try {
      await del(`/api/v1/storage/objects/${segment(file.object_name)}`);
      // The list without it first, so the notice never sits above its row.
      await this.load();
      notify(`Deleted ${file.original_filename}.`);
    } catch (e) {
      reportError(e);
    }
  }
}

class ShareDialog {
  constructor() {
    this.dialog = $("#share-dialog");
    this.form = $("#share-form");
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.share().catch(reportError);
    });
    $("#share-close").addEventListener("click", () => this.dialog.close());
  }

  async open(file, own) {
    this.file = file;
    // The owner names the file by its object name; an admin acting on another
    // member's file names it by its full key.
    this.path = `/api/v1/storage/objects/${segment(own ? file.object_name : file.object_key)}/shares`;
    $("#share-file").textContent = file.original_filename;
    this.form.reset();
    this.dialog.showModal();
    await this.list().catch(reportError);
  }

  async list() {
    const { shares } = await get(this.path);
    $("#share-list").replaceChildren(...shares.map((share) => {
      const who = share.shared_with.organization ? "The whole organization" : "Member " + share.shared_with.user_id;
      return el("li", {}, el("span", {}, who), " ",
        el("button", { type: "button", class: "danger", "aria-label": "Revoke share with " + who, onclick: () => this.revoke(share) }, "Revoke"));
    }));
    if (!shares.length) $("#share-list").replaceChildren(el("li", {}, "Not shared."));
  }

  async share() {
    const data = new FormData(this.form);
    const body = data.get("with") === "organization" ? { organization: true } : { user_id: String(data.get("user_id") || "").trim() };
    await post(this.path, body);
    notify(`Shared ${this.file.original_filename}.`);
    await this.list();
  }

  async revoke(share) {
    try {
      await del(`/api/v1/storage/shares/${segment(share.id)}`);
      notify("Share revoked.");
      await this.list();
    } catch (e) {
      reportError(e);
    }
  }
}

class LinkDialog {
  constructor() {
    this.dialog = $("#link-dialog");
    this.form = $("#link-form");
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.create().catch(reportError);
    });
    $("#link-copy").addEventListener("click", () => this.copy());
    $("#link-close").addEventListener("click", () => this.dialog.close());
  }

  open(file) {
    this.file = file;
    $("#link-file").textContent = file.original_filename;
    this.form.reset();
    $("#link-url").value = "";
    $("#link-copy").disabled = true;
    this.dialog.showModal();
  }

  async create() {
    const data = Object.fromEntries(new FormData(this.form));
    const link = await get(`/api/v1/storage/objects/${segment(this.file.object_name)}/presigned-url`, data);
    $("#link-url").value = link.url;
    $("#link-copy").disabled = false;
    $("#link-url").select();
    notify(`Link created; it expires ${formatDate(link.expires_at)}.`);
  }

  async copy() {
    try {
      await navigator.clipboard.writeText($("#link-url").value);
      notify("Link copied.");
    } catch {
      $("#link-url").select();
      notify("Press Ctrl+C to copy the selected link.");
    }
  }
}
