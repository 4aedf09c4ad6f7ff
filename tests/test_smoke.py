def test_settings_roundtrip(admin_client):
    r = admin_client.get("/api/system/notification-settings")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["email_from_address"] == "noreply@hcm.local"
    r = admin_client.patch(
        "/api/system/notification-settings",
        {"slack_webhook_url": "https://hooks.slack.com/services/T0/B0/secretsecret", "slack_enabled": True},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert "secretsecret" not in r.content.decode()
    r = admin_client.put("/api/system/notification-settings/", {"bogus": 1}, format="json")
    assert r.status_code == 400
    print(r.json())
