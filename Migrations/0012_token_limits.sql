-- Tokens that end, and running commands on nodes as a right of its own.
-- expires_at: from then on the token is refused with a message that says it expired; NULL: never.
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
-- exec: may run any command on the nodes over SSH (`caulk exec`), which audits and repairs do not
-- need. Admin tokens always may; an operator token only when created with it. Operator tokens made
-- before this migration keep the right they had (`caulk tokens list` shows it; replace them to drop it).
ALTER TABLE tokens ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET exec = 1 WHERE role = 'operator';
