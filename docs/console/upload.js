// The upload view: drag and drop (or the file picker, for keyboards), one
// resumable tus upload per file with its progress bar, pause and resume.

import { formatBytes } from "./api.js";
import { $, el, notify } from "./dom.js";
import { ResumableUpload } from "./tus.js";

export class UploadView {
  constructor(onUploaded) {
    this.onUploaded = onUploaded;
    const zone = $("#drop-zone");
    const input = $("#upload-input");
    input.addEventListener("change", () => {
      this.addFiles(input.files);
      input.value = "";
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      this.addFiles(e.dataTransfer.files);
    });
  }

  async load() {}

  addFiles(files) {
    for (const file of files) this.add(file);
  }

  add(file) {
    const progress = el("progress", { max: 100, value: 0, "aria-label": "Progress of " + file.name });
    const percent = el("span", { class: "percent" }, "0 %");
    const status = el("span", { class: "status", role: "status" }, "Starting…");
    const pause = el("button", { type: "button" }, "Pause");
    const item = el("li", { class: "upload" },
      el("div", { class: "upload-head" }, el("span", { class: "name" }, file.name), " ", el("span", { class: "size" }, formatBytes(file.size))),
      el("div", { class: "upload-bar" }, progress, percent, pause),
      status);
    $("#uploads").prepend(item);
    if (file.size === 0) {
      status.textContent = "Empty files cannot be uploaded.";
      item.dataset.state = "failed";
      pause.remove();
      return;
    }

    const metadata = { category: $("#upload-category").value, expires_in: $("#upload-expires").value || undefined };
    const upload = new ResumableUpload(file, {
      metadata,
      onProgress: (sent, total) => {
        const p = Math.floor((100 * sent) / total);
        progress.value = p;
        percent.textContent = p + " %";
      },
      onStatus: (text) => { status.textContent = text; },
    });
    const run = async () => {
      item.dataset.state = "uploading";
      pause.textContent = "Pause";
      status.textContent = "Uploading…";
      try {
        const result = await upload.start();
        progress.value = 100;
        percent.textContent = "100 %";
        item.dataset.state = "done";
        status.textContent = "Uploaded as " + (result.file ? result.file.object_name : file.name) + ".";
        pause.remove();
        notify(`Uploaded ${file.name}.`);
        this.onUploaded();
      } catch (e) {
        if (e.paused) {
          item.dataset.state = "paused";
          pause.textContent = "Resume";
          return;
        }
        item.dataset.state = "failed";
        status.textContent = "Failed: " + e.message;
        pause.textContent = "Retry";
      }
    };
    pause.addEventListener("click", () => {
      if (item.dataset.state === "uploading") upload.pause();
      else run();
    });
    run();
  }
}
