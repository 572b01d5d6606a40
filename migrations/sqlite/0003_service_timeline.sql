-- What happened to a service outside any alert: change events (deploys, config pushes).
CREATE TABLE service_timeline (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id     TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    integration_id TEXT,
    summary        TEXT    NOT NULL,
    detail         TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX service_timeline_service ON service_timeline (service_id, at);
