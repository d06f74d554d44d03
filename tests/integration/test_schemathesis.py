# SPDX-License-Identifier: Apache-2.0 OR MIT
"""docs/openapi.yaml against the real server. The document must be valid OpenAPI 3.1, and
for every operation schemathesis generates requests (valid ones and invalid ones) whose
answers must match the document: no 5xx, a documented status, content type, headers and
body, invalid input refused and valid input accepted. Bounded: at most 100 generated
examples per operation, each request with a 10 s timeout, and one fresh server per
operation on a free loopback port."""
import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               negative_data_rejection,
                                               positive_data_acceptance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance,
                                               unsupported_method)

from conftest import ROOT, free_port

SPEC = ROOT / "docs" / "openapi.yaml"
MAX_EXAMPLES = 100

# What a documented answer must satisfy, whatever request led to it.
CONFORMANCE = [status_code_conformance, content_type_conformance, response_headers_conformance,
               response_schema_conformance]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance, unsupported_method]


def test_openapi_document_is_valid():
    spec, _ = read_from_filename(str(SPEC))
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    assert spec["openapi"].startswith("3.1.")
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("responses"), f"{method} {path} documents no response"
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
                assert spec["components"]["schemas"][ref]["additionalProperties"] is False, ref


schema = schemathesis.openapi.from_path(SPEC)
# The API key is sent by the test itself (see below), so no Authorization is generated.
# Header values are kept to valid HTTP field values: a control character in a header makes
# the request invalid HTTP, which h2o answers with a plain-text 400 before RateWatch sees
# it (docs/API.md says so); that is not this document's subject.
CONTROL_CHARACTERS = "".join(chr(c) for c in range(32) if c != 9) + "\x7f"
schema.config.generation.update(max_examples=MAX_EXAMPLES, with_security_parameters=False,
                                codec="ascii", exclude_header_characters=CONTROL_CHARACTERS)

# Byte bounds that JSON Schema cannot state (maxLength counts characters): over them, even a
# schema-valid value is refused with 400 invalid_field, as docs/API.md says.
BYTE_BOUNDS = {"key": 512, "user_id": 512, "reason": 200}


def over_byte_bounds(case):
    values = {}
    if isinstance(case.body, dict):
        values.update(case.body)
    if isinstance(case.query, dict):
        values.update(case.query)
    for name, bound in BYTE_BOUNDS.items():
        v = values.get(name)
        if isinstance(v, str) and len(v.encode("utf-8", "surrogatepass")) > bound:
            return True
    return False


@pytest.fixture
def server(start_ratewatch, tmp_path):
    """One server per operation: hypothesis runs every example of a test on it."""
    return start_ratewatch(env={"RATEWATCH_DATA_DIR": str(tmp_path)})


@schema.parametrize()
# Derandomized: CI replays the same examples every run; `make fuzz` is where inputs explore.
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case, server):
    rw = server
    headers = {"authorization": f"Bearer {rw.api_key}"}
    excluded = []
    if over_byte_bounds(case):
        excluded.append(positive_data_acceptance)
    response = case.call_and_validate(base_url=rw.url, headers=headers, checks=CHECKS,
                                      excluded_checks=excluded, timeout=10)
    if excluded:
        assert response.status_code == 400, response.text
        assert json.loads(response.content)["code"] == "invalid_field"


def conforms(label, response):
    """Validates an answer to a hand-made request against the operation `label`."""
    schema.find_operation_by_label(label).Case().validate_response(response, checks=CONFORMANCE)
    return response


BODY = {"key": "user:1", "limit": 2, "window": 60}


