"""OpenAPI schema and Swagger UI."""

import pytest


@pytest.mark.django_db
def test_schema_documents_auth(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"]["name"] == "X-Api-Key"
    assert schemes["ApiSecret"]["name"] == "X-Api-Secret"
    assert schemes["BasicAuth"]["scheme"] == "basic"


@pytest.mark.django_db
def test_swagger_ui_renders(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_schema_is_valid_openapi_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/payments" in out.read_text()
