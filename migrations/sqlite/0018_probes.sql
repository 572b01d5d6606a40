-- Built-in probes (issue #9). Probes live in probes.toml; these tables hold what they
-- found. Instants are unix milliseconds, UTC.

-- One row per configured probe: its settled health, the streaks that move it (see
-- domain::probe), the newest result and when it runs next. `component` and `interval_ms`
-- copy the config at the newest run, so the status page can read which component a probe
-- holds and how long a silence is a monitoring gap without the probe config.
-- `cert_warned` is 1 while a TLS probe's expiry warning alert is open.
CREATE TABLE probe_state (
    probe_id TEXT PRIMARY KEY,
    component TEXT,
    interval_ms INTEGER NOT NULL,
    health TEXT NOT NULL DEFAULT 'up',
    failures INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    slow INTEGER NOT NULL DEFAULT 0,
    fast INTEGER NOT NULL DEFAULT 0,
    last_result TEXT,
    last_at INTEGER,
    last_latency_ms INTEGER,
    last_error TEXT,
    cert_not_after INTEGER,
    cert_warned INTEGER NOT NULL DEFAULT 0,
    next_due_at INTEGER NOT NULL
);

-- Every check run: what uptime and monitoring gaps are computed from. `result` is up,
-- slow or down.
CREATE TABLE probe_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    probe_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    result TEXT NOT NULL,
    latency_ms INTEGER,
    error TEXT
);
CREATE INDEX probe_runs_probe ON probe_runs (probe_id, at);
