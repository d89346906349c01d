-- A database made by release b8f5dd8 (before schema migrations): its `create_all`
-- schema and one client, conversation, escalation and delivered alert. Made with
-- `git show b8f5dd8:bot/storage/models.py`, create_all and sqlite3's dump.
BEGIN TRANSACTION;
CREATE TABLE client_links (
	conversation_id VARCHAR(128) NOT NULL, 
	client_id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	linked_at DATETIME NOT NULL, 
	CONSTRAINT pk_client_links PRIMARY KEY (conversation_id), 
	CONSTRAINT fk_client_links_client_id_clients FOREIGN KEY(client_id) REFERENCES clients (id) ON DELETE CASCADE
);
INSERT INTO "client_links" VALUES('telegram-4242',1,'telegram','2026-12-02 10:00:00.000000');
CREATE TABLE clients (
	id INTEGER NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	treatment_date DATE NOT NULL, 
	treatment_kind VARCHAR(32) NOT NULL, 
	area VARCHAR(64), 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_clients PRIMARY KEY (id)
);
INSERT INTO "clients" VALUES(1,'Ana Example','2026-11-30','medical','face','2026-12-02 10:00:00.000000');
CREATE TABLE conversations (
	sender_id VARCHAR(128) NOT NULL, 
	treatment_date DATE, 
	treatment_kind VARCHAR(32), 
	date_source VARCHAR(32), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_conversations PRIMARY KEY (sender_id)
);
INSERT INTO "conversations" VALUES('telegram-4242','2026-11-30','medical','clinic','2026-12-02 10:00:00.000000','2026-12-02 10:00:00.000000');
CREATE TABLE escalation_photos (
	id INTEGER NOT NULL, 
	escalation_id INTEGER NOT NULL, 
	content_type VARCHAR(64) NOT NULL, 
	data BLOB NOT NULL, 
	caption TEXT, 
	source VARCHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_escalation_photos PRIMARY KEY (id), 
	CONSTRAINT fk_escalation_photos_escalation_id_escalations FOREIGN KEY(escalation_id) REFERENCES escalations (id) ON DELETE CASCADE
);
CREATE TABLE escalations (
	id INTEGER NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	client_name VARCHAR(128), 
	treatment_date DATE, 
	treatment_kind VARCHAR(32), 
	day INTEGER, 
	level VARCHAR(16) NOT NULL, 
	topic VARCHAR(64), 
	symptoms TEXT NOT NULL, 
	message TEXT, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	deadline_at DATETIME, 
	acknowledged_at DATETIME, 
	acknowledged_by VARCHAR(128), 
	resolved_at DATETIME, 
	realerted_at DATETIME, 
	CONSTRAINT pk_escalations PRIMARY KEY (id)
);
INSERT INTO "escalations" VALUES(1,'telegram-4242','Ana Example','2026-11-30','medical',2,'urgent','infection_signs','["infection_signs"]','yellow crust on my chin','open','2026-12-02 10:00:00.000000','2026-12-02 12:00:00.000000',NULL,NULL,NULL,NULL);
CREATE TABLE heartbeats (
	name VARCHAR(64) NOT NULL, 
	beat_at DATETIME NOT NULL, 
	CONSTRAINT pk_heartbeats PRIMARY KEY (name)
);
INSERT INTO "heartbeats" VALUES('notifier','2026-12-02 10:00:00.000000');
CREATE TABLE link_codes (
	id INTEGER NOT NULL, 
	client_id INTEGER NOT NULL, 
	code_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	used_at DATETIME, 
	used_by VARCHAR(128), 
	revoked_at DATETIME, 
	CONSTRAINT pk_link_codes PRIMARY KEY (id), 
	CONSTRAINT fk_link_codes_client_id_clients FOREIGN KEY(client_id) REFERENCES clients (id) ON DELETE CASCADE, 
	CONSTRAINT uq_link_codes_code_hash UNIQUE (code_hash)
);
INSERT INTO "link_codes" VALUES(1,1,'0000000000000000000000000000000000000000000000000000000000000000','2026-12-02 10:00:00.000000','2026-12-09 10:00:00.000000','2026-12-02 10:00:00.000000','telegram-4242',NULL);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	escalation_id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	purpose VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	lease_until DATETIME, 
	last_error TEXT, 
	created_at DATETIME NOT NULL, 
	delivered_at DATETIME, 
	CONSTRAINT pk_outbox PRIMARY KEY (id), 
	CONSTRAINT uq_outbox_delivery UNIQUE (escalation_id, channel, purpose), 
	CONSTRAINT fk_outbox_escalation_id_escalations FOREIGN KEY(escalation_id) REFERENCES escalations (id) ON DELETE CASCADE
);
INSERT INTO "outbox" VALUES(1,1,'telegram_staff','alert','delivered',1,'2026-12-02 10:00:00.000000',NULL,NULL,'2026-12-02 10:00:00.000000','2026-12-02 10:00:00.000000');
CREATE INDEX ix_escalations_sender_id ON escalations (sender_id);
CREATE INDEX ix_escalations_status ON escalations (status);
CREATE INDEX ix_link_codes_client_id ON link_codes (client_id);
CREATE INDEX ix_client_links_client_id ON client_links (client_id);
CREATE INDEX ix_escalation_photos_escalation_id ON escalation_photos (escalation_id);
CREATE INDEX ix_outbox_escalation_id ON outbox (escalation_id);
CREATE INDEX ix_outbox_status ON outbox (status);
COMMIT;
