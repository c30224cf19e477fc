"""The OpenAPI document served by nginx matches what the server does."""
import os

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import Client

CONTRACT_ROUTES = {
    ("GET", "/api/v1/storage/buckets"),
    ("GET", "/api/v1/storage/buckets/{bucket}/objects"),
    ("GET", "/api/v1/storage/files"),
    ("POST", "/api/v1/storage/upload"),
    ("GET", "/api/v1/storage/objects/{object_name}/metadata"),
    ("GET", "/api/v1/storage/objects/{object_name}/presigned-url"),
    ("DELETE", "/api/v1/storage/objects/{object_name}"),
    ("GET", "/api/v1/storage/usage"),
    ("GET", "/api/v1/storage/quota"),
    ("POST", "/api/v1/storage/quota/recalculate"),
    ("GET", "/api/v1/storage/members"),
    ("POST", "/api/v1/console/sessions"),
    ("GET", "/api/v1/objects/download"),
    ("HEAD", "/api/v1/objects/download"),
    ("GET", "/api/v1/objects/storage-usage"),
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/storage/uploads"),
    ("HEAD", "/api/v1/storage/uploads/{upload_id}"),
    ("GET", "/api/v1/storage/uploads/{upload_id}"),
    ("PATCH", "/api/v1/storage/uploads/{upload_id}"),
    ("DELETE", "/api/v1/storage/uploads/{upload_id}"),
    ("POST", "/api/v1/storage/upload-urls"),
    ("DELETE", "/api/v1/storage/upload-urls/{link_id}"),
    ("POST", "/api/v1/storage/objects/{object_name}/shares"),
    ("GET", "/api/v1/storage/objects/{object_name}/shares"),
    ("DELETE", "/api/v1/storage/shares/{share_id}"),
    ("POST", "/api/v1/storage/objects/delete"),
    ("GET", "/api/v1/storage/workflows/{workflow_id}/files"),
    ("DELETE", "/api/v1/storage/workflows/{workflow_id}/runs/{run_id}"),
    ("GET", "/api/v1/storage/links"),
    ("DELETE", "/api/v1/storage/links/{link_id}"),
}


@pytest.fixture(scope="module")
def document(stack):
    return requests.get(stack.base_url + "/openapi.json", timeout=30).json()


def validator(document, schema_name):
    registry = Registry().with_resource("urn:depot", Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:depot#/components/schemas/{schema_name}"}, registry=registry)


def check(document, schema_name, body):
    errors = sorted(validator(document, schema_name).iter_errors(body), key=str)
    assert not errors, [e.message for e in errors]


def test_document_lists_every_contract_route(document):
    # Exactly the contract's routes, each with its method.
    found = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops
             if m in ("get", "post", "put", "delete", "head", "patch")}
    assert found == CONTRACT_ROUTES


def test_every_documented_route_is_served(stack, document):
    # No documented route is unknown to the server (never a routing 404 or 405).
    for method, path in CONTRACT_ROUTES:
        url = stack.base_url + path.replace("{bucket}", "depot").replace("{object_name}", "x.txt").replace(
            "{upload_id}", "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d").replace("{link_id}", "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d").replace(
            "{workflow_id}", "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d").replace("{run_id}", "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d")
        r = requests.request(method, url, timeout=30)
        assert r.status_code in (200, 400, 401, 404), (method, path, r.status_code)
        if r.status_code == 404 and method != "HEAD":
            assert "No route" not in r.text, (method, path)
        documented = document["paths"][path][method.lower()]["responses"]
        assert str(r.status_code) in documented, (method, path, r.status_code)


def test_responses_match_their_schemas(stack, document):
    # Real answers of each JSON route validate against the document's schemas.
    admin = Client(stack, role="admin")
    f = admin.upload("schema check.txt", b"hello schema").json()
    check(document, "File", f)
    check(document, "Quota", admin.get("/api/v1/storage/quota").json())
    check(document, "Usage", admin.get("/api/v1/storage/usage").json())
    check(document, "BucketList", admin.get("/api/v1/storage/buckets").json())
    check(document, "ObjectList", admin.get("/api/v1/storage/buckets/depot/objects").json())
    check(document, "FileList", admin.get("/api/v1/storage/files").json())
    check(document, "FileList", admin.get("/api/v1/storage/files",
                                          params={"scope": "organization", "shared_with": "organization"}).json())
    check(document, "MemberUsageList", admin.get("/api/v1/storage/members").json())
    check(document, "File", admin.get(f"/api/v1/storage/objects/{f['object_name']}/metadata").json())
    check(document, "PresignedUrl", admin.get(f"/api/v1/storage/objects/{f['object_name']}/presigned-url").json())
    check(document, "QuotaRecalculation", admin.post("/api/v1/storage/quota/recalculate").json())
    wf = admin.upload("wf.csv", b"1,2", workflow_id="6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d",
                      run_id="0b7e5c3a-1d2f-4e6a-8b9c-7d5e3f1a2b4c", direction="output", workflow_name="Nightly").json()
    check(document, "File", wf)
    check(document, "StorageUsage", admin.get("/api/v1/objects/storage-usage").json())
    check(document, "FileList", admin.get("/api/v1/storage/workflows/6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d/files").json())
    expiring = admin.upload("expiring.txt", b"e", expires_in="60").json()
    check(document, "File", expiring)
    check(document, "BulkDeleteResult", admin.post("/api/v1/storage/objects/delete",
                                                   json={"object_names": [expiring["object_name"], "gone.txt"]}).json())
    check(document, "RunDeletion", admin.delete(
        "/api/v1/storage/workflows/6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d/runs/0b7e5c3a-1d2f-4e6a-8b9c-7d5e3f1a2b4c").json())
    created = requests.post(admin.url("/api/v1/storage/uploads"), timeout=30, headers=dict(
        admin.headers, **{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": "filename YS50eHQ="}))
    upload = requests.get(created.headers["Location"], headers=admin.headers, timeout=30).json()
    check(document, "ResumableUpload", upload)
    requests.patch(created.headers["Location"], data=b"hello", timeout=30, headers=dict(
        admin.headers, **{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
    check(document, "ResumableUpload", requests.get(created.headers["Location"], headers=admin.headers, timeout=30).json())
    check(document, "DownloadLinkList", admin.get("/api/v1/storage/links").json())
    check(document, "UploadLink", admin.post("/api/v1/storage/upload-urls", json={"expires_in": 60}).json())
    check(document, "Health", requests.get(stack.base_url + "/api/v1/health", timeout=30).json())
    check(document, "Error", admin.get("/api/v1/storage/files", params={"page": 0}).json())
    check(document, "Error", requests.get(stack.base_url + "/api/v1/storage/quota", timeout=30).json())