def test_documented_answers_to_hand_made_requests_conform(start_ratewatch, tmp_path):
    """Answers that generated requests do not reach: errors before the body, denials, the
    headers limit, and h2o's own 413."""
    rw = start_ratewatch(env={"RATEWATCH_DATA_DIR": str(tmp_path)})
    auth = {"authorization": f"Bearer {rw.api_key}"}
    bad_key = "rw_test_0123456789abcdef01234567_0123456789abcdef0123456789abcdef"
    too_many = {f"x-h{i}": "v" for i in range(70)}
    c = httpx.Client(base_url=rw.url, timeout=10)
    json_type = {"content-type": "application/json"}
    try:
        for _ in range(2):
            assert conforms("POST /v1/check", c.post("/v1/check", json=BODY, headers=auth)
                            ).json()["allowed"] is True
        denied = conforms("POST /v1/check", c.post("/v1/check", json=BODY, headers=auth))
        assert denied.json()["allowed"] is False and int(denied.headers["retry-after"]) >= 1
        never = conforms("POST /v1/check", c.post("/v1/check", json={**BODY, "cost": 3},
                                                   headers=auth))
        assert never.json()["retry_after"] is None and "retry-after" not in never.headers

        expected = [
            ("POST /v1/check", c.post("/v1/check", json=BODY), 401),
            ("POST /v1/check",
             c.post("/v1/check", json=BODY, headers={"authorization": f"Bearer {bad_key}"}), 401),
            ("POST /v1/check", c.post("/v1/check", content=json.dumps(BODY),
                                      headers={**auth, "content-type": "text/plain"}), 415),
            ("POST /v1/check", c.post("/v1/check", content=b" " * 9000,
                                      headers={**auth, **json_type}), 413),
            ("POST /v1/check", c.post("/v1/check", json=BODY, headers={**auth, **too_many}), 431),
            ("GET /health", c.get("/health", headers=too_many), 431),
            ("GET /v1/privacy/audit", c.get("/v1/privacy/audit"), 401),
            ("GET /v1/privacy/summary", c.get("/v1/privacy/summary", headers=auth), 400),
            ("POST /v1/privacy/delete", c.post("/v1/privacy/delete", content=b"{}",
                                               headers={**auth, "content-type": "text/csv"}), 415),
            ("POST /v1/privacy/delete", c.post("/v1/privacy/delete", content=b" " * 9000,
                                               headers={**auth, **json_type}), 413),
        ]
        for label, response, status in expected:
            assert response.status_code == status, (label, response.text)
            conforms(label, response)
        # Over 64 KiB, h2o answers first, in plain text.
        with httpx.Client(base_url=rw.url, timeout=10) as fresh:
            big = fresh.post("/v1/check", content=b"x" * (70 * 1024), headers=json_type)
        assert big.status_code == 413 and big.headers["content-type"].startswith("text/plain")
        conforms("POST /v1/check", big)
    finally:
        c.close()


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_degraded_answers_conform(start_ratewatch, mode):
    """With Redis unreachable (nothing listens on its port): the fail modes, readiness and
    the metrics token."""
    rw = start_ratewatch(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}",
                              "RATEWATCH_FAIL_MODE": mode,
                              "RATEWATCH_METRICS_TOKEN": "metrics-token-for-tests"})
    c = rw.client
    r = conforms("POST /v1/check", c.post("/v1/check", json=BODY))
    if mode == "open":
        assert r.status_code == 200 and r.json()["degraded"] is True
        assert r.headers["ratewatch-degraded"] == "store_unavailable"
    else:
        assert r.status_code == 503 and r.json()["code"] == "store_unavailable"
        assert r.headers["retry-after"] == "1"
    assert conforms("GET /health/ready", c.get("/health/ready")).status_code == 503
    assert conforms("GET /health/detailed", c.get("/health/detailed")).json()["status"] == \
        "degraded"
    assert conforms("GET /health", c.get("/health")).status_code == 200
    for label, response in [
        ("POST /v1/privacy/delete", c.post("/v1/privacy/delete", json={"user_id": "u"})),
        ("GET /v1/privacy/summary", c.get("/v1/privacy/summary", params={"user_id": "u"})),
    ]:
        assert response.status_code == 503, (label, response.text)
        conforms(label, response)
    no_token = httpx.get(rw.url + "/metrics", timeout=10)
    assert no_token.status_code == 401
    conforms("GET /metrics", no_token)
    ok = httpx.get(rw.url + "/metrics", timeout=10,
                   headers={"authorization": "Bearer metrics-token-for-tests"})
    assert ok.status_code == 200
    conforms("GET /metrics", ok)
