// A tus 1.0.0 client for the console's uploads (creation, core PATCH,
// checksum). An upload's URL is remembered in localStorage by the file's
// fingerprint, so dropping the same file again after a lost connection or a
// closed tab resumes at the server's offset instead of starting over. The URL
// alone grants nothing: every request also needs the Bearer token.

import { token, claims, APIError } from "./api.js";

const UPLOADS = "/api/v1/storage/uploads";
const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

function fingerprint(file) {
  const who = (claims() || {}).sub || "";
  return ["depot.tus", who, file.name, file.size, file.lastModified].join(":");
}

function encodeMetadata(metadata) {
  return Object.entries(metadata)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => k + " " + btoa(String.fromCharCode(...new TextEncoder().encode(String(v)))))
    .join(",");
}

async function checksum(blob) {
  if (!(globalThis.crypto && crypto.subtle)) return null; // not a secure context
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  return "sha256 " + btoa(String.fromCharCode(...digest));
}

function tusHeaders(extra = {}) {
  return { "Tus-Resumable": "1.0.0", Authorization: "Bearer " + token(), ...extra };
}

async function failure(response) {
  try {
    const body = await response.json();
    return new APIError(response.status, body.error.code, body.error.message);
  } catch {
    return new APIError(response.status, "http_" + response.status, "The upload was refused (" + response.status + ").");
  }
}

// Network trouble (worth retrying) versus a refusal from the server (not).
class ConnectionLost extends Error {}

export class ResumableUpload {
  constructor(file, { metadata = {}, chunkSize = 8 * 1024 * 1024, onProgress = () => {}, onStatus = () => {} } = {}) {
    this.file = file;
    this.metadata = { filename: file.name, filetype: file.type || undefined, ...metadata };
    this.chunkSize = chunkSize;
    this.onProgress = onProgress;
    this.onStatus = onStatus;
    this.url = null;
    this.offset = 0;
    this.paused = false;
    this.xhr = null;
  }

  pause() {
    this.paused = true;
    if (this.xhr) this.xhr.abort();
  }

  // Resolves with the upload's final JSON (`file` set) or rejects with an
  // APIError the user should see; a lost connection is retried with backoff.
  async start() {
    this.paused = false;
    let attempt = 0;
    for (;;) {
      try {
        await this.locate();
        await this.sendChunks();
        localStorage.removeItem(fingerprint(this.file));
        return await this.result();
      } catch (e) {
        if (this.paused) {
          this.onStatus("Paused at " + Math.round((100 * this.offset) / Math.max(1, this.file.size)) + " %.");
          throw Object.assign(new Error("paused"), { paused: true });
        }
        if (!(e instanceof ConnectionLost) || attempt >= RETRY_DELAYS.length) throw e;
        const delay = RETRY_DELAYS[attempt++];
        this.onStatus("Connection lost; retrying in " + Math.ceil(delay / 1000) + " s…");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async locate() {
    const remembered = this.url || localStorage.getItem(fingerprint(this.file));
    if (remembered) {
      const response = await this.fetch(remembered, { method: "HEAD", headers: tusHeaders() });
      if (response.ok) {
        this.url = remembered;
        this.offset = Number(response.headers.get("Upload-Offset"));
        if (this.offset > 0) this.onStatus("Resuming at " + Math.round((100 * this.offset) / Math.max(1, this.file.size)) + " %…");
        this.onProgress(this.offset, this.file.size);
        return;
      }
      if (response.status !== 404 && response.status !== 410) throw await failure(response);
      localStorage.removeItem(fingerprint(this.file)); // expired or removed: start over
      this.url = null;
    }
    const response = await this.fetch(UPLOADS, {
      method: "POST",
      headers: tusHeaders({ "Upload-Length": String(this.file.size), "Upload-Metadata": encodeMetadata(this.metadata) }),
    });
    if (response.status !== 201) throw await failure(response);
    this.url = new URL(response.headers.get("Location"), location.origin).pathname;
    this.offset = 0;
    localStorage.setItem(fingerprint(this.file), this.url);
  }

  async fetch(url, init) {
    try {
      return await fetch(url, { ...init, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    } catch {
      throw new ConnectionLost();
    }
  }

  async sendChunks() {
    while (this.offset < this.file.size) {
      const chunk = this.file.slice(this.offset, this.offset + this.chunkSize);
      const sum = await checksum(chunk);
      const headers = tusHeaders({ "Upload-Offset": String(this.offset), "Content-Type": "application/offset+octet-stream" });
      if (sum) headers["Upload-Checksum"] = sum;
      const answer = await this.patch(chunk, headers);
      this.offset = Number(answer.getResponseHeader("Upload-Offset"));
      this.fileID = answer.getResponseHeader("Depot-File-Id");
      this.onProgress(this.offset, this.file.size);
    }
  }

  patch(chunk, headers) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("PATCH", this.url);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => this.onProgress(this.offset + e.loaded, this.file.size);
      xhr.onload = () => {
        this.xhr = null;
        if (xhr.status === 204) return resolve(xhr);
        let error;
        try {
          const body = JSON.parse(xhr.responseText);
          error = new APIError(xhr.status, body.error.code, body.error.message);
        } catch {
          error = new APIError(xhr.status, "http_" + xhr.status, "The upload was refused (" + xhr.status + ").");
        }
        // 409: our offset is stale (another tab, or a lost acknowledgement):
        // ask the server again. 5xx: the server may come back.
        if (xhr.status === 409 || xhr.status >= 500) reject(new ConnectionLost());
        else reject(error);
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = () => {
        this.xhr = null;
        reject(new ConnectionLost());
      };
      xhr.send(chunk);
    });
  }

  async result() {
    const response = await this.fetch(this.url, { method: "GET", headers: { Authorization: "Bearer " + token() } });
    if (!response.ok) throw await failure(response);
    return response.json();
  }
}
